"""A streaming reply in a real JupyterLab, in real headless Chromium, with real agent servers:
its text grows in place in the calling cell, and the graph draws its edge as streaming.

Screenshots go to ``artifacts/`` at the repo root (``browser_stream_growing.png`` mid-stream,
``browser_stream_done.png`` after).
"""

from __future__ import annotations

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

_LIVE = ".jp-OutputArea-output .agentnb-live"
_SVG = _LIVE + " .agentnb-graph .agentnb-fit > svg"

# Records, as the DOM changes, the streamed text of cell ``index`` (each distinct value), how
# many streamed outputs the cell shows at most, and the states the graph's edge ``title`` takes.
WATCH_JS = """([index, svgSelector, title]) => {
    const cell = () => document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    const edge = () => {
        for (const g of document.querySelectorAll(svgSelector + ' g.edge'))
            if (g.querySelector('title')?.textContent.trim() === title)
                return [...g.classList].filter(c => c.startsWith('agentnb-state-')).join(' ');
        return 'missing';
    };
    const watch = {texts: [], most: 0, edges: [edge()]};
    const look = () => {
        const shown = cell()?.querySelectorAll('.jp-OutputArea-output pre.agentnb-stream') ?? [];
        watch.most = Math.max(watch.most, shown.length);
        const text = shown.length ? shown[0].innerText : null;
        if (text !== null && text !== watch.texts[watch.texts.length - 1]) watch.texts.push(text);
        const now = edge();
        if (now !== watch.edges[watch.edges.length - 1]) watch.edges.push(now);
    };
    new MutationObserver(look).observe(document.body,
        {subtree: true, childList: true, attributes: true, characterData: true});
    window.__agentnbStream = watch;
    return true;
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    root = tmp_path_factory.mktemp("lab")
    with start_jupyterlab(root, env={"AGENTNB_TRACE": "1", "PYTHONPATH": str(HERE)}) as server:
        yield server
    assert not server.leftovers, f"processes outlived JupyterLab and were killed: {server.leftovers}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with open_browser(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def test_a_streaming_reply_grows_in_place_in_its_cell_and_its_edge_shows_streaming(
    lab: JupyterLab, browser: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    before = tuple(f"word{i} " for i in range(12))
    after = tuple(f"more{i} " for i in range(6))
    lab.write_notebook(
        "stream.ipynb",
        [
            "import agentnb\nfrom agentnb import Msg\nfrom stream_agents import GatedWords\n"
            f"writer = GatedWords(name='Writer', gate={str(gate)!r}, before={before!r}, after={after!r}, "
            "pause=0.08).to_dist()\nprint('ready')",
            "agentnb.graph()",
            "p = writer(Msg('user', 'write'))\np.content",
        ],
    )
    nb = NotebookPage.open(browser, lab, "stream.ipynb")
    try:
        assert "ready" in nb.run_cell(0, timeout=90)
        nb.run_cell(1)
        nb.wait_for("(s) => document.querySelector(s) !== null", _LIVE, what="the graph widget", timeout=30)
        nb.page.evaluate(WATCH_JS, [2, _SVG, "driver->Writer"])
        cell = nb.page.locator(".jp-Notebook .jp-Cell").nth(2)
        nb.start_cell(2)
        # all of `before` has come; the reply waits at its gate, still streaming
        nb.wait_for(
            "([i, last]) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
            "?.querySelector('pre.agentnb-stream')?.innerText.includes(last)",
            [2, before[-1].strip()],
            what="the streamed text so far in the cell",
            timeout=60,
        )
        nb.wait_for(
            "([s, title]) => [...document.querySelectorAll(s + ' g.edge')].some(g => "
            "g.querySelector('title')?.textContent.trim() === title "
            "&& g.classList.contains('agentnb-state-streaming'))",
            [_SVG, "driver->Writer"],
            what="the edge driver->Writer drawn as streaming",
            timeout=30,
        )
        cell.scroll_into_view_if_needed()
        print(f"screenshot (growing): {nb.screenshot('browser_stream_growing.png')}")
        assert nb.prompt(2) == "[*]:"  # the cell still waits for the final message
        gate.touch()
        nb.wait_for(
            "(i) => /^\\[\\d+\\]/.test(document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
            ".querySelector('.jp-InputPrompt').textContent.trim())",
            2,
            what="the cell to finish",
            timeout=60,
        )
        nb.wait_for(
            "([s, title]) => [...document.querySelectorAll(s + ' g.edge')].some(g => "
            "g.querySelector('title')?.textContent.trim() === title "
            "&& g.classList.contains('agentnb-state-done'))",
            [_SVG, "driver->Writer"],
            what="the edge driver->Writer drawn as done",
            timeout=30,
        )
        cell.scroll_into_view_if_needed()
        print(f"screenshot (done): {nb.screenshot('browser_stream_done.png')}")
        watch = nb.page.evaluate("() => window.__agentnbStream")
        texts = [t.removeprefix("[Writer] ").rstrip("▍").strip() for t in watch["texts"]]
        whole = "".join(before + after).strip()
        assert watch["most"] == 1, watch  # one streamed output, updated in place
        assert len(texts) >= 4, texts  # it grew in several steps
        assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False)), texts  # in order
        assert texts[-1] == whole
        edges = watch["edges"]
        assert "agentnb-state-streaming" in edges and edges[-1] == "agentnb-state-done", edges
        assert edges.index("agentnb-state-streaming") < edges.index("agentnb-state-done"), edges
        assert whole in nb.output_text(2)  # and the final message is the cell's result
    finally:
        nb.page.close()
        for session in lab.api("GET", "/api/sessions"):
            lab.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
