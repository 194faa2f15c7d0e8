"""What remote replies print lands in the calling cell, in order, before the cell goes idle."""

from __future__ import annotations

from collections.abc import Iterator

import nbformat
import pytest
from kernel import HERE, Kernel
from nbclient import NotebookClient

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    k.execute("from agents import Speaker, Stepper, Warns\nfrom agentnb import Msg")
    yield k
    k.shutdown(now=True)


def test_a_loop_of_calls_shows_each_step_before_its_result_all_before_idle(kernel: Kernel) -> None:
    kernel.execute('s = Stepper(name="S").to_dist()')
    cell = kernel.execute('for _ in range(4):\n    print("result", s(Msg("user", "go")).content)')
    expected = "".join(f"[S] step {i}\nresult {i}\n" for i in range(1, 5))
    assert cell.stdout_before_idle == expected


def test_an_unread_calls_print_is_in_its_cell_before_idle(kernel: Kernel) -> None:
    kernel.execute('u = Stepper(name="U").to_dist()')
    cell = kernel.execute('p = u(Msg("user", "go"))\nq = u(Msg("user", "go"))')
    assert cell.stdout_before_idle == "[U] step 1\n[U] step 2\n"


def test_two_agents_in_a_conversation_print_in_the_order_they_ran(kernel: Kernel) -> None:
    kernel.execute('a = Speaker(name="A").to_dist()\nb = Speaker(name="B").to_dist()')
    cell = kernel.execute(
        "x = None\nfor _ in range(3):\n    x = a(x)\n    x = b(x)\nprint('final', x.content)"
    )
    expected = "".join(f"[A] A heard {2 * i}\n[B] B heard {2 * i + 1}\n" for i in range(3)) + "final 6\n"
    assert cell.stdout_before_idle == expected


def test_a_warning_logged_before_an_exception_shows_before_its_traceback(kernel: Kernel) -> None:
    kernel.execute('w = Warns(name="W").to_dist()')
    cell = kernel.execute('w(Msg("user", "x")).content', allow_errors=True)
    kinds = [o["msg_type"] for o in cell.outputs[: cell.at_idle]]
    assert kinds == ["stream", "error"], cell.outputs
    assert "[W] WARNING warns: about to fail on x" in cell.stdout
    assert cell.errors[0]["ename"] == "RemoteError"


def test_nothing_a_reply_printed_is_lost_when_nbclient_runs_the_notebook(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from agents import Stepper\nfrom agentnb import Msg\ns = Stepper(name='N').to_dist()"
        ),
        nbformat.v4.new_code_cell("p = s(Msg('user', 'go'))  # never read"),
        nbformat.v4.new_code_cell("print('result', s(Msg('user', 'go')).content)"),
        nbformat.v4.new_code_cell("import agentnb\nagentnb.shutdown()"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    texts = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert texts[1] == "[N] step 1\n"
    assert texts[2] == "[N] step 2\nresult 2\n"


def test_a_headless_run_keeps_the_prints_of_calls_that_finish_after_their_cell(tmp_path) -> None:
    """nbclient (as nbconvert and papermill) saves each cell when it ends: the cell waits for its calls."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from agents import Busy\nfrom agentnb import Msg\n"
            "A = Busy(name='A').to_dist()\n"
            "B, C, D, E, F = (Busy(name=n).to_dist(port=A.server.port) for n in 'BCDEF')"
        ),
        # six calls of 2 s (the seed's dataflow: 8 s in all); the cell itself returns at once
        nbformat.v4.new_code_cell("a = A(); b = B(a); c = C(a); d = D([b, c]); e = E(); f = F([e, d])"),
        nbformat.v4.new_code_cell("print('next cell')\nimport agentnb\nagentnb.shutdown()"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    saved = tmp_path / "six.ipynb"
    nbformat.write(nb, saved)
    cells = nbformat.read(saved, as_version=4).cells
    printed = "".join(o.get("text", "") for o in cells[1].outputs)
    assert sorted(printed.splitlines()) == [f"[{n}] working ..." for n in "ABCDEF"], printed
    assert "".join(o.get("text", "") for o in cells[2].outputs) == "next cell\n"


def test_a_cell_run_from_a_page_returns_while_its_calls_still_run(kernel: Kernel, tmp_path) -> None:
    """JupyterLab's requests allow stdin: placeholders return at once, and so does the cell."""
    gate = tmp_path / "gate"
    kernel.execute(f"from agents import Gate\nheld = Gate(name='H', path={str(gate)!r}).to_dist()")
    kernel.execute("p = held(None)")  # its reply waits for the gate: the cell ends before it
    assert kernel.execute("p.done()").value() == "False"
    gate.touch()
    assert kernel.execute("p.result(timeout=30).name").value() == "'H'"
