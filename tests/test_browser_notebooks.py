"""The workshop series as a class sees it: each notebook, Run All in JupyterLab, in headless chromium.

One JupyterLab serves a copy of ``notebooks/`` (recordings included) for the
whole module, with no model endpoint in its environment (notebook 7 replays
its recording). For each notebook the test runs every cell with JupyterLab's
own Run All, then reads the page:

* the exercises' solutions are folded away and none of them ran: no cell
  between "Exercises" and "Clean up" has an output, and no solution's output
  is anywhere on the page;
* where the lesson has a graph, the graph shows the lesson's run (its caption
  names the run, its agents and messages are the lesson's) and "Where the
  time went" describes that run (its critical path is the one the text
  teaches, its length is the lesson's, not the last cell's).

Screenshots of each lesson's graph and of its exercises go to ``artifacts/``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyterlab_harness import JupyterLab, start_jupyterlab
from notebook_page import CHROMIUM, NotebookPage, open_browser
from notebook_runs import NOTEBOOKS

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (scripts/setup.sh installs it)"
    ),
    pytest.mark.timeout(300),
]

_LIVE = ".jp-OutputArea-output .agentnb-live"
_GRAPH = _LIVE + " .agentnb-graph"
NO_MODEL = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "OPENAI_MODEL": "", "AGENTNB_CHAT_MODE": ""}

# What each solution would print if it ran (none may be on the page after Run All).
SOLUTION_OUTPUT = {
    "01": ["stnega ,olleh", "I heard Alice say"],
    "02": ["G started", "a chain of six"],
    "03": ["same conversation, one process"],
    "04": ["does not accept code", "C1"],
    "05": ["F finished", "→ C → D → F"],
    "06": ["players, servers -> start s", "MB in"],
    "07": ["ProR:", "Undecided:"],
}

# For the notebooks with a graph: its run, its caption, and where its time went.
GRAPHS: dict[str, dict[str, Any]] = {
    "02": {
        "caption": "6 agents · 8 edges · 8 messages · the calls of run 'seed'",
        "path": r"critical path: driver → A → [BC] → D → F\.",
        "took": (1.9, 4.0),  # four 0.5 s steps one after the other
        "nodes": {"driver", *"ABCDEF"},
    },
    "05": {
        "caption": "6 agents · 8 edges · 8 messages · the calls of run 'seed'",
        "path": r"critical path: driver → A → B → D → F\.",  # the chain the text beside it teaches
        "took": (1.35, 3.0),  # 0.3 + 0.6 + 0.3 + 0.2
        "nodes": {"driver", *"ABCDEF"},
        "critical": set("ABDF"),
    },
    "06": {
        "caption": "101 agents · 3 edges · 1,000 messages · the calls of run 'game'",
        "path": r"critical path: driver → P\d+ → Judge → .* → Judge\.",
        "took": (0.0, 30.0),
        "nodes": {"driver", "Player", "Judge"},
        "labels": {"Player": "Player 100 agents"},
        "critical": {"Player", "Judge"},  # the path through the players and the judge, on their groups
    },
    "07": {
        "caption": "3 agents · 5 edges · 7 messages · the calls of run 'debate'",
        "path": r"critical path: driver → (Pro|Con) → Judge\.",
        "took": (0.0, 30.0),
        "nodes": {"driver", "Pro", "Con", "Judge"},
    },
}

# What the lesson itself must say, beside its text.
LESSON_SAYS = {
    "01": ["Alice: Yes, let's.", "Bob: They never share memory"],
    "07": ["Teacher: ", "An actor is", "Student: ", "Judge: Pro argued better"],
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    root = tmp_path_factory.mktemp("series")
    for path in NOTEBOOKS.iterdir():
        if path.suffix == ".ipynb":
            shutil.copy(path, root / path.name)
    shutil.copytree(NOTEBOOKS / "recordings", root / "recordings")
    with start_jupyterlab(root, env=NO_MODEL) as server:
        yield server
    assert not server.leftovers, f"processes outlived JupyterLab and were killed: {server.leftovers}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with open_browser(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def run_all(nb: NotebookPage, timeout: float = 240) -> None:
    """Run → Run All Cells, as a teacher clicks it; wait until every code cell ran."""
    nb.wait_kernel_idle()
    nb.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    nb.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    nb.wait_for(
        "() => window.jupyterapp.shell.currentWidget.content.model.cells.get(1)?.toJSON().execution_count",
        what="Run All to start",
        timeout=30,
    )
    nb.wait_for(
        """() => {
            const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
            for (let i = 0; i < cells.length; i++) {
                const cell = cells.get(i).toJSON();
                if (cell.cell_type === 'code' && !cell.execution_count) return false;
            }
            return document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status')
                === 'idle';
        }""",
        what="every code cell to have run",
        timeout=timeout,
    )
    nb.wait_kernel_idle()


def cells(nb: NotebookPage) -> list[dict[str, Any]]:
    """The notebook's cells, as its model holds them now (nbformat)."""
    return nb.page.evaluate(
        "() => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells; const out = [];"
        " for (let i = 0; i < cells.length; i++) out.push(cells.get(i).toJSON()); return out; }"
    )


def text_of(cell: dict[str, Any]) -> str:
    """A code cell's outputs as text (stream text, text/plain and text/html)."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        data = out.get("data", {})
        for mime in ("text/plain", "text/html"):
            value = data.get(mime, "")
            parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


def source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else value


def check_no_solution_ran(nb: NotebookPage, number: str) -> None:
    every = cells(nb)
    errors = [c for c in every if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert not errors, f"cells raised: {[text_of(c)[:300] for c in errors]}"
    start = next(i for i, c in enumerate(every) if "## Exercises" in source(c))
    end = next(i for i, c in enumerate(every) if source(c).startswith("## Clean up"))
    between = every[start + 1 : end]
    assert between and all(c["cell_type"] == "markdown" for c in between), "a solution is a code cell"
    assert all("<details>" in source(c) for c in between), "every solution is folded away"
    page = nb.page.locator(".jp-Notebook").inner_text() + "\n".join(text_of(c) for c in every)
    for printed in SOLUTION_OUTPUT.get(number, []):
        assert printed not in page, f"a solution's output ({printed!r}) is on the page"
    folded = nb.page.evaluate(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-MarkdownOutput details')].map(d => d.open)"
    )
    assert folded and not any(folded), f"solutions must be folded: {folded}"
    first = nb.page.locator(".jp-Notebook .jp-MarkdownOutput details").first
    first.scroll_into_view_if_needed()
    print(f"screenshot (exercises): {nb.screenshot(f'series_{number}_exercises.png')}")
    first.locator("summary").click()  # a student opens the first solution: its code shows
    code = first.locator("pre").inner_text()
    solution = next(source(c) for c in between if "<details>" in source(c))
    assert code.strip() and code.strip().splitlines()[0] in solution, code
    print(f"screenshot (a solution opened): {nb.screenshot(f'series_{number}_solution_open.png')}")


def check_graph(nb: NotebookPage, number: str) -> None:
    expected = GRAPHS[number]
    nb.page.locator(_GRAPH).first.scroll_into_view_if_needed()
    caption = nb.page.locator(_GRAPH + " .agentnb-graph-caption").first.inner_text()
    assert caption.startswith(expected["caption"]), caption
    said = nb.page.locator(_GRAPH + " .agentnb-graph-time").first.inner_text()
    run = re.search(r"Run '(\w+)' took ([\d.]+) (ms|s);", said)
    assert run is not None, said
    assert f"'{run.group(1)}'" in expected["caption"], said
    seconds = float(run.group(2)) / (1000 if run.group(3) == "ms" else 1)
    low, high = expected["took"]
    assert low <= seconds <= high, said
    assert re.search(expected["path"], said), said
    titles = nb.page.evaluate(
        "(s) => [...document.querySelectorAll(s + ' g.node')].map(g => [g.querySelector('title').textContent,"
        " [...g.querySelectorAll('text')].map(t => t.textContent).join(' ')])",
        _GRAPH,
    )
    assert {t for t, _ in titles} == expected["nodes"], titles
    for title, label in expected.get("labels", {}).items():
        assert dict(titles)[title] == label, titles
    if "critical" in expected:
        thick = nb.page.evaluate(
            "(s) => [...document.querySelectorAll(s + ' g.node.agentnb-critical')]"
            ".map(g => g.querySelector('title').textContent)",
            _GRAPH,
        )
        assert set(thick) == expected["critical"], thick
    print(f"screenshot (graph): {nb.screenshot(f'series_{number}_graph.png')}")


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS_LIST := sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")),
    ids=[p.stem for p in NOTEBOOKS_LIST],
)
def test_run_all_shows_the_lesson_and_no_solution(path: Path, lab: JupyterLab, browser: Any) -> None:
    number = path.name[:2]
    nb = NotebookPage.open(browser, lab, path.name)
    try:
        run_all(nb)
        every = cells(nb)
        lesson = "\n".join(text_of(c) for c in every)
        for line in LESSON_SAYS.get(number, []):
            assert line in lesson, f"{line!r} is not in the lesson's output"
        if number in GRAPHS:
            check_graph(nb, number)
        check_no_solution_ran(nb, number)
        saved = json.dumps(every)
        assert "Traceback" not in saved
    finally:
        nb.page.close()
        for session in lab.api("GET", "/api/sessions"):
            lab.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
