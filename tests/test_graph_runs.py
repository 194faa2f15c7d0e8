"""A graph of a named run, agents stopped mid-call, and grouped counts that follow new agents.

Real servers and real event feeds; the graph's model and widget run in this
process (the browser tests show the same in JupyterLab).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from agents import Echo, Gate, Timed
from conftest import wait_state

import agentnb
from agentnb import Event, Msg
from agentnb._runtime._session import get_session
from agentnb.notebook._magics import _stop
from agentnb.notebook.graph._critical import report
from agentnb.notebook.graph._graph import graph
from agentnb.notebook.graph._model import GraphModel
from agentnb.notebook.graph._render import GraphRenderer
from agentnb.notebook.graph._views import Snapshot
from agentnb.notebook.graph._widget import LiveGraph

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def follow() -> Iterator[Callable[[GraphModel], None]]:
    """Feed models with this session's events (as ``agentnb.graph()`` does), until the test ends."""
    stops: list[Callable[[], None]] = []
    yield lambda model: stops.append(get_session().subscribe(model.apply))
    for stop in stops:
        stop()


def done(snap: Snapshot) -> int:
    return sum(n.done for n in snap.nodes)


def test_a_graph_of_a_named_run_shows_that_run_and_says_where_its_time_went() -> None:
    a, b, c = (Timed(name=n, seconds=s).to_dist() for n, s in (("A", 0.2), ("B", 0.4), ("C", 0.1)))
    g = graph(run="lesson")  # made before the run, as a notebook's graph cell is
    try:
        a(None).content  # before the run: not in it
        with agentnb.run("lesson"):
            pa = a()
            pb = b(pa)
            pc = c([pa, pb])
        pc.content  # read outside the block: still the run's
        c(None).content  # after the run (an exercise): not in it
        snap = g.wait_for(lambda s: done(s) == 3, 30)
        assert {n.name for n in snap.nodes} == {"driver", "A", "B", "C"}
        assert sorted((e.source, e.target) for e in snap.edges) == [
            ("A", "B"), ("A", "C"), ("B", "C"), ("driver", "A"),
        ]  # fmt: skip
        report = g.where_the_time_went()
        assert report is not None and len(report.calls) == 3
        said = report.sentences()
        assert said[0].startswith("Run 'lesson' took ") and "critical path: driver → A → B → C." in said[0]
        g.flush()
        assert "the calls of run &#x27;lesson&#x27;" in g.value or "the calls of run 'lesson'" in g.value
        assert "Where the time went" in g.value
    finally:
        g.close()


def test_a_new_run_of_the_name_starts_its_graph_over_and_a_late_graph_replays_the_run() -> None:
    a, b = (Echo(name=n).to_dist() for n in "AB")
    with agentnb.run("again"):
        a(Msg("user", 1)).content  # read inside the block: sent and answered in one round trip
    late = graph(run="again")  # made after the run: it shows it all
    try:
        assert done(late.wait_for(lambda s: done(s) == 1, 30)) == 1
        with agentnb.run("again"):
            b(a(Msg("user", 2))).content
        snap = late.wait_for(lambda s: done(s) == 2, 30)
        assert snap.messages == 2 and {n.name for n in snap.nodes} == {"driver", "A", "B"}
    finally:
        late.close()


def test_agents_stopped_mid_call_are_not_left_running_and_the_run_is_summed_up(tmp_path, follow) -> None:
    gate = tmp_path / "never"
    fast = Echo(name="Fast").to_dist()
    slow = Gate(name="Slow", path=str(gate)).to_dist()
    model = GraphModel()
    follow(model)
    p = slow(fast(Msg("user", "hello")))
    wait_state(p, "running")
    assert model.wait_for(lambda s: any(n.running for n in s.nodes), 30)
    _stop(["Slow"])  # %agentnb stop Slow: its server stops, mid-call
    snap = model.wait_for(lambda s: not any(n.running or n.queued for n in s.nodes), 30)
    states = {n.name: n.state for n in snap.nodes}
    assert states["Slow"] == "error" and states["Fast"] == "done", states
    drawn = GraphRenderer().render(snap)
    assert "running" not in drawn.split("agentnb-graph-caption")[1].split("</div>")[0]
    assert "1 failed" in drawn
    where = report(model.calls())
    assert where is not None, "where the time went must not disappear"
    assert where.path[-1].agent == "Slow" and where.path[-1].state == "error"
    tips = [m.error for m in model.messages() if m.target == "Slow"]
    assert tips == ["stopped: its server stopped before it finished"]


def _events(classes: dict[str, str], first: int, count: int) -> list[Event]:
    """Calls from the driver to ``count`` agents (named ``a<i>``), each queued, run and done."""
    out = []
    for i in range(first, first + count):
        name, task, t = f"a{i:04d}", f"t{i:04d}", 1000.0 + i
        classes[name] = ("Planner", "Coder", "Critic")[i % 3]
        address = f"127.0.0.1:{1000 + i % 4}"
        out += [
            Event("queued", task, name, address, caller="driver", timestamp=t, preview="go", direct_inputs=1),
            Event("running", task, name, address, timestamp=t + 0.001),
            Event("done", task, name, address, timestamp=t + 0.002, preview="ok"),
        ]
    return out


def _node_labels(svg: str) -> dict[str, str]:
    """``{group title: its drawn label}`` of a drawing's nodes."""
    labels = {}
    for title, body in re.findall(
        r'<g id="agentnb_n\d+" class="[^"]*">\s*<title>([^<]*)</title>(.*?)</g>', svg, re.S
    ):
        labels[title] = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", body))
    return labels


def test_grouped_nodes_count_their_agents_again_when_more_join() -> None:
    classes: dict[str, str] = {}
    widget = LiveGraph(GraphModel(), GraphRenderer(), by="auto", max_agents=100, class_of=classes.get)
    try:
        widget.model.extend(_events(classes, 0, 150))
        widget.flush()
        assert _node_labels(widget.value) == {
            "driver": "driver", "Planner": "Planner 50 agents", "Coder": "Coder 50 agents",
            "Critic": "Critic 50 agents",
        }  # fmt: skip
        assert "150 agents · 3 edges" in widget.value
        widget.model.extend(_events(classes, 150, 850))  # the same classes: the same shape, more members
        widget.flush()
        labels = _node_labels(widget.value)
        assert labels["Planner"] == "Planner 334 agents" and labels["Critic"] == "Critic 333 agents", labels
        assert "1,000 agents · 3 edges · 1,000 messages" in widget.value
        counts = [int(m) for m in re.findall(r"(\d+) agents", " ".join(labels.values()))]
        assert sum(counts) == 1000  # the groups add up to the caption
    finally:
        widget.close()


def test_captions_say_one_agent_one_edge_one_message() -> None:
    classes: dict[str, str] = {}
    model = GraphModel()
    model.extend(_events(classes, 0, 1))
    html = GraphRenderer().render(model.snapshot())
    assert "1 agent · 1 edge · 1 message" in html
