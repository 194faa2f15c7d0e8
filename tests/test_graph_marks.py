"""What a pool of servers tells the graph: agents lost with their server, agents respawned elsewhere,
and agents grouped by the host they run on (recorded events, no servers)."""

from __future__ import annotations

import pytest

from agentnb import Event
from agentnb.notebook.graph._dot import dot_source, node_tooltip
from agentnb.notebook.graph._group import group
from agentnb.notebook.graph._model import GraphModel
from agentnb.notebook.graph._render import RenderOptions

pytestmark = pytest.mark.timeout(30)


def call(agent: str, task: str, address: str, t: float) -> list[Event]:
    return [
        Event("queued", task, agent, address, caller="driver", timestamp=t),
        Event("done", task, agent, address, timestamp=t + 0.1, preview="ok"),
    ]


def test_a_lost_agent_is_drawn_dashed_with_its_cause_and_a_respawned_one_where_it_runs_now() -> None:
    model = GraphModel()
    model.extend(call("A", "t1", "10.0.0.1:5000", 100.0) + call("B", "t2", "10.0.0.2:5000", 100.0))
    shape = model.snapshot().shape_version
    model.apply(Event("lost", "", "A", "10.0.0.1:5000", preview="the worker died", timestamp=101.0))
    model.apply(Event("respawned", "", "B", "10.0.0.3:5000", preview="its worker died", timestamp=101.0))
    # a late event of a call made before B was respawned does not move it back
    model.extend(call("B", "t0", "10.0.0.2:5000", 99.0))
    snap = model.snapshot()
    assert snap.shape_version > shape  # their labels changed: laid out again
    nodes = {n.name: n for n in snap.nodes}
    assert (nodes["A"].mark, nodes["B"].mark) == ("lost", "respawned")
    assert nodes["B"].address == "10.0.0.3:5000"
    assert "lost: the worker died" in node_tooltip(nodes["A"])
    dot = dot_source(snap, RenderOptions())
    assert 'label="A\\n(lost)"' in dot and "dashed" in dot and 'label="B\\n(respawned)"' in dot
    # calls after the respawn: where it runs now
    model.extend(call("B", "t3", "10.0.0.3:5000", 102.0))
    assert {n.name: n.address for n in model.snapshot().nodes}["B"] == "10.0.0.3:5000"
    # marks said twice count once
    version = model.snapshot().version
    assert not model.apply(
        Event("lost", "", "A", "10.0.0.1:5000", preview="the worker died", timestamp=101.0)
    )
    assert model.snapshot().version == version


def test_agents_are_grouped_by_the_host_they_run_on() -> None:
    model = GraphModel()
    for i, address in enumerate(["10.0.0.1:5000", "10.0.0.1:5001", "10.0.0.2:5000"]):
        model.extend(call(f"a{i}", f"t{i}", address, 100.0 + i))
    grouped = group(model.snapshot(), "host", lambda name: None)
    names = {n.name: n.members for n in grouped.nodes}
    assert names == {"driver": 1, "10.0.0.1": 2, "10.0.0.2": 1}
    assert "grouped by host into 2 nodes" in grouped.note
