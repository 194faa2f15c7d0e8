"""The graph's dataflow model, fed with recorded event sequences (no servers, no widgets)."""

from __future__ import annotations

import json
import random
import threading

import pytest

from agentnb import Event, InputRef
from agentnb.notebook.graph._model import GraphModel, ModelOptions, Snapshot

pytestmark = pytest.mark.timeout(30)

PORTS = {name: 41000 + i for i, name in enumerate("ABCDEFGHXYZ")}


def ev(kind: str, task: str, agent: str, t: float, *, caller: str = "", inputs: str = "",
       preview: str = "", message_id: str = "", direct: int = 0) -> Event:  # fmt: skip
    """An event as a server sends it; ``inputs`` is "agent:task agent:task" (placeholders consumed)."""
    refs = tuple(
        InputRef(f"127.0.0.1:{PORTS[a]}", task_id, a) for a, task_id in (i.split(":") for i in inputs.split())
    )
    return Event(kind, task, agent, f"127.0.0.1:{PORTS[agent]}", caller=caller, inputs=refs,
                 timestamp=1000.0 + t, preview=preview, message_id=message_id,
                 direct_inputs=direct)  # fmt: skip


def reply(agent: str) -> str:
    return f"{{'start': …, 'agent': '{agent}'}}"


# a = A(); b = B(a); c = C(a); d = D([b, c]); e = E(); f = F([e, d]) over six real servers, as the
# driver received it (recorded, then ids and times shortened): F's call is queued before D's and B's.
SEED = [
    ev("queued", "ta", "A", 0.000, caller="driver"),
    ev("running", "ta", "A", 0.001),
    ev("queued", "te", "E", 0.002, caller="driver"),
    ev("running", "te", "E", 0.002),
    ev("queued", "tc", "C", 0.003, caller="driver", inputs="A:ta"),
    ev("queued", "tf", "F", 0.003, caller="driver", inputs="E:te D:td"),
    ev("queued", "tb", "B", 0.002, caller="driver", inputs="A:ta"),
    ev("queued", "td", "D", 0.005, caller="driver", inputs="B:tb C:tc"),
    ev("done", "ta", "A", 0.051, preview=reply("A"), message_id="ma"),
    ev("running", "tc", "C", 0.052),
    ev("running", "tb", "B", 0.052),
    ev("done", "te", "E", 0.053, preview=reply("E"), message_id="me"),
    ev("done", "tc", "C", 0.103, preview=reply("C"), message_id="mc"),
    ev("done", "tb", "B", 0.103, preview=reply("B"), message_id="mb"),
    ev("running", "td", "D", 0.104),
    ev("done", "td", "D", 0.155, preview=reply("D"), message_id="md"),
    ev("running", "tf", "F", 0.156),
    ev("done", "tf", "F", 0.207, preview=reply("F"), message_id="mf"),
]
SEED_EDGES = {
    ("driver", "A"), ("driver", "E"), ("A", "B"), ("A", "C"), ("B", "D"), ("C", "D"), ("E", "F"), ("D", "F"),
}  # fmt: skip


def edges(snap: Snapshot) -> dict[tuple[str, str], str]:
    return {(e.source, e.target): e.state for e in snap.edges}


def nodes(snap: Snapshot) -> dict[str, str]:
    return {n.name: n.state for n in snap.nodes}


def seed_model(**options: object) -> GraphModel:
    model = GraphModel(ModelOptions(**options))  # type: ignore[arg-type]
    model.extend(SEED)
    return model


def test_the_seed_graph_has_the_six_agents_the_driver_and_eight_edges_all_done() -> None:
    snap = seed_model().snapshot()
    assert nodes(snap) == {"driver": "idle", **dict.fromkeys("ABCDEF", "done")}
    assert edges(snap) == dict.fromkeys(SEED_EDGES, "done")
    assert all(e.count == 1 for e in snap.edges)
    assert snap.messages == 8


def test_an_edge_from_a_placeholder_carries_the_producers_reply_and_timings() -> None:
    by_key = {e.key: e for e in seed_model().snapshot().edges}
    ab = by_key["A", "B"].latest
    assert (ab.preview, ab.message_id, ab.source_task, ab.task_id) == (reply("A"), "ma", "ta", "tb")
    assert (ab.ready_at, ab.queued_at, ab.started_at, ab.finished_at) == (
        1000.051,
        1000.002,
        1000.052,
        1000.103,
    )
    assert by_key["D", "F"].label == "{start, agent}"  # a dict's keys, not its raw preview
    assert by_key["driver", "A"].latest.preview == ""  # A() had no input


def test_the_caller_edge_exists_only_for_direct_input_or_no_input() -> None:
    model = GraphModel()
    model.extend([
        ev("queued", "t1", "X", 0, caller="driver", preview="hello"),  # X(Msg("user", "hello"))
        ev("queued", "t2", "Y", 0, caller="driver", inputs="X:t1"),  # Y(x): only a placeholder
        ev("queued", "t3", "Z", 0, caller="Y", preview="from inside Y's reply"),  # Y's reply calls Z
    ])  # fmt: skip
    snap = model.snapshot()
    assert set(edges(snap)) == {("driver", "X"), ("X", "Y"), ("Y", "Z")}
    labels = {e.key: e.label for e in snap.edges}
    assert labels["driver", "X"] == "hello" and labels["Y", "Z"] == "from inside Y's reply"
    assert labels["X", "Y"] == ""  # X has not replied yet


def test_events_from_different_servers_in_any_order_give_the_same_graph() -> None:
    expected = seed_model().as_dict(messages=True)
    rng = random.Random(5)
    for _ in range(20):
        shuffled = SEED[:]
        rng.shuffle(shuffled)  # even a call's own events out of order: states only move forward
        model = GraphModel()
        model.extend(shuffled)
        got = model.as_dict(messages=True)
        assert sorted(got["nodes"], key=str) == sorted(expected["nodes"], key=str)
        assert sorted(got["edges"], key=str) == sorted(expected["edges"], key=str)


def test_replayed_events_count_once() -> None:
    model = seed_model()
    before = model.as_dict(messages=True)
    assert not model.extend(SEED)  # a feed that reconnected and replayed its history
    assert model.as_dict(messages=True) == before


def test_an_error_colours_its_edges_and_node_and_flows_downstream() -> None:
    model = GraphModel()
    model.extend([
        ev("queued", "t1", "A", 0, caller="driver", preview="boom"),
        ev("queued", "t2", "B", 0, caller="driver", inputs="A:t1"),
        ev("running", "t1", "A", 1),
        ev("error", "t1", "A", 2, preview="ValueError: cannot handle 'boom'"),
        ev("error", "t2", "B", 3, preview="RemoteError: could not read the reply of agent 'A'"),
    ])  # fmt: skip
    snap = model.snapshot()
    assert nodes(snap) == {"driver": "idle", "A": "error", "B": "error"}
    assert edges(snap) == {("driver", "A"): "error", ("A", "B"): "error"}
    ab = next(e for e in snap.edges if e.key == ("A", "B")).latest
    assert ab.preview == "error: ValueError: cannot handle 'boom'" and ab.started_at is None
    assert "could not read" in ab.error
    model.extend([ev("queued", "t3", "A", 4, caller="driver", preview="ok"), ev("done", "t3", "A", 5)])
    snap = model.snapshot()
    a = next(n for n in snap.nodes if n.name == "A")
    assert (a.state, a.done, a.errors, a.last_error) == ("done", 1, 1, "ValueError: cannot handle 'boom'")


def conversation(turns: int) -> list[Event]:
    """The seed's loop ``x = a(x); x = b(x)``: driver->A once, then A->B, B->A, A->B, ..."""
    out, prev = [], None
    for i in range(turns):
        for agent in "AB":
            task = f"{agent}{i}"
            inputs = f"{prev[0]}:{prev}" if prev else ""
            out.append(ev("queued", task, agent, i, caller="driver", inputs=inputs))
            out.append(ev("running", task, agent, i + 0.1))
            out.append(ev("done", task, agent, i + 0.2, preview=f"turn {i}{agent}", message_id=f"m{task}"))
            prev = task
    return out


def test_repeated_edges_group_into_one_edge_with_a_count() -> None:
    model = GraphModel()
    model.extend(conversation(5))
    by_key = {e.key: e for e in model.snapshot().edges}
    assert {k: e.count for k, e in by_key.items()} == {("driver", "A"): 1, ("A", "B"): 5, ("B", "A"): 4}
    assert by_key["A", "B"].label == "turn 4A · 5 msgs"  # the latest message, and how many
    assert by_key["B", "A"].counts == {"queued": 0, "running": 0, "streaming": 0, "done": 4, "error": 0}


def test_without_grouping_every_message_is_an_edge() -> None:
    model = GraphModel(ModelOptions(group=False))
    model.extend(conversation(3))
    snap = model.snapshot()
    assert len(snap.edges) == 6 and all(e.count == 1 for e in snap.edges)
    assert [e.label for e in snap.edges if e.key[:2] == ("A", "B")] == ["turn 0A", "turn 1A", "turn 2A"]


def test_the_last_n_messages_scope_drops_old_edges_and_agents() -> None:
    model = GraphModel(ModelOptions(last=3))
    model.extend(SEED)
    snap = model.snapshot()  # messages count from their call's "queued": B's, then D's two were last
    assert sum(e.count for e in snap.edges) == 3
    assert set(edges(snap)) == {("A", "B"), ("B", "D"), ("C", "D")}
    assert set(nodes(snap)) == {"A", "B", "C", "D"}  # the driver, E and F left the scope
    assert len(model.messages()) == 8  # kept for export all the same


def test_a_state_change_is_not_a_shape_change() -> None:
    model = GraphModel()
    model.extend(SEED[:8])  # every call queued, A and E running
    shape, version = model.shape_version, model.version
    assert model.apply(SEED[9])  # C starts running
    assert model.shape_version == shape and model.version == version + 1
    model.extend(SEED[8:])
    assert model.shape_version == shape  # nothing but states and labels changed
    assert model.apply(ev("queued", "tg", "G", 1, caller="F"))  # a new agent and a new edge
    assert model.shape_version > shape


def test_an_edge_gaining_its_label_bumps_the_label_version() -> None:
    model = GraphModel()
    model.extend(SEED[:8])
    labels = model.label_version
    model.apply(SEED[8])  # A's reply: A->B and A->C get labels
    assert model.label_version == labels + 2
    model.apply(SEED[9])
    assert model.label_version == labels + 2


def test_live_states_while_calls_run() -> None:
    model = GraphModel()
    model.extend(SEED[:11])  # A done; B and C running; D and F waiting
    snap = model.snapshot()
    assert nodes(snap) == {"driver": "idle", "A": "done", "B": "running", "C": "running", "D": "queued",
                           "E": "running", "F": "queued"}  # fmt: skip
    assert edges(snap)["A", "B"] == "running" and edges(snap)["B", "D"] == "queued"


def test_events_from_many_threads_while_another_reads() -> None:
    model = GraphModel()
    per_thread = 500

    def feed(agent: str) -> None:
        for i in range(per_thread):
            task = f"{agent}-{i}"
            model.extend([ev("queued", task, agent, i, caller="driver"), ev("done", task, agent, i + 0.5)])

    threads = [threading.Thread(target=feed, args=(a,)) for a in "XYZ"]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        snap = model.snapshot()
        assert all(e.count == sum(e.counts.values()) for e in snap.edges)
    for t in threads:
        t.join()
    snap = model.snapshot()
    assert {n.name: n.done for n in snap.nodes} == {
        "driver": 0,
        "X": per_thread,
        "Y": per_thread,
        "Z": per_thread,
    }


def test_wait_for_wakes_on_a_change_and_times_out_otherwise() -> None:
    model = GraphModel()
    with pytest.raises(TimeoutError):
        model.wait_for(lambda s: bool(s.nodes), timeout=0.05)
    feeder = threading.Thread(target=model.extend, args=(SEED,))
    feeder.start()
    snap = model.wait_for(lambda s: nodes(s).get("F") == "done", timeout=10)
    feeder.join()
    assert edges(snap) == dict.fromkeys(SEED_EDGES, "done")


def test_the_json_export_holds_nodes_edges_and_messages() -> None:
    data = json.loads(seed_model().to_json(messages=True))
    assert {n["name"] for n in data["nodes"]} == {"driver", *"ABCDEF"}
    assert {(e["source"], e["target"]) for e in data["edges"]} == SEED_EDGES
    assert len(data["messages"]) == 8
    df = next(m for m in data["messages"] if (m["source"], m["target"]) == ("D", "F"))
    assert (df["state"], df["message_id"], df["finished_at"]) == ("done", "md", 1000.207)


def test_the_views_a_model_caches_always_match_a_fresh_model() -> None:
    events = SEED + conversation(3) + [ev("queued", "tz", "Z", 9, caller="B", inputs="A:ta F:tf")]
    live = GraphModel(ModelOptions(last=6))
    for i, event in enumerate(events):
        live.apply(event)
        fresh = GraphModel(ModelOptions(last=6))
        fresh.extend(events[: i + 1])
        assert live.as_dict(messages=True) == fresh.as_dict(messages=True), f"after event {i}: {event}"


def test_a_call_with_placeholders_and_messages_has_an_edge_from_each_source() -> None:
    # d = D([b, Msg("user", "note")]): B's reply and a message straight from the driver
    model = GraphModel()
    for event in [
        ev("queued", "tb", "B", 0.0, caller="driver", direct=1, preview="go"),
        ev("done", "tb", "B", 0.1, preview="b says"),
        ev("queued", "td", "D", 0.2, caller="driver", inputs="B:tb", direct=1, preview="note"),
        ev("done", "td", "D", 0.3, preview="d says"),
    ]:
        model.apply(event)
    assert set(edges(model.snapshot())) == {("driver", "B"), ("B", "D"), ("driver", "D")}
