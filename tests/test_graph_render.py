"""Drawing the graph with the real graphviz, its fallbacks, and the widget following real servers."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agents import Echo, Gate
from conftest import wait_state
from test_graph_model import SEED, ev

import agentnb
from agentnb import Event, Msg
from agentnb._runtime._session import get_session
from agentnb.notebook.graph._graph import install_event_log
from agentnb.notebook.graph._model import GraphModel, ModelOptions
from agentnb.notebook.graph._render import GraphRenderer, GraphvizError, RenderOptions, run_graphviz
from agentnb.notebook.graph._widget import LiveGraph

pytestmark = pytest.mark.timeout(60)
HERE = Path(__file__).resolve().parent
SVG = "{http://www.w3.org/2000/svg}"


def drawn(html_or_svg: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``{title: classes}`` of the node groups and edge groups in a drawing (as a browser reads it)."""
    svg = ET.fromstring(html_or_svg[html_or_svg.index("<svg") : html_or_svg.rindex("</svg>") + 6])
    out: dict[str, dict[str, set[str]]] = {"node": {}, "edge": {}}
    for g in svg.iter(f"{SVG}g"):
        classes = set(g.get("class", "").split())
        for kind in ("node", "edge") if classes & {"node", "edge"} else ():
            if kind in classes:
                title = g.find(f"{SVG}title")
                assert title is not None and title.text
                out[kind][title.text] = classes - {kind}
    return out["node"], out["edge"]


def states(groups: dict[str, set[str]]) -> dict[str, str]:
    prefix = "agentnb-state-"
    return {
        t: " ".join(sorted(c[len(prefix) :] for c in cs if c.startswith(prefix))) for t, cs in groups.items()
    }


def geometry(svg: str) -> list[str]:
    """Every coordinate the layout produced (paths, polygons, text positions, the canvas)."""
    return re.findall(r'(?:\bd|points|x|y|viewBox|width|height)="[^"]*"', svg)


def seed_until(n: int) -> GraphModel:
    model = GraphModel()
    model.extend(SEED[:n])
    return model


def test_the_drawing_follows_the_dom_contract() -> None:
    svg = GraphRenderer().svg(seed_until(len(SEED)).snapshot())
    node_groups, edge_groups = drawn(svg)
    assert states(node_groups) == {"driver": "idle", **dict.fromkeys("ABCDEF", "done")}
    expected = {"driver->A", "driver->E", "A->B", "A->C", "B->D", "C->D", "E->F", "D->F"}
    assert states(edge_groups) == dict.fromkeys(expected, "done")
    assert "<title>A&#45;&gt;B</title>" in svg  # graphviz's own edge title, as the browser test reads it


def test_a_state_change_recolours_the_drawing_without_a_new_layout() -> None:
    model = seed_until(17)  # every reply but F's is in (so every label is drawn); F runs
    renderer = GraphRenderer()
    before = renderer.svg(model.snapshot())
    layouts = renderer.layouts
    model.extend(SEED[17:])
    after = renderer.svg(model.snapshot())
    assert renderer.layouts == layouts  # graphviz did not run again
    assert geometry(after) == geometry(before)  # every coordinate as laid out
    assert states(drawn(before)[1])["D->F"] == "running" and states(drawn(after)[1])["D->F"] == "done"
    assert states(drawn(before)[0])["F"] == "running" and states(drawn(after)[0])["F"] == "done"
    f = re.search(r"<title>F</title>.*?</g>", after, re.S)
    assert f is not None and 'stroke="#43a047"' in f.group(0) and "#1e88e5" not in f.group(0)
    assert after.count("agentnb-state-") == before.count("agentnb-state-")


def test_a_reply_that_labels_an_edge_fills_its_label_slot_without_a_new_layout() -> None:
    model = seed_until(8)  # every call queued, no reply yet: empty label slots
    renderer = GraphRenderer()
    before = renderer.svg(model.snapshot())
    model.apply(SEED[8])  # A's reply now labels A->B and A->C
    after = renderer.svg(model.snapshot())
    assert renderer.layouts == 1  # the layout reserved room for labels from the start
    assert geometry(after) == geometry(before)  # so no node moved
    assert after.count(">{start, agent}</text>") == 2  # a dict's keys, not its raw preview


def test_labels_say_what_the_message_holds_and_how_many_messages_an_edge_carried() -> None:
    model = GraphModel()
    model.extend([
        ev("queued", "t1", "X", 0, caller="driver", preview="hello there"),
        ev("done", "t1", "X", 1, preview="{'start': 1796159826.2312, 'end': 1796159828.2…"),
        ev("queued", "t2", "Y", 2, caller="driver", inputs="X:t1"),
        ev("queued", "t3", "Y", 3, caller="driver", preview="[1, 2, 3]"),
        ev("queued", "t4", "Y", 4, caller="driver", preview="5"),
    ])  # fmt: skip
    svg = GraphRenderer().svg(model.snapshot())
    assert ">hello there</text>" in svg  # text as it is
    assert ">{start, end, …}</text>" in svg  # a dict: its keys
    assert ">5 · 2 msgs</text>" in svg  # the latest message, and how many messages that edge carried


def test_recolouring_matches_a_fresh_layout_of_the_same_state() -> None:
    model = seed_until(11)
    live = GraphRenderer()
    live.svg(model.snapshot())
    model.extend(SEED[11:])
    snap = model.snapshot()
    assert drawn(live.svg(snap)) == drawn(GraphRenderer().svg(snap))


def test_a_new_agent_or_edge_lays_the_graph_out_again() -> None:
    model = seed_until(len(SEED))
    renderer = GraphRenderer()
    renderer.render(model.snapshot())
    layouts = renderer.layouts
    model.apply(ev("queued", "tg", "G", 1, caller="F", preview="next"))
    nodes, _ = drawn(renderer.render(model.snapshot()))
    assert renderer.layouts == layouts + 1 and states(nodes)["G"] == "queued"


def test_tooltips_carry_the_full_preview_ids_and_timings() -> None:
    long = "a long reply " * 4
    model = GraphModel()
    model.extend([
        ev("queued", "t1", "X", 0, caller="driver", preview="go"),
        ev("running", "t1", "X", 0.5),
        ev("done", "t1", "X", 1.75, preview=long.strip(), message_id="m-x-1"),
        ev("queued", "t2", "Y", 2, caller="driver", inputs="X:t1"),
    ])  # fmt: skip
    svg = GraphRenderer(RenderOptions(label_chars=12)).svg(model.snapshot())
    tips = re.findall(r'xlink:title="([^"]*)"', svg)
    xy = next(t for t in tips if t.startswith("X -&gt; Y"))
    assert long.strip() in xy and "message m-x-1" in xy and "queued" in xy
    x = next(t for t in tips if t.startswith("X: done"))
    assert "1 done" in x
    dx = next(t for t in tips if t.startswith("driver -&gt; X"))
    assert "waited 0.500 s, ran 1.250 s" in dx
    assert ">a long repl…</text>" in svg  # the label is short; the tooltip has it all


def test_odd_agent_names_keep_their_titles() -> None:
    names = ['say "hi"', "a&b <c>", "back\\N slash", "ünï"]
    model = GraphModel()
    model.extend(Event("queued", f"t{i}", n, "h:1", caller="driver") for i, n in enumerate(names))
    nodes, edges = drawn(GraphRenderer().svg(model.snapshot()))
    assert set(nodes) == {"driver", *names}
    assert set(edges) == {f"driver->{n}" for n in names}


def synthetic(nodes: int, edges: int, seed: int = 1) -> GraphModel:
    """A random graph of ``nodes`` agents calling each other (each edge one finished call)."""
    rng, model, pairs = random.Random(seed), GraphModel(), set()
    while len(pairs) < edges:
        pairs.add(tuple(rng.sample(range(nodes), 2)))
    for i, (a, b) in enumerate(sorted(pairs)):
        model.apply(Event("queued", f"t{i}", f"agent{b}", "h:1", caller=f"agent{a}", preview=f"msg {i}"))
    return model


def dot_children() -> list[int]:
    """Our child processes that are graphviz's dot."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split()
        except OSError:
            continue
        if fields[1] == "(dot)" and int(fields[3]) == os.getpid():
            found.append(int(fields[0]))
    return found


def test_a_slow_layout_is_killed_at_the_timeout_and_the_view_says_so() -> None:
    snap = synthetic(400, 600).snapshot()
    renderer = GraphRenderer(RenderOptions(engine="dot", timeout=0.05))
    start = time.perf_counter()
    html = renderer.render(snap)
    assert time.perf_counter() - start < 2  # dot alone needs far longer for this graph
    assert "took longer than 0.05 s" in html and "<table>" in html and "<svg" not in html
    assert 'class="agentnb-graph"' in html
    assert dot_children() == []  # the dot process was killed and reaped
    with pytest.raises(GraphvizError, match="took longer"):
        run_graphviz("digraph { a -> b }", "dot", timeout=0.0)


def test_big_graphs_drop_labels_and_use_sfdp() -> None:
    snap = synthetic(400, 600).snapshot()
    renderer = GraphRenderer()
    svg = renderer.svg(snap)
    assert renderer.engine == "sfdp" and renderer.layouts == 1
    nodes, edges = drawn(svg)
    assert len(nodes) == len(snap.nodes) > 300 and len(edges) == 600
    assert "msg " not in svg.replace("latest: msg ", "")  # labels only in the tooltips
    small = GraphRenderer().svg(synthetic(10, 15).snapshot())
    assert ">msg 0</text>" in small


NO_DOT = """
import json
from agentnb.notebook.graph._model import GraphModel
from agentnb.notebook.graph._render import GraphRenderer, GraphvizMissingError
from test_graph_model import SEED
model = GraphModel()
model.extend(SEED)
html = GraphRenderer().render(model.snapshot())
try:
    model.to_svg()
    error = ""
except GraphvizMissingError as exc:
    error = str(exc)
print(json.dumps({"html": html, "error": error}))
"""


def test_without_graphviz_the_view_is_a_table_that_says_how_to_install_it(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path), PYTHONPATH=str(HERE))  # an empty PATH: no dot
    out = subprocess.run(
        [sys.executable, "-c", NO_DOT], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    result = json.loads(out.stdout)
    html = result["html"]
    assert 'class="agentnb-graph"' in html and "<svg" not in html
    for hint in (
        "apt-get install graphviz",
        "conda install -c conda-forge graphviz",
        "brew install graphviz",
    ):
        assert hint in html
    assert html.count('class="agentnb-node agentnb-state-done"') == 6
    assert html.count('class="agentnb-edge agentnb-state-done"') == 8
    assert "'dot' program is not on PATH" in result["error"]


class Values:
    """Every value a widget is given, with a condition to wait on."""

    def __init__(self, widget: LiveGraph) -> None:
        self.values: list[str] = []
        self.changed = threading.Condition()
        self.any = threading.Event()
        widget.observe(self._on_value, names="value")

    def _on_value(self, change: dict) -> None:
        with self.changed:
            self.values.append(change["new"])
            self.any.set()
            self.changed.notify_all()

    def wait(self, predicate: Callable[[str], bool], timeout: float = 20) -> str:
        with self.changed:
            assert self.changed.wait_for(lambda: self.values and predicate(self.values[-1]), timeout), (
                f"the widget did not show it within {timeout} s; last value: {self.values[-1:]}"
            )
            return self.values[-1]


def edge_state(value: str, title: str) -> str:
    return states(drawn(value)[1]).get(title, "missing") if "<svg" in value else "missing"


@pytest.fixture
def live() -> Iterator[list[LiveGraph]]:
    graphs: list[LiveGraph] = []
    yield graphs
    for g in graphs:
        g.close()


def test_the_widget_redraws_a_real_call_from_running_to_done(tmp_path: Path, live: list[LiveGraph]) -> None:
    gate = tmp_path / "release"
    fast = Echo(name="Fast").to_dist()
    slow = Gate(name="Slow", path=str(gate)).to_dist()
    # one finished call each first, so both servers' event feeds are live: a call made within
    # milliseconds of to_dist() sometimes loses its "queued" event under load (a runtime issue)
    gate.touch()
    for agent in (fast, slow):
        wait_state(agent(Msg("user", "warm-up")), "done")
    gate.unlink()
    g = agentnb.graph(replay=False, rate=50)
    live.append(g)
    seen = Values(g)
    p = slow(fast(Msg("user", "hi")))
    expected = {"driver": "idle", "Fast": "done", "Slow": "running"}
    # two servers, two event feeds: Slow's events may be drawn before Fast's arrive
    running = seen.wait(
        lambda v: edge_state(v, "Fast->Slow") == "running" and states(drawn(v)[0]) == expected
    )
    layouts = g.renderer.layouts
    assert edge_state(running, "driver->Fast") == "done"
    gate.touch()
    done = seen.wait(
        lambda v: edge_state(v, "Fast->Slow") == "done" and states(drawn(v)[0])["Slow"] == "done"
    )
    assert g.renderer.layouts == layouts  # recoloured, not laid out again
    assert ">hi</text>" in done  # Fast's reply labels the edge
    assert isinstance(p.content, int)  # the Slow server's pid
    g.stop()
    assert g._listener not in get_session().listeners


def test_a_graph_made_after_the_calls_replays_them() -> None:
    install_event_log()  # the notebook layer's hook, so a later graph() shows earlier calls
    a = Echo(name="Early").to_dist()
    wait_state(a(Msg("user", "warm-up")), "done")  # its event feed is live (see the test above)
    wait_state(a(Msg("user", "before the graph")), "done")
    g = agentnb.graph()
    try:
        snap = g.wait_for(
            lambda s: any(e.key == ("driver", "Early") and e.counts["done"] == 2 for e in s.edges)
        )
        assert (
            next(e for e in snap.edges if e.key == ("driver", "Early")).label == "before the graph · 2 msgs"
        )
    finally:
        g.close()


def test_a_burst_of_events_is_coalesced_and_nothing_is_sent_while_idle(live: list[LiveGraph]) -> None:
    model = GraphModel(ModelOptions(last=200))
    g = LiveGraph(model, GraphRenderer(), session=None, rate=10, settle=0.05)
    live.append(g)
    seen = Values(g)
    start = time.perf_counter()
    for i in range(5000):  # what a loop thread may deliver in one go
        task = f"t{i}"
        model.apply(Event("queued", task, f"agent{i % 20}", "h:1", caller="driver", preview=str(i)))
        if model.apply(Event("done", task, f"agent{i % 20}", "h:1")):
            g.changed()
    final = seen.wait(lambda v: "4999" in v)  # the last message, in a label and a tooltip
    elapsed = time.perf_counter() - start
    assert len(seen.values) <= elapsed * 10 + 3, (len(seen.values), elapsed)  # at most ~rate per second
    assert states(drawn(final)[1])["driver->agent19"] == "done"
    seen.any.clear()
    assert not seen.any.wait(0.3)  # idle: the widget is sent nothing
