"""The notebook layer in a real Jupyter kernel (jupyter_client), not IPython objects in-process."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator

import pytest
from conftest import wait_for_exit
from kernel import Kernel

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    yield k
    k.shutdown(now=True)


def server_pids(kernel: Kernel) -> list[int]:
    cell = kernel.execute(
        "from agentnb._runtime._session import get_session\nsorted(s.pid for s in get_session().launched())"
    )
    return eval(cell.value())  # a list of ints, printed by the kernel


COUNTER = """
from agents import Counter
c = Counter(name="C").to_dist()
c(None).content, c.server.pid
"""


def test_the_same_cell_twice_reattaches_to_the_live_agent(kernel: Kernel) -> None:
    first = eval(kernel.execute(COUNTER).value())
    second = eval(kernel.execute(COUNTER).value())
    assert first[0] == 1 and second[0] == 2  # the counter kept counting
    assert first[1] == second[1]  # same server process
    assert server_pids(kernel) == [first[1]]


CLASS_CELL = """
from agentnb import AgentBase, Msg
class Greeter(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, "{greeting}")
g = Greeter(name="G").to_dist()
g().content, g.server.pid
"""


def test_an_edited_class_rebuilds_the_live_agent_with_the_new_code(kernel: Kernel) -> None:
    before = eval(kernel.execute(CLASS_CELL.format(greeting="hello")).value())
    rerun = kernel.execute(CLASS_CELL.format(greeting="bonjour"))
    after = eval(rerun.value())
    assert before == ("hello", before[1]) and after == ("bonjour", before[1])
    assert "rebuilt agent 'G'" in rerun.stdout and "new code" in rerun.stdout
    assert rerun.stdout.count("\n") == 1  # one line
    assert server_pids(kernel) == [before[1]]


def test_fresh_starts_a_new_agent(kernel: Kernel) -> None:
    first = eval(kernel.execute(COUNTER).value())
    fresh = eval(
        kernel.execute('c = Counter(name="C").to_dist(fresh=True)\nc(None).content, c.server.pid').value()
    )
    assert fresh[0] == 1 and fresh[1] != first[1]
    assert server_pids(kernel) == [fresh[1]]


SERVERS = """
from agents import Echo
agents = [Echo(name=f"E{i}").to_dist() for i in range(2)]
lazy = Echo(name="L").to_dist(lazy_launch=True)
lazy(None).content
[a.server.pid for a in agents + [lazy]]
"""


def test_servers_exit_when_the_kernel_is_killed(kernel: Kernel) -> None:
    pids = eval(kernel.execute(SERVERS).value())
    assert len(set(pids)) == 3
    spare = kernel.execute(
        "from agentnb._runtime._session import get_session\nget_session()._spare[1].result(20).pid"
    )
    pids.append(int(spare.value()))  # the server kept started ahead must go too
    os.kill(kernel.pid, signal.SIGKILL)
    assert all(wait_for_exit(pid, 5) for pid in pids), "a server outlived its kernel"


def test_servers_exit_when_the_kernel_shuts_down_or_restarts(kernel: Kernel) -> None:
    pids = eval(kernel.execute(SERVERS).value())
    kernel.km.restart_kernel(now=False)
    assert all(wait_for_exit(pid, 5) for pid in pids), "a server outlived its kernel's restart"
    # no kc.wait_for_ready() here: it reads IOPub, which the reader thread owns
    pids = eval(kernel.execute(SERVERS).value())
    kernel.shutdown(now=False)
    assert all(wait_for_exit(pid, 5) for pid in pids), "a server outlived its kernel's shutdown"


def interrupt_reading(kernel: Kernel, expression: str) -> str:
    """Read ``expression`` (a placeholder's content) in a cell and press the stop button while it waits."""
    msg_id = kernel.submit(
        f"from conftest import say_when_waiting\nsay_when_waiting('waiting')\n{expression}"
    )
    kernel.wait_for_output(kernel.wait_started(msg_id), "waiting")
    kernel.km.interrupt_kernel()
    interrupted = kernel.wait_idle(msg_id)
    [error] = [o["content"] for o in interrupted.outputs if o["msg_type"] == "error"]
    assert error["ename"] == "CallInterrupted"
    assert len(error["traceback"]) == 1  # one short message, no trip through grpc's internals
    return str(error["traceback"][0])


def test_the_stop_button_names_the_calls_state_and_cancel_withdraws_the_queued_ones(
    kernel: Kernel, tmp_path
) -> None:
    gate = tmp_path / "gate"
    kernel.execute(f"from agents import Gate\ng = Gate(name='G', path={str(gate)!r}).to_dist()")
    kernel.execute("queued = [g(None) for _ in range(3)]")  # behind the first, in G's mailbox
    kernel.execute("from conftest import wait_state\nwait_state(queued[0], 'running')")
    running = interrupt_reading(kernel, "queued[0].content")
    assert "the call goes on there (running)" in running and "%agentnb stop G" in running, running
    assert kernel.execute("queued[0].state").value() == "'running'"  # what the message said
    waiting = interrupt_reading(kernel, "queued[1].content")
    assert "(waiting in the agent's queue)" in waiting and "placeholder.cancel()" in waiting, waiting
    refused = kernel.execute("queued[0].cancel()")  # a running call: False, and a word why
    assert refused.value() == "False"
    assert "cannot withdraw the call to 'G': it has started (running)" in refused.stdout, refused.stdout
    assert kernel.execute("g.cancel()").value() == "2"  # the two calls queued behind it
    assert kernel.execute("[p.state for p in queued[1:]]").value() == "['cancelled', 'cancelled']"
    read = kernel.execute("queued[1].content", allow_errors=True)
    [error] = read.errors
    assert error["ename"] == "CallCancelledError"
    [line] = error["traceback"]  # the message alone: no traceback through agentnb, no empty remote one
    assert line.startswith("CallCancelledError: agent 'G' on 127.0.0.1:"), line
    assert line.endswith(": the call was cancelled before it started"), line
    assert "the call was cancelled before it started" in error["evalue"]
    gate.touch()
    assert kernel.execute("queued[0].content == g(None).content == g.server.pid").value() == "True"


PRINTER = """
from agentnb import AgentBase, Msg
import logging, os, time
class Printer(AgentBase):
    def reply(self, x=None):
        print("working on", x.content)
        logging.getLogger("printer").warning("careful with %s", x.content)
        if x.content == "later":
            while not os.path.exists({gate!r}):
                time.sleep(0.01)
            print("finished", x.content)
        return Msg(self.name, x.content)
p = Printer(name="P").to_dist()
"""


def test_remote_print_shows_in_the_calling_cell_even_while_another_runs(kernel: Kernel, tmp_path) -> None:
    gate = tmp_path / "gate"
    kernel.execute(PRINTER.format(gate=str(gate)))
    now = kernel.execute('p(Msg("user", "now")).content')
    kernel.wait_for_output(now, "[P] working on now")
    kernel.wait_for_output(now, "[P] WARNING printer: careful with now")  # logging too
    later = kernel.execute('pending = p(Msg("user", "later"))')
    kernel.wait_for_output(later, "[P] working on later")
    # another cell is running while the agent prints its second line
    other = kernel.submit(f"open({str(gate)!r}, 'w').close()\npending.result(timeout=30).content")
    kernel.wait_idle(other)
    kernel.wait_for_output(later, "[P] finished later")
    assert "finished" not in kernel.wait_idle(other).stdout  # it went to the calling cell


def test_a_remote_exception_renders_its_traceback_in_the_cell(kernel: Kernel) -> None:
    cell = kernel.execute(
        "from agents import Fails\nfrom agentnb import Msg\n"
        'f = Fails(name="F").to_dist()\nf(Msg("u", "x")).content',
        allow_errors=True,
    )
    [error] = cell.errors
    text = "\n".join(error["traceback"])
    assert error["ename"] == "RemoteError"
    assert "agent 'F' on 127.0.0.1:" in text and "ValueError: cannot handle 'x'" in text
    assert "Remote traceback" in text and "raise ValueError" in text


def test_await_in_a_cell_while_another_cells_calls_are_in_flight(kernel: Kernel, tmp_path) -> None:
    gate = tmp_path / "gate"
    kernel.execute(
        f"from agents import Gate, Echo\nfrom agentnb import Msg\n"
        f"g = Gate(name='G', path={str(gate)!r}).to_dist()\ne = Echo(name='E').to_dist()"
    )
    kernel.execute("slow = [g(None) for _ in range(3)]")
    cell = kernel.execute("r = await e(Msg('user', 'quick'))\nr.content, [s.done() for s in slow]")
    assert cell.value() == "('quick', [False, False, False])"
    gate.touch()
    assert kernel.execute("len({(await s).content for s in slow})").value() == "1"


def test_asyncio_run_of_a_script_coroutine_works_in_a_cell(kernel: Kernel) -> None:
    cell = kernel.execute(
        "import asyncio\nfrom agents import Echo\nfrom agentnb import Msg\n"
        "e = Echo(name='E').to_dist()\n"
        "async def main():\n"
        "    replies = await asyncio.gather(*(e(Msg('u', i)) for i in range(3)))\n"
        "    return [r.content for r in replies]\n"
        "asyncio.run(main())"
    )
    assert cell.value() == "[0, 1, 2]"
    assert kernel.execute("1 + 1").value() == "2"  # the cells behind it still run


def test_reprs_return_at_once_with_the_server_stopped(kernel: Kernel) -> None:
    kernel.execute(
        "import agentnb, time\nfrom agents import Echo\nfrom agentnb import Msg\n"
        "e = Echo(name='E').to_dist()\nread = e(Msg('u', 'x'))\nread.content\n"
        "unread = e(Msg('u', 'y'))\nagentnb.shutdown()"
    )
    cell = kernel.execute(
        "t = time.monotonic()\n"
        "texts = [repr(e), e._repr_html_(), repr(read), read._repr_html_(), repr(unread),\n"
        "         unread._repr_html_(), repr(agentnb.status()), agentnb.status()._repr_html_()]\n"
        "time.monotonic() - t < 0.5, 'x' in texts[3], 'E' in texts[0]"
    )
    assert cell.value() == "(True, True, True)"


def test_magics_show_status_and_stop_agents(kernel: Kernel) -> None:
    kernel.execute(
        "%load_ext agentnb\nfrom agents import Echo\n"
        "a = Echo(name='A').to_dist()\nb = Echo(name='B').to_dist()"
    )
    status = kernel.execute("%agentnb status").value()
    assert re.search(r"agent 'A' \(Echo\) on 127\.0\.0\.1:\d+: running", status)
    stopped = kernel.execute("%agentnb stop A")
    assert "stopped agent 'A'" in stopped.stdout
    status = kernel.execute("%agentnb status").value()
    assert "agent 'A'" not in status and "agent 'B'" in status
    bad = kernel.execute("%agentnb stop Z", allow_errors=True)
    assert "no agent named Z" in bad.errors[0]["evalue"]
    graph = kernel.execute(
        "b(None).content\ng = %agentnb graph\ng.wait_for(lambda s: len(s.nodes) == 2, 30)\ntype(g).__name__"
    )
    assert graph.value() == "'LiveGraph'"


def test_reattach_is_fast(kernel: Kernel) -> None:
    kernel.execute(COUNTER)
    cell = kernel.execute(
        "import time\nt = time.perf_counter()\nc = Counter(name='C').to_dist()\n"
        "(time.perf_counter() - t) < 0.05"
    )
    assert cell.value() == "True"


def test_a_notebook_run_twice_in_one_kernel_keeps_its_servers() -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from agents import Counter, Echo\nfrom agentnb import Msg"),
        nbformat.v4.new_code_cell("a = Counter(name='A').to_dist()\nb = Echo(name='B').to_dist()"),
        nbformat.v4.new_code_cell("x = b(a(Msg('user', 'go')))\nx.content"),
        nbformat.v4.new_code_cell(
            "from agentnb._runtime._session import get_session\n"
            "sorted(s.pid for s in get_session().launched())"
        ),
    ]
    here = {"metadata": {"path": os.path.dirname(__file__)}}
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources=here)
    runs = []
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            runs.append([c.outputs for c in nb.cells])
    for outputs in runs:
        assert not [o for cell in outputs for o in cell if o.get("output_type") == "error"]
    first, second = (r[3][0]["data"]["text/plain"] for r in runs)
    assert first == second and len(eval(first)) == 2
    assert [r[2][0]["data"]["text/plain"] for r in runs] == ["1", "2"]  # A's state continued
