"""``agentnb.graph()`` in a real Jupyter kernel (nbclient + ipykernel) following the seed's graph."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.timeout(120)
HERE = Path(__file__).resolve().parent

CELLS = [
    # six agents, each in a server process of its own; then the graph; then the seed's calls
    "import json\nimport agentnb\nfrom agents import Timed\n"
    'A, B, C, D, E, F = (Timed(name=n, seconds=0.2).to_dist() for n in "ABCDEF")',
    "g = agentnb.graph()\ng",
    "a = A(); b = B(a); c = C(a); d = D([b, c]); e = E(); f = F([e, d])\nsorted(f.content)",
    # wait on the model's own condition (no sleeps), then push the drawing out from this cell
    "done = lambda s: sum(n.done for n in s.nodes) == 6 and all(e.state == 'done' for e in s.edges)\n"
    "snap = g.wait_for(done, timeout=30)\ng.flush()\n"
    "print(json.dumps({'model': g.model.as_dict(), 'value': g.value, 'layouts': g.renderer.layouts}))",
    "g.stop()\nagentnb.shutdown()\nprint(g)",
]
AGENT_EDGES = {"A->B", "A->C", "B->D", "C->D", "E->F", "D->F"}


def svg_groups(html: str, kind: str) -> dict[str, str]:
    """``{title: agentnb-state classes}`` of the node or edge groups in a drawing (regex: no DOM here)."""
    found = re.findall(rf'<g id="[^"]*" class="{kind} ([^"]*)">\s*<title>([^<]*)</title>', html)
    return {title.replace("&#45;&gt;", "->"): classes for classes, title in found}


def test_the_widget_holds_the_seed_graph_with_final_states(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel and the servers it starts import tests/agents.py
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()

    shown = json.loads(_stdout(nb.cells[3]))
    model: dict[str, Any] = shown["model"]
    assert {n["name"]: n["state"] for n in model["nodes"]} == {
        "driver": "idle",
        **dict.fromkeys("ABCDEF", "done"),
    }
    model_edges = {f"{e['source']}->{e['target']}": (e["state"], e["count"]) for e in model["edges"]}
    assert model_edges == dict.fromkeys(AGENT_EDGES | {"driver->A", "driver->E"}, ("done", 1))

    # the widget's value (its state on the kernel side, what the browser draws)
    value = shown["value"]
    assert 'class="agentnb-graph"' in value
    assert svg_groups(value, "node") == {n: "agentnb-state-done" for n in "ABCDEF"} | {
        "driver": "agentnb-state-idle"
    }
    assert svg_groups(value, "edge") == dict.fromkeys(
        AGENT_EDGES | {"driver->A", "driver->E"}, "agentnb-state-done"
    )

    # the saved notebook: one output with the widget view and, for nbviewer, the same drawing as HTML
    (output,) = nb.cells[1].outputs
    assert output["output_type"] == "display_data"
    assert output["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert svg_groups(output["data"]["text/html"], "edge") == svg_groups(value, "edge")
    assert "stopped" in _stdout(nb.cells[4])


def _stdout(cell: Any) -> str:
    return "".join(
        o.get("text", "") for o in cell.outputs if o["output_type"] == "stream" and o["name"] == "stdout"
    )
