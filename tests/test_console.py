"""A remote reply's input() and debuggers from a script: asked on the driver's terminal (here, a
script's stdin pipe), with every wait bounded and only token holders answering."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from raw import Raw, cli_server
from stream_agents import Asker, Breaks

import agentnb
from agentnb import Limits, Msg, RemoteError
from agentnb._core._events import Event
from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime._session import get_session

pytestmark = pytest.mark.timeout(120)
HERE = Path(__file__).resolve().parent


def script(body: str, stdin: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``body`` as a driver script (tests/ importable), typing ``stdin`` on its terminal."""
    code = f"import sys\nsys.path.insert(0, {str(HERE)!r})\nimport agentnb\nfrom agentnb import Msg\n{body}\n"
    code += "agentnb.shutdown()\n"
    return subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=90,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_input_in_a_remote_reply_asks_on_the_scripts_terminal() -> None:
    out = script(
        "from stream_agents import Asker\na = Asker(name='A').to_dist()\n"
        "print('reply:', a(Msg('u', 'hi')).content)",
        "Ada\n",
    )
    assert "[A] about to ask" in out.stdout and "[A] Your name? " in out.stdout, out.stderr
    assert "reply: Hello, Ada!" in out.stdout


def test_breakpoint_in_a_remote_reply_is_a_debugger_on_the_scripts_terminal() -> None:
    out = script(
        "from stream_agents import Stops\ns = Stops(name='S').to_dist()\n"
        "print('reply:', s(Msg('u', 'hi')).content)",
        "p text\nn\nl\nc\n",
    )
    assert "stopped at breakpoint()" in out.stdout, out.stderr
    assert "-> doubled = text * 2" in out.stdout and "'hi'" in out.stdout  # its line; p text
    assert "-> return Msg(self.name, doubled)" in out.stdout  # n: the next line
    assert "breakpoint()\n" in out.stdout and "->\t        return" in out.stdout  # l: its source
    assert "reply: hihi" in out.stdout


def test_quitting_the_debugger_stops_the_call() -> None:
    out = script(
        "from stream_agents import Stops\ns = Stops(name='S').to_dist()\n"
        "try:\n    s(Msg('u', 'hi')).content\n"
        "except agentnb.RemoteError as exc:\n    print('failed:', exc.exc_type)\n"
        "print('then:', s(Msg('u', 'ok')).name)",
        "q\nc\n",
    )
    assert "failed: BdbQuit" in out.stdout and "then: S" in out.stdout, out.stdout + out.stderr


def test_a_prompt_nobody_answers_reads_end_of_file_after_answer_wait() -> None:
    a = Asker(name="A").to_dist(limits=Limits(answer_wait=0.5))
    asked = threading.Event()
    unsubscribe = get_session().subscribe(lambda e: e.kind == "input" and asked.set())
    console = get_session().console
    console._in_cells = True  # a notebook with no cell waiting: nobody asks here
    try:
        with pytest.raises(RemoteError, match="EOFError"):
            a(Msg("u", "hi")).result(30)
        assert asked.is_set()
    finally:
        console._in_cells = False
        unsubscribe()


def test_cancelling_a_call_that_waits_for_input_stops_it() -> None:
    a = Asker(name="A").to_dist()
    asked = threading.Event()
    get_session().console._in_cells = True  # nobody asks here: the prompt waits
    unsubscribe = get_session().subscribe(lambda e: e.kind == "input" and asked.set())
    try:
        p = a(Msg("u", "hi"))
        assert asked.wait(30)
        assert p.cancel() is True
        with pytest.raises(agentnb.CallCancelledError, match="while it waited for an answer"):
            p.result(30)
    finally:
        get_session().console._in_cells = False
        unsubscribe()


def test_answers_and_debuggers_need_the_token_and_a_server_that_accepts_code() -> None:
    with cli_server("--token", "t0k", "--agent-class", "stream_agents:Breaks",
                    "--agent-kwargs", '{"name": "B"}') as server:  # fmt: skip
        b = Breaks(name="B").to_dist(*server.address.split(":"), launch_server=False, token="t0k")
        with pytest.raises(RemoteError) as failed:
            b(Msg("u", "x")).result(30)
        task = failed.value.task_id
        assert len(task) == 32  # the failure names its task: a debugger could ask for its frames
        raw = Raw(server.address, "t0k")
        answer = raw.call("PostMortem", pb.PostMortemRequest(task_id=task))
        assert answer.code == grpc.StatusCode.FAILED_PRECONDITION and "--allow-code" in answer.details
        nobody = Raw(server.address, "wrong").call("AnswerInput", pb.AnswerInputRequest(task_id=task))
        assert nobody.code == grpc.StatusCode.UNAUTHENTICATED
        missing = raw.call("AnswerInput", pb.AnswerInputRequest(task_id=task, prompt=3, text="x"))
        assert missing.code == grpc.StatusCode.NOT_FOUND and missing.reason == "no_prompt"
        raw.close()


def test_a_breakpoint_on_a_server_that_does_not_accept_code_is_skipped_and_says_why() -> None:
    with cli_server("--token", "t0k", "--agent-class", "stream_agents:Stops",
                    "--agent-kwargs", '{"name": "S"}') as server:  # fmt: skip
        lines: list[str] = []
        unsubscribe = get_session().subscribe(lambda e: e.kind == "output" and lines.append(e.text))
        try:
            from stream_agents import Stops

            s = Stops(name="S").to_dist(*server.address.split(":"), launch_server=False, token="t0k")
            assert s(Msg("u", "hi")).content == "hihi"
        finally:
            unsubscribe()
    assert any("breakpoint() skipped" in line and "--allow-code" in line for line in lines), lines


def test_post_mortem_of_a_call_whose_frames_are_not_kept_says_so() -> None:
    b = Breaks(name="B").to_dist(limits=Limits(failures_kept=1))
    first = b(Msg("u", "1"))
    second = b(Msg("u", "2"))
    for p in (first, second):
        with pytest.raises(RemoteError):
            p.result(30)
    assert b.link is not None
    raw = Raw(b.address, b.link.token)
    gone = raw.call("PostMortem", pb.PostMortemRequest(task_id=first._call.error.task_id))
    assert gone.code == grpc.StatusCode.NOT_FOUND and "last 1 failed calls" in gone.details
    raw.close()


def test_the_console_forgets_prompts_of_tasks_that_ended() -> None:
    console = get_session().console
    console._in_cells = True
    try:
        console(Event("input", "t" * 32, "A", "127.0.0.1:1", text="Name? ", preview="input", chunk=0))
        assert console._take("t" * 32) is not None
        console(Event("input", "t" * 32, "A", "127.0.0.1:1", text="Name? ", preview="input", chunk=1))
        console(Event("error", "t" * 32, "A", "127.0.0.1:1"))
        assert console._take() is None
    finally:
        console._in_cells = False


def test_shutdown_leaves_no_prompt_waiting() -> None:
    a = Asker(name="A").to_dist()
    asked = threading.Event()
    get_session().console._in_cells = True
    unsubscribe = get_session().subscribe(lambda e: e.kind == "input" and asked.set())
    try:
        p = a(Msg("u", "hi"))
        assert asked.wait(30)
        agentnb.shutdown()  # the server stops: its prompt reads end of file, the call fails
        with pytest.raises(agentnb.AgentnbError):
            p.result(30)
    finally:
        get_session().console._in_cells = False
        unsubscribe()
