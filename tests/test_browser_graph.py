"""The live graph widget in a real JupyterLab, in real headless Chromium, with real agent servers.

The notebook defines its agents in a cell (so their classes are shipped to
the servers), starts them with ``to_dist()``, displays ``agentnb.graph()`` and
calls ``slow(fast(msg))``. ``Slow`` blocks until a file appears, so the test
decides when it finishes. Everything is asserted from the page's DOM (the
widget's contract: an ``.agentnb-graph`` element holding graphviz's SVG;
``g.node`` / ``g.edge`` groups whose ``<title>`` is the agent name or
``SRC->DST`` and whose classes include ``agentnb-state-<state>``). Screenshots
go to ``artifacts/`` at the repo root.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from jupyterlab_harness import start_jupyterlab
from notebook_page import CHROMIUM, NotebookPage, open_browser

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium when run as root)",
    ),
    pytest.mark.timeout(180),
]

AGENTS_CELL = '''\
import os
import time

import agentnb
from agentnb import AgentBase, Msg


class Upper(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, x.content.upper())


class Gate(AgentBase):
    """Replies once the file at ``path`` exists: the test decides when."""

    def __init__(self, name, path):
        super().__init__(name)
        self.path = path

    def reply(self, x=None):
        deadline = time.monotonic() + 120
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.02)
        return Msg(self.name, "released: " + x.content)


fast = Upper(name="Fast").to_dist()
slow = Gate(name="Slow", path={gate!r}).to_dist()
print("agents up")
'''
GRAPH_CELL = "agentnb.graph()"
CALL_CELL = 'p = slow(fast(Msg("user", "hello")))'
RESULT_CELL = "print(p.content)"

# The live widget (a widget view, not a static copy kept for saved notebooks) and its SVG.
_GRAPH = ".jp-OutputArea-output .jupyter-widgets .agentnb-graph"
_SVG = _GRAPH + " svg"

GRAPH_JS = """(svgSelector) => {
    const svg = document.querySelector(svgSelector);
    if (!svg) return null;
    const read = (kind) => Object.fromEntries([...svg.querySelectorAll('g.' + kind)].map(g => [
        g.querySelector('title')?.textContent.trim(),
        [...g.classList].filter(c => c.startsWith('agentnb-state-')).map(c => c.slice(14)).join(' ')]));
    return {nodes: read('node'), edges: read('edge')};
}"""

# Records every state the edge shows, as the DOM changes, and the page's
# identity: a reload would lose both.
WATCH_JS = """([svgSelector, title]) => {
    const state = () => {
        for (const g of document.querySelectorAll(svgSelector + ' g.edge')) {
            if (g.querySelector('title')?.textContent.trim() === title)
                return [...g.classList].filter(c => c.startsWith('agentnb-state-')).join(' ');
        }
        return 'missing';
    };
    const watch = {states: [state()], pageId: Math.random()};
    new MutationObserver(() => {
        const now = state();
        if (now !== watch.states[watch.states.length - 1]) watch.states.push(now);
    }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    window.__agentnbWatch = watch;
    return watch.pageId;
}"""


class Clock:
    """Elapsed time at named steps, printed at the end of the test."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        self.marks.append((step, time.perf_counter() - self.start))

    def __str__(self) -> str:
        return "timings: " + "; ".join(f"{step} {t:.1f} s" for step, t in self.marks)


def screenshot(nb: NotebookPage, name: str) -> Path | str:
    """Scroll the graph into view and save the page to ``artifacts/<name>``."""
    nb.page.locator(_SVG).first.scroll_into_view_if_needed()
    return nb.screenshot(name)


def graph(nb: NotebookPage) -> dict[str, Any]:
    """The nodes and edges the page's graph shows, as ``{title: state}``."""
    return nb.page.evaluate(GRAPH_JS, _SVG) or {"nodes": {}, "edges": {}}


def wait_graph(nb: NotebookPage, nodes: dict[str, str | None], edges: dict[str, str], timeout: float) -> None:
    """Wait until the graph shows these nodes and edges in these states (None: any state)."""
    nb.wait_for(
        """([svgSelector, nodes, edges]) => {
            const svg = document.querySelector(svgSelector);
            if (!svg) return false;
            const has = (kind, title, state) => [...svg.querySelectorAll('g.' + kind)].some(g =>
                g.querySelector('title')?.textContent.trim() === title
                && (state === null || g.classList.contains('agentnb-state-' + state)));
            return Object.entries(nodes).every(([t, s]) => has('node', t, s))
                && Object.entries(edges).every(([t, s]) => has('edge', t, s));
        }""",
        [_SVG, nodes, edges],
        what=f"the graph to show nodes {nodes} and edges {edges}",
        timeout=timeout,
    )


def test_the_graph_shows_a_slow_call_running_then_done_in_a_live_page(tmp_path: Path) -> None:
    root, gate = tmp_path / "lab", tmp_path / "release-slow"
    root.mkdir()
    clock = Clock()
    with (
        start_jupyterlab(root, env={"AGENTNB_TRACE": "1"}) as lab,
        open_browser(tmp_path / "chromium-profile") as browser,
    ):
        clock.mark("lab and browser up")
        lab.write_notebook(
            "graph.ipynb", [AGENTS_CELL.format(gate=str(gate)), GRAPH_CELL, CALL_CELL, RESULT_CELL]
        )
        nb = NotebookPage.open(browser, lab, "graph.ipynb")
        clock.mark("notebook open, kernel idle")

        assert "agents up" in nb.run_cell(0)
        clock.mark("agents started")
        nb.run_cell(1)
        nb.wait_for("(s) => document.querySelector(s) !== null", _GRAPH, what="the graph widget", timeout=30)
        nb.run_cell(2)
        wait_graph(
            nb,
            nodes={"driver": None, "Fast": None, "Slow": "running"},
            edges={"driver->Fast": "done", "Fast->Slow": "running"},
            timeout=30,
        )
        clock.mark("graph shows Fast->Slow running")
        page_id = nb.page.evaluate(WATCH_JS, [_SVG, "Fast->Slow"])
        print(f"screenshot (running): {screenshot(nb, 'browser_graph_running.png')}")

        gate.touch()
        wait_graph(nb, nodes={"Slow": "done"}, edges={"Fast->Slow": "done"}, timeout=30)
        clock.mark("graph shows Fast->Slow done")
        print(f"screenshot (done): {screenshot(nb, 'browser_graph_done.png')}")

        watch = nb.page.evaluate("() => window.__agentnbWatch")
        assert watch is not None and watch["pageId"] == page_id, "the page was reloaded"
        states = watch["states"]
        assert states[0] == "agentnb-state-running" and states[-1] == "agentnb-state-done", states
        shown = graph(nb)
        assert {"driver", "Fast", "Slow"} <= set(shown["nodes"]), shown
        assert "released: HELLO" in nb.run_cell(3)
        print(f"edge Fast->Slow as the page saw it: {states}; graph: {shown}")
    clock.mark("lab, kernel, servers and browser stopped")
    assert not lab.leftovers, f"processes outlived JupyterLab and were killed: {lab.leftovers}"
    print(clock)
