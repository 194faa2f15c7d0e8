"""Where the time went: critical path, waiting vs running, and the timeline (recorded events, no servers)."""

from __future__ import annotations

import re

import pytest
from test_graph_model import SEED, ev

from agentnb import Event
from agentnb.notebook.graph._critical import report
from agentnb.notebook.graph._model import GraphModel
from agentnb.notebook.graph._timeline import timeline_html

pytestmark = pytest.mark.timeout(30)


def model_of(events: list) -> GraphModel:
    model = GraphModel()
    model.extend(events)
    return model


def test_the_seed_s_critical_path_runs_through_the_producer_that_finished_last() -> None:
    r = report(model_of(SEED).calls())
    assert r is not None
    assert [c.agent for c in r.path] == ["A", "B", "D", "F"]  # B and C tie; B is D's input read first
    assert r.edges == {("driver", "A"), ("A", "B"), ("B", "D"), ("D", "F")}
    assert r.nodes == {"A", "B", "D", "F"}
    assert r.seconds == pytest.approx(0.207)
    assert r.sentences()[0] == "The run took 207 ms; its critical path: driver → A → B → D → F."


def test_each_agent_s_waiting_is_split_by_the_agent_it_waited_for() -> None:
    r = report(model_of(SEED).calls())
    assert r is not None
    by = {a.name: a for a in r.agents}
    assert by["D"].waited == {"B": pytest.approx(0.098)}  # queued at 0.005, its last input came at 0.103
    assert by["D"].ran == pytest.approx(0.051)
    assert by["E"].waited == {} and by["E"].queued == pytest.approx(0.0)
    sentences = r.sentences()
    assert "F waited 152 ms for D, ran 51 ms." in sentences
    assert "D waited 98 ms for B, ran 51 ms." in sentences
    assert not any(s.startswith("E ") for s in sentences)  # E never waited: not listed


def test_a_call_held_up_by_its_agent_s_earlier_call_waits_in_its_queue_on_the_path() -> None:
    # two calls to X at once: the second waits in X's mailbox until the first is done
    r = report(
        model_of([
            ev("queued", "t1", "X", 0.0, caller="driver", preview="one"),
            ev("queued", "t2", "X", 0.0, caller="driver", preview="two"),
            ev("running", "t1", "X", 0.0),
            ev("done", "t1", "X", 1.0),
            ev("running", "t2", "X", 1.0),
            ev("done", "t2", "X", 2.0),
        ]).calls()
    )  # fmt: skip
    assert r is not None
    assert [c.task_id for c in r.path] == ["t1", "t2"]
    (x,) = r.agents
    assert (x.calls, x.ran, x.queued, x.waited) == (2, pytest.approx(2.0), pytest.approx(1.0), {})
    assert "X waited 1.0 s in its queue, ran 2.0 s (2 calls)." in r.sentences()


def test_there_is_no_report_while_a_call_is_unfinished() -> None:
    assert report(model_of(SEED[:16]).calls()) is None  # F still waits
    assert report([]) is None


def test_only_the_last_run_counts() -> None:
    later = [
        ev("queued", "u1", "G", 10.0, caller="driver", preview="again"),
        ev("running", "u1", "G", 10.0),
        ev("done", "u1", "G", 10.5),
    ]
    r = report(model_of(SEED + later).calls())
    assert r is not None
    assert [c.agent for c in r.calls] == ["G"] and r.seconds == pytest.approx(0.5)


def test_the_timeline_has_a_lane_per_agent_and_outlines_the_critical_calls() -> None:
    model = model_of(SEED)
    r = report(model.calls())
    html = timeline_html(model.calls(), r)
    lanes = re.findall(r'<g class="agentnb-lane" data-agent="([^"]+)">', html)
    assert sorted(lanes) == list("ABCDEF")
    assert len(re.findall(r'class="agentnb-bar agentnb-state-done agentnb-critical"', html)) == 4
    assert len(re.findall(r'class="agentnb-bar agentnb-state-done"', html)) == 2  # C and E
    assert "Timeline of the last run (207 ms)" in html
    live = timeline_html(model_of(SEED[:11]).calls(), None)  # mid-run: bars so far, no outline
    assert "agentnb-critical" not in live and "agentnb-state-running" in live


def test_the_timeline_keeps_the_most_recent_lanes_and_says_how_many_it_hid() -> None:
    model = GraphModel()
    model.extend(
        Event("queued", f"t{i}", f"agent{i}", "h:1", caller="driver", timestamp=1000 + i * 0.01)
        for i in range(51)
    )
    html = timeline_html(model.calls(), None, lanes=40)
    lanes = re.findall(r'<g class="agentnb-lane" data-agent="([^"]+)">', html)
    assert lanes == [f"agent{i}" for i in range(11, 51)]
    assert "11 earlier agents not shown" in html
