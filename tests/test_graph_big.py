"""Readable graphs: labels, the caption, big graphs (ring, dense, 1,000 agents) and ``%agentnb status``."""

from __future__ import annotations

import random
import re
import time

import pytest
from agents import Echo
from test_graph_model import SEED
from test_graph_render import drawn

import agentnb
from agentnb import Event, Msg
from agentnb.notebook.graph._group import group
from agentnb.notebook.graph._html import caption
from agentnb.notebook.graph._labels import edge_label, summarise
from agentnb.notebook.graph._model import GraphModel, ModelOptions
from agentnb.notebook.graph._render import GraphRenderer

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("preview", "label"),
    [
        ("hello there", "hello there"),  # text as it is
        ("42", "42"),
        ("{'start': 1796159826.23…", "{start, …}"),  # a cut dict: the keys seen so far
        ("{'start': 1.5, 'end': 2.5, 'pid': 7}", "{start, end, pid}"),
        ("{'a': {'b': 1, 'c': 2}, 'd': 'x, y'}", "{a, d}"),  # nested values and commas in strings
        ("[1, 2, 3]", "[3 items]"),
        ("['a, b', 'c', 'd', 'e…", "[4+ items]"),  # cut: at least four
        ("(1,)", "(1 item)"),
        ("{}", "{}"),
        ("a" * 40, "a" * 23 + "…"),
    ],
)
def test_labels_say_what_a_message_holds(preview: str, label: str) -> None:
    assert summarise(preview) == label


def test_a_grouped_edge_label_says_how_many_messages_in_words() -> None:
    assert edge_label("5", 3) == "5 · 3 msgs"
    assert edge_label("", 2) == "2 msgs" and edge_label("hi", 1) == "hi"


def test_the_caption_does_not_count_the_driver_as_an_agent() -> None:
    model = GraphModel()
    model.extend(SEED)
    text = caption(model.snapshot())
    assert "6 agents · 8 edges · 8 messages" in text


def test_a_graph_of_recent_traffic_says_what_it_leaves_out() -> None:
    model = GraphModel(ModelOptions(last=3))
    model.extend(SEED)
    text = caption(model.snapshot())
    assert "8 messages · showing the last 3 of them (graph(last=None) shows all)" in text
    assert "showing" not in caption(GraphModel().snapshot())


def ring(n: int) -> GraphModel:
    """One message going round ``n`` agents (the seed's conversation loop, n agents long)."""
    model = GraphModel()
    for i in range(n):
        source = "driver" if i == 0 else f"r{i - 1:02d}"
        inputs = () if i == 0 else (agentnb.InputRef("h:1", f"t{i - 1}", source),)
        model.apply(Event("queued", f"t{i}", f"r{i:02d}", "h:1", caller="driver", inputs=inputs))
    model.apply(
        Event(
            "queued",
            "back",
            "r00",
            "h:1",
            caller="driver",
            inputs=(agentnb.InputRef("h:1", f"t{n - 1}", f"r{n - 1:02d}"),),
        )
    )
    return model


def test_a_50_agent_ring_is_folded_into_the_box_not_drawn_as_one_long_row() -> None:
    renderer = GraphRenderer()
    html = renderer.render(ring(50).snapshot())
    assert renderer._template is not None
    width, height = renderer._template.size
    assert max(width / height, height / width) < 2.5, (renderer.engine, width, height)
    assert renderer.engine == "neato"
    assert len(drawn(html)[0]) == 51


def random_graph(agents: int, edges: int) -> GraphModel:
    rng, model, pairs = random.Random(1), GraphModel(), set()
    while len(pairs) < edges:
        pairs.add(tuple(rng.sample(range(agents), 2)))
    for i, (a, b) in enumerate(sorted(pairs)):
        model.apply(Event("queued", f"t{i}", f"agent{b}", "h:1", caller=f"agent{a}", preview=f"msg {i}"))
    return model


def test_50_agents_and_250_edges_are_laid_out_compactly_and_quickly() -> None:
    renderer = GraphRenderer()
    start = time.perf_counter()
    renderer.render(random_graph(50, 250).snapshot())
    assert renderer.engine == "neato" and time.perf_counter() - start < 5
    assert renderer._template is not None
    width, height = renderer._template.size
    assert width < 2000 and height < 2000 and max(width / height, height / width) < 2


def test_a_thousand_agents_are_grouped_by_class_by_default_and_the_caption_says_so() -> None:
    snap = random_graph(1000, 1500).snapshot()
    grouped = group(snap, "auto", lambda name: "Worker" if int(name[5:]) % 2 else "Critic", max_agents=100)
    assert {n.name for n in grouped.nodes} == {"Worker", "Critic"}
    assert sum(n.members for n in grouped.nodes) == len(snap.nodes) > 900
    assert sum(e.count for e in grouped.edges) == 1500
    assert {(e.source, e.target) for e in grouped.edges} <= {
        (a, b) for a in ("Worker", "Critic") for b in ("Worker", "Critic")
    }
    text = caption(grouped)
    assert (
        f"{len(snap.nodes)} agents ·" in text
        and "grouped by class into 2 nodes" in text
        and "by=&#x27;agent&#x27;" in text
    )
    html = GraphRenderer().render(grouped)
    assert set(drawn(html)[0]) == {"Worker", "Critic"} and re.search(r"\d{3} agents</text>", html)
    # up to max_agents, agents are drawn one by one; unknown classes group by server instead
    assert group(snap, "auto", lambda name: None, max_agents=2000) is snap
    by_server = group(snap, "auto", lambda name: None)
    assert {n.name for n in by_server.nodes} == {"h:1", "(server unknown)"}  # agents seen only as callers


def test_status_after_stop_says_so_instead_of_showing_empty_tables() -> None:
    a = Echo(name="Listed").to_dist()
    a(Msg("user", "hi")).content
    live = agentnb.status()
    html = live._repr_html_()
    assert html.count("<table>") == 2 and "Listed" in html
    assert "1 agent (1 running), 1 server launched (1 alive)" in repr(live)
    agentnb.shutdown()
    stopped = agentnb.status()
    assert "<table>" not in stopped._repr_html_() and "all stopped" in stopped._repr_html_()
    assert "no agents and no servers" in repr(stopped)
