"""The live graph widget in a real JupyterLab, in real headless Chromium, with real agent servers.

One JupyterLab server and one browser serve the whole module; each test
writes its own notebook, and its kernel (and so its agent servers) is shut
down after it. Agents come from ``tests/agents.py`` (on the kernel's
``PYTHONPATH``). Everything is asserted from the page's DOM through the
widget's contract (see ``agentnb/notebook/_graph_widget.py``): the live view
``.agentnb-live`` holds ``.agentnb-graph`` with graphviz's SVG in a
``.agentnb-fit`` box; ``g.node`` / ``g.edge`` groups are titled with the agent
name or ``SRC->DST`` and carry ``agentnb-state-<state>`` (and, after a run,
``agentnb-critical`` on the critical path); the saved copy is
``.agentnb-static``. Screenshots go to ``artifacts/`` at the repo root.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyterlab_harness import JupyterLab, start_jupyterlab
from notebook_page import CHROMIUM, NotebookPage, open_browser

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium when run as root)",
    ),
    pytest.mark.timeout(240),
]
HERE = Path(__file__).resolve().parent

# The live widget (not the static copy kept for saved notebooks) and its SVG.
_LIVE = ".jp-OutputArea-output .agentnb-live"
_GRAPH = _LIVE + " .agentnb-graph"
_SVG = _GRAPH + " .agentnb-fit > svg"

GRAPH_JS = """(svgSelector) => {
    const svg = document.querySelector(svgSelector);
    if (!svg) return null;
    const read = (kind) => Object.fromEntries([...svg.querySelectorAll('g.' + kind)].map(g => [
        g.querySelector('title')?.textContent.trim(),
        [...g.classList].filter(c => c.startsWith('agentnb-')).map(c => c.slice(8)).join(' ')]));
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

# Where every node of a drawing is, against its fitting box, its output area and the window.
FIT_JS = """(svgSelector) => {
    const svg = document.querySelector(svgSelector);
    const rect = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    const area = svg.closest('.jp-OutputArea-output');
    return {
        box: rect(svg.parentElement), area: rect(area), window: [0, 0, innerWidth, innerHeight],
        areaScrolls: area.scrollWidth > area.clientWidth + 1,
        nodes: Object.fromEntries([...svg.querySelectorAll('g.node')].map(g =>
            [g.querySelector('title').textContent.trim(), rect(g)])),
    };
}"""

# The text of each output of a cell that is displayed (innerText alone would include hidden ones).
VISIBLE_OUTPUTS_JS = """(index) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[index]
    .querySelectorAll('.jp-OutputArea-child')].filter(c => c.getClientRects().length > 0)
    .map(c => c.innerText)"""

# B is the slow one: the critical path is driver -> A -> B -> D -> F
SECONDS = {"A": 0.3, "B": 1.0, "C": 0.2, "D": 0.3, "E": 0.3, "F": 0.3}
SIX_CELLS = [
    "import agentnb\nfrom agents import Timed\n"
    f"A, B, C, D, E, F = (Timed(name=n, seconds=s).to_dist() for n, s in {SECONDS!r}.items())\n"
    'print("agents up")',
    "agentnb.graph()",
    "a = A(); b = B(a); c = C(a); d = D([b, c]); e = E(); f = F([e, d])",
    "print(sorted(f.content))",
]
CRITICAL = {"driver->A", "A->B", "B->D", "D->F"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """One JupyterLab for the module; its kernels import tests/agents.py."""
    root = tmp_path_factory.mktemp("lab")
    with start_jupyterlab(root, env={"AGENTNB_TRACE": "1", "PYTHONPATH": str(HERE)}) as server:
        yield server
    assert not server.leftovers, f"processes outlived JupyterLab and were killed: {server.leftovers}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with open_browser(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def open_notebook(lab: JupyterLab, browser: Any) -> Iterator[Any]:
    """Write a notebook and open it; afterwards close its page and shut its kernel (and servers) down."""
    pages: list[NotebookPage] = []

    def open_(name: str, cells: list[str]) -> NotebookPage:
        lab.write_notebook(name, cells)
        nb = NotebookPage.open(browser, lab, name)
        pages.append(nb)
        return nb

    yield open_
    for nb in pages:
        nb.page.close()
    shut_kernels(lab)


def shut_kernels(lab: JupyterLab) -> None:
    for session in lab.api("GET", "/api/sessions"):
        lab.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)


def screenshot(nb: NotebookPage, name: str, selector: str = _SVG) -> Path | str:
    """Scroll ``selector`` into view and save the page to ``artifacts/<name>``."""
    nb.page.locator(selector).first.scroll_into_view_if_needed()
    return nb.screenshot(name)


def graph(nb: NotebookPage, svg: str = _SVG) -> dict[str, Any]:
    """The nodes and edges the page's graph shows, as ``{title: "state-... critical"}``."""
    return nb.page.evaluate(GRAPH_JS, svg) or {"nodes": {}, "edges": {}}


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


def assert_fits(nb: NotebookPage) -> dict[str, Any]:
    """Every node lies inside the drawing's box, inside the output area, inside the window."""
    nb.page.locator(_SVG).first.scroll_into_view_if_needed()
    at = nb.page.evaluate(FIT_JS, _SVG)
    box, area, window = at["box"], at["area"], at["window"]
    inside = lambda r, outer: (  # noqa: E731 - a one-line check
        r[0] >= outer[0] - 1 and r[1] >= outer[1] - 1 and r[2] <= outer[2] + 1 and r[3] <= outer[3] + 1
    )
    outside = {name: r for name, r in at["nodes"].items() if not (inside(r, box) and inside(r, window))}
    assert not outside, f"nodes outside the view: {outside}; box {box}, window {window}"
    assert box[0] >= area[0] - 1 and box[2] <= area[2] + 1, (box, area)
    assert not at["areaScrolls"], "the output area scrolls sideways"
    return at


def test_the_graph_shows_a_slow_call_running_then_done_and_the_layout_stays(
    open_notebook: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "release-slow"
    nb = open_notebook(
        "slow.ipynb",
        [
            f"import agentnb\nfrom agentnb import Msg\nfrom agents import Echo, Gate\n"
            f'fast = Echo(name="Fast").to_dist()\nslow = Gate(name="Slow", path={str(gate)!r}).to_dist()',
            "agentnb.graph()",
            'p = slow(fast(Msg("user", "hello")))',
            "print(p.content > 0)",
        ],
    )
    nb.run_cell(0)
    nb.run_cell(1)
    nb.wait_for("(s) => document.querySelector(s) !== null", _GRAPH, what="the graph widget", timeout=30)
    nb.run_cell(2)
    wait_graph(
        nb,
        nodes={"driver": None, "Fast": "done", "Slow": "running"},
        edges={"driver->Fast": "done", "Fast->Slow": "running"},
        timeout=30,
    )
    running = assert_fits(nb)  # the running node is in view, with its edge's label filled in
    page_id = nb.page.evaluate(WATCH_JS, [_SVG, "Fast->Slow"])
    print(f"screenshot (running): {screenshot(nb, 'browser_graph_running.png')}")

    gate.touch()
    wait_graph(nb, nodes={"Slow": "done"}, edges={"Fast->Slow": "done"}, timeout=30)
    done = assert_fits(nb)
    print(f"screenshot (done): {screenshot(nb, 'browser_graph_done.png')}")
    assert done["nodes"] == running["nodes"], "a finished call moved the nodes"

    watch = nb.page.evaluate("() => window.__agentnbWatch")
    assert watch is not None and watch["pageId"] == page_id, "the page was reloaded"
    states = watch["states"]
    assert states[0] == "agentnb-state-running" and states[-1] == "agentnb-state-done", states
    assert "True" in nb.run_cell(3)


def test_the_six_agent_dataflow_marks_its_critical_path_and_its_timeline(open_notebook: Any) -> None:
    nb = open_notebook("six.ipynb", SIX_CELLS)
    assert "agents up" in nb.run_cell(0, timeout=90)
    nb.run_cell(1)
    nb.run_cell(2)
    nb.run_cell(3)
    wait_graph(nb, nodes=dict.fromkeys("ABCDEF", "done"), edges={"D->F": "done"}, timeout=30)
    nb.wait_for(
        "(s) => document.querySelectorAll(s + ' g.edge.agentnb-critical').length === 4",
        _SVG,
        what="the critical path to be marked",
        timeout=30,
    )
    shown = graph(nb)
    critical = {title for title, classes in shown["edges"].items() if "critical" in classes}
    assert critical == CRITICAL, shown
    assert {t for t, c in shown["nodes"].items() if "critical" in c} == set("ABDF")
    assert_fits(nb)
    said = nb.page.locator(_GRAPH + " .agentnb-graph-time").inner_text()
    assert "critical path: driver → A → B → D → F" in said and "D waited" in said and "for B" in said, said
    caption = nb.page.locator(_GRAPH + " .agentnb-graph-caption").inner_text()
    assert caption.startswith("6 agents · 8 edges"), caption  # the driver is not an agent
    print(f"screenshot (critical path): {screenshot(nb, 'browser_graph_critical.png', _LIVE)}")

    nb.page.locator(_LIVE + " button", has_text="Timeline").click()
    lanes = _LIVE + " .agentnb-timeline-view:not([hidden]) .agentnb-lane"
    nb.wait_for("(s) => document.querySelectorAll(s).length === 6", lanes, what="six lanes", timeout=10)
    bars = nb.page.locator(_LIVE + " .agentnb-timeline-view rect.agentnb-critical").count()
    assert bars == 4  # A, B, D and F's calls
    print(f"screenshot (timeline): {screenshot(nb, 'browser_graph_timeline.png', _LIVE)}")


def test_fifty_agents_and_250_messages_fit_the_output_area_and_zoom(open_notebook: Any) -> None:
    nb = open_notebook(
        "fifty.ipynb",
        [
            "import random\nimport agentnb\nfrom agentnb import Msg\nfrom agents import Echo\n"
            'first = Echo(name="n00").to_dist()\n'
            "port = first.server.port\n"
            'agents = [first] + [Echo(name=f"n{i:02d}").to_dist(port=port) for i in range(1, 50)]',
            "agentnb.graph()",
            # 250 messages between random agents: each call consumes the previous call's reply
            "rng, x = random.Random(1), Msg('user', 0)\nfor _ in range(250):\n    x = rng.choice(agents)(x)\n"
            "print(x.content)",
        ],
    )
    nb.run_cell(0, timeout=120)
    nb.run_cell(1)
    start = time.perf_counter()
    nb.run_cell(2, timeout=120)
    nb.wait_for(
        "(s) => /^50 agents · \\d+ edges · 250 messages/.test("
        "document.querySelector(s + ' .agentnb-graph-caption')?.innerText ?? '')",
        _GRAPH,
        what="the graph of 50 agents and 250 messages",
        timeout=60,
    )
    wait_graph(nb, nodes={"n00": "done"}, edges={}, timeout=30)
    at = assert_fits(nb)
    assert len(at["nodes"]) == 51  # 50 agents and the driver, every one in view
    print(f"50 agents drawn {time.perf_counter() - start:.1f} s after the calls started")
    print(f"screenshot (50 agents): {screenshot(nb, 'browser_graph_fifty.png', _LIVE)}")

    natural = nb.page.evaluate("(s) => document.querySelector(s).getAttribute('viewBox')", _SVG)
    nb.page.locator(_LIVE + " button", has_text="+").click()
    nb.page.locator(_LIVE + " button", has_text="+").click()
    zoomed = nb.page.evaluate("(s) => document.querySelector(s).getAttribute('viewBox')", _SVG)
    assert float(zoomed.split()[2]) < 0.7 * float(natural.split()[2]), (natural, zoomed)
    print(f"screenshot (zoomed in): {screenshot(nb, 'browser_graph_fifty_zoomed.png', _LIVE)}")
    nb.page.locator(_LIVE + " button", has_text="Fit").click()
    assert nb.page.evaluate("(s) => document.querySelector(s).getAttribute('viewBox')", _SVG) == natural


def test_a_restarted_kernel_is_named_and_a_reopened_notebook_shows_the_static_picture(
    open_notebook: Any, lab: JupyterLab, browser: Any
) -> None:
    nb = open_notebook("saved.ipynb", SIX_CELLS)
    nb.run_cell(0, timeout=90)
    nb.run_cell(1)
    nb.run_cell(2)
    nb.run_cell(3)
    wait_graph(nb, nodes=dict.fromkeys("ABCDEF", "done"), edges={"D->F": "done"}, timeout=30)

    nb.restart_kernel()
    note = _LIVE + ".agentnb-dead .agentnb-dead-note"
    nb.wait_for("(s) => document.querySelector(s)?.offsetParent != null", note, what="the notice", timeout=30)
    assert "kernel that drew this graph has stopped" in nb.page.locator(note).inner_text()
    print(f"screenshot (kernel restarted): {screenshot(nb, 'browser_graph_restarted.png', _LIVE)}")
    nb.save()
    nb.page.close()
    shut_kernels(lab)

    reopened = NotebookPage.open(browser, lab, "saved.ipynb")
    try:
        static = ".jp-OutputArea-output .agentnb-static .agentnb-graph svg"
        reopened.wait_for(
            "(s) => document.querySelector(s)?.getBoundingClientRect().height > 20",
            static,
            what="the static picture",
            timeout=30,
        )
        shown = graph(reopened, static)
        assert set(shown["nodes"]) == {"driver", *"ABCDEF"}, shown
        assert all(c.startswith("state-done") for t, c in shown["nodes"].items() if t != "driver"), shown
        # the widget output, left without its model, settles on JupyterLab's error text: hidden
        reopened.wait_for(
            "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[1]?.textContent"
            ".includes('Error displaying widget')",
            what="the widget output to give up on its model",
            timeout=30,
        )
        visible = reopened.page.evaluate(VISIBLE_OUTPUTS_JS, 1)
        assert len(visible) == 1 and "Where the time went" in visible[0], visible
        assert reopened.page.locator(_LIVE).count() == 0  # no live widget: the static picture it is
        print(f"screenshot (reopened): {screenshot(reopened, 'browser_graph_reopened.png', static)}")
    finally:
        reopened.page.close()


_CAPTION = _GRAPH + " .agentnb-graph-caption"
RELOAD_CELLS = [
    "import agentnb\nfrom agentnb import Msg\nfrom agents import Echo\nA = Echo(name='A').to_dist()",
    "agentnb.graph()",
    "A(Msg('user', 1)).content",
    "A(Msg('user', 2)).content",
    "A(Msg('user', 3)).content",
]


def wait_caption(nb: NotebookPage, text: str) -> None:
    nb.wait_for(
        "([s, text]) => (document.querySelector(s)?.innerText ?? '').includes(text)",
        [_CAPTION, text],
        what=f"the live graph's caption to say {text!r}",
        timeout=30,
    )


def saved_static(lab: JupyterLab, name: str, cell: int) -> str:
    """The static copy's HTML in the notebook file on disk (what a saved notebook shows)."""
    import nbformat

    outputs = nbformat.read(lab.root / name, as_version=4).cells[cell].outputs
    return next(
        o["data"]["text/html"] for o in outputs if "agentnb-static" in o.get("data", {}).get("text/html", "")
    )


def test_the_saved_copy_keeps_following_the_live_graph_after_the_page_is_reloaded(
    open_notebook: Any, lab: JupyterLab
) -> None:
    nb = open_notebook("reload.ipynb", RELOAD_CELLS)
    for index in range(4):
        nb.run_cell(index, timeout=90 if index == 0 else 60)
    wait_caption(nb, "1 agent · 1 edge · 2 messages")
    nb.save()
    assert "2 messages" in saved_static(lab, "reload.ipynb", 1)

    nb.page.reload(wait_until="domcontentloaded")  # the kernel lives on; the page forgets display ids
    nb.wait_for(
        "() => document.querySelector('.jp-Notebook .jp-Cell .jp-InputArea-editor') !== null",
        what="the reloaded notebook",
        timeout=60,
    )
    nb.wait_kernel_idle()
    wait_caption(nb, "2 messages")  # the live widget, restored from the kernel
    nb.run_cell(4)
    wait_caption(nb, "1 agent · 1 edge · 3 messages")
    nb.wait_for(  # the notebook's own copy (its model), not only the page
        "() => JSON.stringify(window.jupyterapp.shell.currentWidget.content.model.cells.get(1)"
        ".toJSON().outputs).includes('3 messages')",
        what="the notebook's static copy to follow the live graph",
        timeout=30,
    )
    nb.save()
    saved = saved_static(lab, "reload.ipynb", 1)
    assert "1 agent · 1 edge · 3 messages" in saved, saved[saved.find("agentnb-graph-caption") :][:300]
    print(f"screenshot (reloaded page): {screenshot(nb, 'browser_graph_reloaded.png', _LIVE)}")


def test_shutting_the_kernel_down_from_the_menu_names_it_above_the_last_picture(open_notebook: Any) -> None:
    nb = open_notebook("shutdown.ipynb", RELOAD_CELLS[:3])
    for index in range(3):
        nb.run_cell(index, timeout=90 if index == 0 else 60)
    wait_caption(nb, "1 message")
    nb.page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    nb.page.locator(".lm-Menu-itemLabel", has_text="Shut Down Kernel").first.click()
    dialog = nb.page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():  # some versions ask first
        dialog.first.click()
    note = _LIVE + ".agentnb-dead .agentnb-dead-note"
    nb.wait_for("(s) => document.querySelector(s)?.offsetParent != null", note, what="the notice", timeout=30)
    assert "kernel that drew this graph has stopped" in nb.page.locator(note).inner_text()
    assert "1 message" in nb.page.locator(_CAPTION).inner_text()  # the last picture stays
    print(f"screenshot (kernel shut down): {screenshot(nb, 'browser_graph_shut_down.png', _LIVE)}")
