"""Placeholders: returned at once, resolved on read, awaitable, never blocking in repr."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

from agents import Blob, Counter, Echo, Gate, Memory, PidReporter, Timed
from conftest import wait_state
from raw import wait_until

from agentnb import Event, Msg, Placeholder
from agentnb._runtime._session import get_session


def test_a_call_returns_a_placeholder_message_at_once(tmp_path) -> None:
    g = Gate(name="G", path=str(tmp_path / "open")).to_dist()
    started = time.monotonic()
    p = g(Msg("user", "hi"))
    assert time.monotonic() - started < 1.0
    assert isinstance(p, Placeholder) and isinstance(p, Msg)
    wait_state(p, "running")
    assert not p.done()
    assert "running" in repr(p)  # repr does not block
    (tmp_path / "open").touch()
    assert p.content == g.server.pid
    assert p.done() and p.name == "G"
    assert "done" in repr(p)


def test_result_with_a_timeout_raises_and_the_call_goes_on(tmp_path) -> None:
    g = Gate(name="G", path=str(tmp_path / "open")).to_dist()
    p = g(Msg("user", "hi"))
    try:
        p.result(timeout=0.2)
    except TimeoutError as exc:
        assert "no reply within 0.2 s" in str(exc)
    else:
        raise AssertionError("result() returned before the gate opened")
    (tmp_path / "open").touch()
    assert p.result(timeout=30).content == g.server.pid


def test_a_placeholder_is_awaitable() -> None:
    e = Echo(name="E").to_dist()

    async def main() -> list:
        replies = await asyncio.gather(*(e(Msg("user", i)) for i in range(5)))
        return [r.content for r in replies]

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_results_nobody_holds_are_released_even_when_no_call_follows() -> None:
    e = Echo(name="E").to_dist()
    ps = [e(Msg("user", i)) for i in range(50)]
    assert [p.content for p in ps] == list(range(50))
    held = e.link.info().results
    assert held >= 50
    del ps
    gc.collect()
    # no call follows to carry the releases: they go on their own once due (about a second)
    wait_until(lambda: e.link.info().results <= held - 50, 30, "releasing 50 results while idle")


def test_calls_to_one_agent_run_one_at_a_time_in_order() -> None:
    c = Counter(name="C").to_dist()
    ps = [c(Msg("user", i)) for i in range(50)]
    assert [p.content for p in ps] == list(range(1, 51))


def test_a_list_of_messages_and_placeholders_is_one_input() -> None:
    a, b, m = Echo(name="A").to_dist(), Echo(name="B").to_dist(), Echo(name="M").to_dist()
    merged = m([a(Msg("user", 1)), Msg("user", 2), b(Msg("user", 3))])
    assert merged.content == [1, 2, 3]
    assert m([Msg("user", "only")]).content == ["only"]  # a list stays a list
    assert m().content is None  # no input


def test_a_placeholder_passed_to_a_local_agent_is_resolved_first() -> None:
    remote = Echo(name="R").to_dist()
    local = Echo(name="L")
    assert local(remote(Msg("user", "x"))).content == "x"


def test_observe_adds_to_memory_in_mailbox_order() -> None:
    m = Memory(name="M").to_dist()
    m.observe(Msg("user", "first"))
    m.observe([Msg("user", "second"), Msg("user", "third")])
    assert m(None).content == ["first", "second", "third"]


def test_a_forwarded_placeholder_is_fetched_by_the_consuming_server() -> None:
    a = Blob(name="A", size=200_000).to_dist()
    b = Echo(name="B").to_dist()
    queued: list[Event] = []
    seen = threading.Event()

    def listen(event: Event) -> None:
        if event.kind == "queued" and event.agent == "B":
            queued.append(event)
            seen.set()

    unsubscribe = get_session().subscribe(listen)
    try:
        pa = a(Msg("user", "x"))
        pb = b(pa)
        assert len(pb.content) == 200_000
        assert seen.wait(30), "B's call was never seen queued on the event feed"
    finally:
        unsubscribe()
    assert queued[0].task_id == pb.task_id
    assert queued[0].inputs[0].task_id == pa.task_id
    assert queued[0].inputs[0].address == a.address
    # the driver never read A's reply, so it never received it: B's server fetched it
    assert pa.done() and pa.call.withheld and not pa.call.resolved


def test_different_agents_on_one_server_run_at_the_same_time() -> None:
    first = Timed(name="T0", seconds=0.5).to_dist()
    port = first.server.port
    second = Timed(name="T1", seconds=0.5).to_dist(port=port)
    assert second.server is first.server  # one server, two agents
    p, q = first(), second()
    a, b = p.content, q.content
    assert a["pid"] == b["pid"]
    assert a["start"] < b["end"] and b["start"] < a["end"]


def test_replies_run_in_worker_threads_not_the_servers_loop() -> None:
    r = PidReporter(name="R").to_dist()
    threads = {r().content["thread"] for _ in range(3)}
    assert threads  # ran, in some worker thread
