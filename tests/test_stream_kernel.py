"""Streaming, input() and debuggers of remote replies, in a real Jupyter kernel with real servers.

The tests talk to the kernel as a frontend does (jupyter_client): they read
its iopub messages (the cell's outputs, displays and their updates) and
answer its stdin channel's ``input_request`` with ``kc.input(...)``, as
JupyterLab does when a user types into the prompt of a cell.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel import Cell, Kernel

pytestmark = pytest.mark.timeout(180)

SETUP = """
import socket, threading
import agentnb
from agentnb import Msg
from agentnb._runtime._session import get_session
from agents import Echo
from stream_agents import Asker, Breaks, Endless, GatedWords, Relay, Stops
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
"""


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    k.execute(SETUP)
    yield k
    k.shutdown(now=True)


def prompt(kernel: Kernel, timeout: float = 30) -> str:
    """The next ``input_request`` the kernel sends on its stdin channel: its prompt."""
    try:
        msg = kernel.kc.get_stdin_msg(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no input request within {timeout} s") from None
    assert msg["msg_type"] == "input_request"
    return str(msg["content"]["prompt"])


def displays(cell: Cell) -> list[tuple[str, str]]:
    """The cell's displays and their updates, in arrival order: (display id, text/plain)."""
    kinds = ("display_data", "update_display_data")
    return [
        (o["content"]["transient"]["display_id"], o["content"]["data"]["text/plain"])
        for o in cell.outputs
        if o["msg_type"] in kinds and "display_id" in o["content"].get("transient", {})
    ]


def wait_for(kernel: Kernel, predicate: Any, what: str, timeout: float = 30) -> None:
    """Wait (on the kernel harness's output condition) until ``predicate()`` holds."""
    with kernel._changed:
        assert kernel._changed.wait_for(predicate, timeout), f"{what} did not happen within {timeout} s"


def test_a_streaming_replys_pieces_grow_in_the_calling_cell_in_order_before_its_result(
    kernel: Kernel, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    kernel.execute(f"g = GatedWords(name='G', gate={str(gate)!r}).to_dist()")
    msg_id = kernel.submit("p = g(Msg('user', 'go'))\np.content")
    cell = kernel.wait_started(msg_id)
    wait_for(kernel, lambda: any("one two" in text for _, text in displays(cell)), "the first pieces")
    assert not any(o["msg_type"] == "execute_result" for o in cell.outputs)  # the reply waits at its gate
    gate.touch()
    done = kernel.wait_idle(msg_id)
    shown = displays(done)
    assert len({display for display, _ in shown}) == 1  # one display, updated in place
    texts = [text for _, text in shown]
    grown = [t.removeprefix("[G] ").removesuffix("▍") for t in texts]
    assert all(later.startswith(earlier) for earlier, later in zip(grown, grown[1:], strict=False))
    assert texts[-1] == "[G] one two three"  # done: the whole text, no cursor
    kinds = [o["msg_type"] for o in done.outputs]
    last_piece = max(i for i, kind in enumerate(kinds) if kind.endswith("display_data") and "three" in
                     done.outputs[i]["content"]["data"]["text/plain"])  # fmt: skip
    assert kinds.index("execute_result") > last_piece  # every piece was in the cell before the result
    assert done.value() == "'one two three'"


def test_a_streaming_placeholder_forwarded_to_another_server_is_read_piece_by_piece_there(
    kernel: Kernel, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    kernel.execute(
        f"g = GatedWords(name='G', gate={str(gate)!r}).to_dist()\nr = Relay(name='R').to_dist()\n"
        "e = Echo(name='E').to_dist()\nassert len({g.address, r.address, e.address}) == 3"
    )
    msg_id = kernel.submit(
        "made = g(None)\nrelayed, echoed = r(made), e(made)\nfor chunk in relayed.stream(timeout=60):\n"
        "    print('piece', chunk, 'producer done:', made.done(), flush=True)\n"
        "relayed.content, echoed.content"
    )
    cell = kernel.wait_started(msg_id)
    kernel.wait_for_output(cell, "piece TWO  producer done: False")  # on R's server, while G waits
    assert "piece ONE  producer done: False" in cell.stdout
    gate.touch()
    done = kernel.wait_idle(msg_id)
    assert "piece THREE" in done.stdout
    final, echoed = eval(done.value())
    assert final["final"] == "one two three" and final["early"] >= 2 and echoed == "one two three"
    # G's text grows in the cell (nobody here reads its pieces); R's does not: the program reads them
    assert {text.split("]")[0] for _, text in displays(done)} == {"[G"}


def test_cancelling_a_stream_mid_way_from_a_cell_stops_it(kernel: Kernel) -> None:
    kernel.execute("x = Endless(name='X').to_dist()")
    cell = kernel.execute(
        "p = x(None)\nseen = []\ntry:\n    for chunk in p.stream(timeout=30):\n        seen.append(chunk)\n"
        "        if len(seen) == 5:\n            print('cancelled:', p.cancel())\n"
        "except agentnb.CallCancelledError as exc:\n    print('stopped:', type(exc).__name__)\n"
        "len(seen), x(Msg('user', 'closed?')).content, p.state"
    )
    assert "cancelled: True" in cell.stdout and "stopped: CallCancelledError" in cell.stdout
    count, closed_after, state = eval(cell.value())
    assert count >= 5 and closed_after == count - 1 and state == "cancelled"


def test_input_in_a_remote_reply_is_answered_from_the_calling_cell(kernel: Kernel) -> None:
    kernel.execute("a = Asker(name='A').to_dist()")
    msg_id = kernel.submit("a(Msg('user', 'hi')).content")
    assert prompt(kernel) == "[A] Your name? "
    kernel.kc.input("Ada")
    done = kernel.wait_idle(msg_id)
    assert done.value() == "'Hello, Ada!'"
    kernel.wait_for_output(done, "[A] about to ask")


def test_a_prompt_while_no_cell_waits_says_so_and_the_next_waiting_cell_asks_it(kernel: Kernel) -> None:
    kernel.execute("a = Asker(name='A').to_dist()")
    first = kernel.execute("p = a(Msg('user', 'hi'))")
    kernel.wait_for_output(first, "waits for an answer (input); read its placeholder")
    msg_id = kernel.submit("p.content")
    assert prompt(kernel) == "[A] Your name? "
    kernel.kc.input("Bo")
    assert kernel.wait_idle(msg_id).value() == "'Hello, Bo!'"


STOPPED_WATCH = """
stopped = threading.Event()
get_session().subscribe(lambda ev: ev.kind == "input" and ev.agent == {agent!r} and stopped.set())
def other():
    assert stopped.wait(60)
    print("E answered while {agent} was stopped:", e(Msg("user", "ping")).content, flush=True)
threading.Thread(target=other, daemon=True).start()
"""


def test_breakpoint_in_a_remote_reply_takes_p_n_c_from_the_cell_while_another_agent_answers(
    kernel: Kernel,
) -> None:
    kernel.execute("s = Stops(name='S').to_dist(port=port)\ne = Echo(name='E').to_dist(port=port)")
    kernel.execute(STOPPED_WATCH.format(agent="S"))
    msg_id = kernel.submit("s(Msg('user', 'hi')).content")
    cell = kernel.wait_started(msg_id)
    assert prompt(kernel) == "(Pdb) "
    kernel.wait_for_output(cell, "-> doubled = text * 2")  # its source line (stdout and stdin race)
    assert "stopped at breakpoint()" in cell.stdout and "stream_agents.py(" in cell.stdout
    kernel.wait_for_output(cell, "E answered while S was stopped: ping")  # same server, one agent stopped
    kernel.kc.input("p text")
    assert prompt(kernel) == "(Pdb) "
    kernel.wait_for_output(cell, "'hi'")
    kernel.kc.input("n")
    assert prompt(kernel) == "(Pdb) "
    kernel.wait_for_output(cell, "-> return Msg(self.name, doubled)")  # stepped to the next line
    kernel.kc.input("c")
    assert kernel.wait_idle(msg_id).value() == "'hihi'"


def test_agentnb_debug_after_a_remote_exception_takes_p_n_c_while_another_agent_answers(
    kernel: Kernel,
) -> None:
    kernel.execute("b = Breaks(name='B').to_dist(port=port)\ne = Echo(name='E').to_dist(port=port)")
    failed = kernel.execute("b(Msg('user', 'x')).content", allow_errors=True)
    assert [error["ename"] for error in failed.errors] == ["RemoteError"]
    kernel.execute(STOPPED_WATCH.format(agent="B"))
    msg_id = kernel.submit("%load_ext agentnb\n%agentnb debug")
    cell = kernel.wait_started(msg_id)
    assert prompt(kernel) == "(Pdb) "
    kernel.wait_for_output(cell, '-> raise ValueError(f"cannot handle {secret!r}")')  # the line that raised
    assert "post-mortem debugger" in cell.stdout
    kernel.wait_for_output(cell, "E answered while B was stopped: ping")
    kernel.kc.input("p secret")
    assert prompt(kernel) == "(Pdb) "
    kernel.wait_for_output(cell, "'x-42'")  # a local of the remote frame
    kernel.kc.input("n")
    assert prompt(kernel) == "(Pdb) "
    kernel.wait_for_output(cell, "there is no next line to run")
    kernel.kc.input("c")
    done = kernel.wait_idle(msg_id)
    assert "the debugger of agent 'B' ended" in done.stdout and not done.errors
    again = kernel.execute("b(Msg('user', 'y')).content", allow_errors=True)  # the agent still answers
    assert "y-42" in str(again.errors)


def test_the_stop_button_at_a_remote_prompt_leaves_the_call_waiting_and_cancel_stops_it(
    kernel: Kernel,
) -> None:
    kernel.execute("a = Asker(name='A').to_dist()\np = a(Msg('user', 'hi'))")
    msg_id = kernel.submit("p.content")
    assert prompt(kernel) == "[A] Your name? "
    kernel.km.interrupt_kernel()
    interrupted = kernel.wait_idle(msg_id)
    assert any(e["ename"] in ("CallInterrupted", "KeyboardInterrupt") for e in interrupted.errors)
    cell = kernel.execute(
        "print('cancelled:', p.cancel())\ntry:\n    p.result(30)\nexcept agentnb.CallCancelledError as exc:\n"
        "    print('then:', type(exc).__name__)"
    )
    assert "cancelled: True" in cell.stdout and "then: CallCancelledError" in cell.stdout


def test_a_distributed_user_agent_in_the_seeds_conversation_loop_asks_the_cell(kernel: Kernel) -> None:
    kernel.execute("user = agentnb.UserAgent('User').to_dist()\nbot = Echo(name='Bot').to_dist()")
    msg_id = kernel.submit(
        "x = None\nturns = 0\nwhile x is None or x.content != 'exit':\n    x = user(x)\n    x = bot(x)\n"
        "    turns += 1\nturns, x.content"
    )
    cell = kernel.wait_started(msg_id)
    assert prompt(kernel) == "[User] User: "
    kernel.kc.input("hello")
    assert prompt(kernel) == "[User] User: "
    kernel.wait_for_output(cell, "[User] Bot: hello")  # the user agent showed what it got
    kernel.kc.input("exit")
    assert kernel.wait_idle(msg_id).value() == "(2, 'exit')"
