"""``agentnb.graph()`` in a real Jupyter kernel run headless by nbclient, as CI runs notebooks.

The notebook starts six agents (each in a server process of its own), shows
the graph, and runs the seed's dataflow in its *last* cell: nothing after it
waits for the graph to settle, so the saved static copy must already hold the
final state when that cell ends (the graph's ``post_run_cell`` hook).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

pytestmark = pytest.mark.timeout(120)
HERE = Path(__file__).resolve().parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# B is the slow one: the critical path is driver -> A -> B -> D -> F
SECONDS = {"A": 0.2, "B": 0.6, "C": 0.1, "D": 0.2, "E": 0.2, "F": 0.2}
CELLS = [
    "import agentnb\nfrom agents import Timed\n"
    f"A, B, C, D, E, F = (Timed(name=n, seconds=s).to_dist() for n, s in {SECONDS!r}.items())",
    "agentnb.graph()",
    "a = A(); b = B(a); c = C(a); d = D([b, c]); e = E(); f = F([e, d])\nsorted(f.content)",
]
AGENT_EDGES = {"A->B", "A->C", "B->D", "C->D", "E->F", "D->F"}
CRITICAL = {"driver->A", "A->B", "B->D", "D->F"}


def svg_groups(html: str, kind: str) -> dict[str, set[str]]:
    """``{title: classes}`` of the node or edge groups in a drawing (regex: no DOM here).

    Attributes in any order: nbconvert re-serialises the HTML it exports.
    """
    found = re.findall(rf'<g [^>]*class="{kind} ([^"]*)"[^>]*>\s*<title>([^<]*)</title>', html)
    return {title.replace("&#45;&gt;", "->"): set(classes.split()) for classes, title in found}


def states(groups: dict[str, set[str]]) -> dict[str, str]:
    prefix = "agentnb-state-"
    return {t: next(c[len(prefix) :] for c in cs if c.startswith(prefix)) for t, cs in groups.items()}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    """The notebook, executed headless by nbclient and saved to disk, as read back."""
    env_path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env_path  # the kernel and the servers it starts import tests/agents.py
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        NotebookClient(
            nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    path = tmp_path_factory.mktemp("nb") / "graph.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def test_the_saved_static_copy_holds_the_finished_graph_without_a_widget_manager(
    executed: nbformat.NotebookNode,
) -> None:
    widget, static = executed.cells[1].outputs
    # the widget view is an output of its own (with nothing else to show) ...
    assert widget["output_type"] == "display_data" and widget["data"][WIDGET_VIEW]["model_id"]
    assert widget["data"]["text/plain"] == ""
    # ... and the static copy needs no widget manager: plain HTML holding graphviz's SVG
    assert WIDGET_VIEW not in static["data"]
    html = static["data"]["text/html"]
    assert 'class="agentnb-static"' in html and "<svg" in html
    assert states(svg_groups(html, "node")) == {"driver": "idle", **dict.fromkeys("ABCDEF", "done")}
    edges = svg_groups(html, "edge")
    assert states(edges) == dict.fromkeys(AGENT_EDGES | {"driver->A", "driver->E"}, "done")
    caption = html.split('class="agentnb-graph-caption"')[1].split("</div>")[0]
    assert "6 agents · 8 edges · 8 messages" in caption and "running" not in caption


def test_the_saved_copy_marks_the_critical_path_and_says_where_the_time_went(
    executed: nbformat.NotebookNode,
) -> None:
    html = executed.cells[1].outputs[1]["data"]["text/html"]
    edges = svg_groups(html, "edge")
    assert {t for t, classes in edges.items() if "agentnb-critical" in classes} == CRITICAL
    assert "its critical path: driver → A → B → D → F" in html
    assert re.search(r"D waited \d+ ms for B", html), html[html.find("Where the time went") :][:600]
    assert 'class="agentnb-timeline"' in html  # the second view, folded under the graph
    text = executed.cells[1].outputs[1]["data"]["text/plain"]
    assert "critical path: driver → A → B → D → F" in text


def test_an_html_export_of_the_saved_notebook_shows_the_static_picture(
    executed: nbformat.NotebookNode,
) -> None:
    body, _ = HTMLExporter().from_notebook_node(executed)
    assert 'class="agentnb-static"' in body
    assert set(svg_groups(body, "node")) == {"driver", *"ABCDEF"}
