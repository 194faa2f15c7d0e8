"""Streaming replies over real servers: pieces in order, then the final message; forwarded
streams read piece by piece on another server; cancelling mid-stream; the bounds of pieces."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from raw import Raw
from stream_agents import Endless, GatedWords, Relay, Tokens, Words

import agentnb
from agentnb import CallCancelledError, Limits, Msg, RemoteError
from agentnb._core._events import Event
from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime._session import get_session

pytestmark = pytest.mark.timeout(120)


def test_a_streaming_reply_yields_its_pieces_in_order_then_its_final_message() -> None:
    w = Words(name="W", n=6).to_dist()
    p = w(Msg("user", "go"))
    assert list(p.stream()) == [f"w{i} " for i in range(6)]
    assert p.done()  # the last response of the stream carries the outcome
    assert p.content == "w0 w1 w2 w3 w4 w5" and p.metadata == {"pieces": 6}
    assert list(p.stream()) == [f"w{i} " for i in range(6)]  # read again, from the start


def test_a_stream_that_returns_nothing_ends_with_its_text_joined(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    p = GatedWords(name="G", gate=str(gate), before=("a", "b"), after=("c",)).to_dist()(None)
    assert "".join(p.stream()) == "abc" and p.content == "abc" and p.name == "G"


def test_a_plain_reply_has_no_pieces_and_is_unchanged() -> None:
    from agents import Echo

    p = Echo(name="E").to_dist()(Msg("user", "hi"))
    assert list(p.stream()) == [] and p.content == "hi"


def test_async_for_reads_the_pieces_without_blocking_the_running_loop() -> None:
    w = Words(name="W", n=5, pause=0.02).to_dist()

    async def main() -> tuple[list[str], int, str]:
        ticks = 0
        stop = asyncio.Event()

        async def tick() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        ticker = asyncio.create_task(tick())
        p = w(None)
        chunks = [chunk async for chunk in p]
        stop.set()
        await ticker
        return chunks, ticks, (await p).content

    chunks, ticks, content = asyncio.run(main())
    assert chunks == [f"w{i} " for i in range(5)] and content == "w0 w1 w2 w3 w4"
    assert ticks > 5  # the loop ran other work while the pieces came (~0.1 s)


def test_cancelling_mid_stream_stops_the_reply_at_its_next_piece() -> None:
    e = Endless(name="E").to_dist()
    p = e(Msg("user", "go"))
    seen: list[str] = []
    with pytest.raises(CallCancelledError) as failed:
        for chunk in p.stream(timeout=30):
            seen.append(chunk)
            if len(seen) == 5:
                assert p.cancel() is True  # a streaming reply: told to stop at its next piece
    assert "stopped after" in str(failed.value) and p.state == "cancelled"
    assert seen[:5] == ["0 ", "1 ", "2 ", "3 ", "4 "] and len(seen) < 100
    closed_after = e(Msg("user", "closed?")).content  # the agent answers again: its thread is free
    assert closed_after == len(seen) - 1  # its generator was closed (its finally ran) at its last yield


def test_a_streaming_placeholder_forwarded_to_another_server_is_read_piece_by_piece_there(
    tmp_path: Path,
) -> None:
    from agents import Echo

    gate = tmp_path / "gate"
    producer = GatedWords(name="G", gate=str(gate)).to_dist()
    relay = Relay(name="R").to_dist()  # another server; reads its input's stream as it comes
    plain = Echo(name="E").to_dist()  # a third server; takes the final message, as always
    assert len({producer.server.pid, relay.server.pid, plain.server.pid}) == 3
    made = producer(None)
    relayed, echoed = relay(made), plain(made)
    pieces = relayed.stream(timeout=30)
    assert [next(pieces), next(pieces)] == ["ONE ", "TWO "]  # while the producer waits at its gate
    assert not made.done() and not relayed.done() and not echoed.done()
    gate.touch()
    assert list(pieces) == ["THREE"]
    assert relayed.content["final"] == "one two three"
    assert relayed.content["early"] >= 2  # it read the first two while the producer was at its gate
    assert echoed.content == "one two three" and made.content == "one two three"


def test_a_reply_told_to_stop_while_it_works_stops_at_its_next_piece_keeping_those_before(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    p = GatedWords(name="G", gate=str(gate)).to_dist()(None)
    pieces = p.stream(timeout=30)
    assert next(pieces) == "one "
    assert p.cancel() is True  # it waits at its gate, between two pieces
    gate.touch()
    rest = []
    with pytest.raises(CallCancelledError):
        for chunk in pieces:
            rest.append(chunk)
    assert rest == ["two ", "three"]  # the piece it was making when told is kept; then it stopped
    with pytest.raises(CallCancelledError, match="stopped after 3 pieces"):
        p.result(30)


def test_the_pieces_of_one_call_together_are_bounded_by_max_message_bytes() -> None:
    t = Tokens(name="T", n=100, size=1000).to_dist(limits=Limits(max_message_bytes=20_000))
    p = t(None)
    with pytest.raises(RemoteError, match="MessageTooLargeError") as failed:
        list(p.stream())
    assert "passed 20,000 bytes together" in str(failed.value)
    small = t(None)  # the same agent, a call within the bound... of another size
    assert small.agent_name == "T"


def test_a_reply_that_yields_something_else_fails_and_says_what_to_yield() -> None:
    from agentnb import AgentBase

    class Odd(AgentBase):
        def reply(self, x=None):
            yield 42

    with pytest.raises(RemoteError, match="yields str or Msg pieces"):
        Odd(name="O").to_dist()(None).result(30)


def test_a_local_agent_with_a_streaming_reply_returns_its_final_message() -> None:
    assert Words(name="W", n=3)(None).content == "w0 w1 w2"
    assert "".join(Words(name="W", n=2).reply(None)) == "w0 w1 "


def test_a_streaming_call_is_streaming_on_the_feed_and_in_its_state(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    seen: list[Event] = []
    streaming = threading.Event()

    def listen(event: Event) -> None:
        if event.kind == "streaming":
            seen.append(event)
            streaming.set()

    unsubscribe = get_session().subscribe(listen)
    try:
        p = GatedWords(name="G", gate=str(gate)).to_dist()(None)
        assert streaming.wait(30)
        assert p.state == "streaming" and seen[0].agent == "G" and seen[0].task_id == p.task_id
        assert seen[0].chunk >= 1 and seen[0].preview.startswith("one")
        gate.touch()
        assert p.content == "one two three" and p.state == "done"
    finally:
        unsubscribe()


@pytest.fixture
def raw_server() -> Iterator[tuple[Raw, str]]:
    w = Words(name="W", n=3).to_dist()
    assert w.link is not None
    raw = Raw(w.address, None)  # no token at all
    p = w(None)
    assert p.result(30)
    yield raw, p.task_id
    raw.close()


def _stream(raw: Raw, task_id: str, start: int = 0) -> tuple[grpc.StatusCode, list[pb.StreamResultResponse]]:
    call = raw.channel.unary_stream("/agentnb.v1.AgentServer/StreamResult")
    request = pb.StreamResultRequest(task_id=task_id, from_piece=start).SerializeToString()
    out = []
    try:
        for data in call(request, timeout=10):
            out.append(pb.StreamResultResponse.FromString(data))
    except grpc.RpcError as exc:
        return exc.code(), out
    return grpc.StatusCode.OK, out


def test_stream_result_needs_the_task_id_not_the_token(raw_server: tuple[Raw, str]) -> None:
    raw, task_id = raw_server
    code, responses = _stream(raw, task_id)
    assert code == grpc.StatusCode.OK
    texts = [p.text for r in responses for p in r.pieces]
    assert texts == ["w0 ", "w1 ", "w2 "] and responses[-1].outcome.reply.content_text == "w0 w1 w2"
    code, responses = _stream(raw, task_id, start=2)  # from a piece on
    assert [p.text for r in responses for p in r.pieces] == ["w2 "] and responses[0].first == 2
    assert _stream(raw, "x" * 32)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert _stream(raw, os.urandom(16).hex())[0] == grpc.StatusCode.NOT_FOUND
    answer = raw.call("AnswerInput", pb.AnswerInputRequest(task_id=task_id, prompt=0, text="x"))
    assert answer.code == grpc.StatusCode.UNAUTHENTICATED  # answering needs the token
    answer = raw.call("PostMortem", pb.PostMortemRequest(task_id=task_id))
    assert answer.code == grpc.StatusCode.UNAUTHENTICATED  # and so does debugging


def test_a_client_may_hold_only_so_many_streams_open_at_once(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    g = GatedWords(name="G", gate=str(gate)).to_dist(limits=Limits(waits_per_peer=2))
    p = g(None)
    assert p._call.acked_or_wait(30)
    raw = Raw(g.address, None)
    call = raw.channel.unary_stream("/agentnb.v1.AgentServer/StreamResult")
    request = pb.StreamResultRequest(task_id=p.task_id).SerializeToString()
    open_streams = [call(request, timeout=30) for _ in range(2)]
    try:
        for stream in open_streams:
            next(stream)  # both are open (their first pieces came)
        with pytest.raises(grpc.RpcError) as refused:
            next(call(request, timeout=10))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        for stream in open_streams:
            stream.cancel()
        gate.touch()
        raw.close()
    assert p.content == "one two three"


def test_the_pieces_count_towards_the_result_store_once_the_reply_is_done() -> None:
    t = Tokens(name="T", n=50, size=1000).to_dist()
    p = t(None)
    assert p.content == 50
    assert t.link is not None
    # the server's own accounting: what it holds for this result (pieces included)
    from agentnb.server._store import Entry, ResultStore
    from agentnb.server._stream import PIECE_OVERHEAD, log_of

    store = ResultStore(10, 10_000_000, 60, "s")
    entry: Entry = store.issue("T")
    log = log_of(entry)
    for _ in range(50):
        log.append(b"\n" + bytes([232, 7]) + b"x" * 1000)
    store.finish(entry, pb.Outcome(reply=pb.Message(name="T", content_text="done")))
    assert store.bytes >= 50 * (1000 + PIECE_OVERHEAD)


def test_streaming_works_with_tracing_off_in_a_script(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        f"import sys\nsys.path.insert(0, {os.path.dirname(__file__)!r})\nfrom stream_agents import Words\n"
        "p = Words(name='W', n=4).to_dist()(None)\nprint(''.join(p.stream()), '|', p.content)\n"
        "import agentnb\nagentnb.shutdown()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, AGENTNB_TRACE="0"),
    )  # fmt: skip
    assert out.stdout.strip() == "w0 w1 w2 w3  | w0 w1 w2 w3", out.stderr


def test_agentnb_shutdown_ends_every_stream() -> None:
    e = Endless(name="E").to_dist()
    p = e(None)
    pieces = p.stream(timeout=30)
    assert next(pieces) == "0 "
    agentnb.shutdown()
    with pytest.raises(agentnb.AgentnbError):
        for _ in pieces:
            pass


def test_the_graph_draws_a_streaming_call_and_its_edge_as_streaming_then_done() -> None:
    from agentnb.notebook.graph._model import GraphModel

    model = GraphModel()
    where = "127.0.0.1:1"
    model.extend([
        Event("queued", "t1", "W", where, caller="driver", preview="go", direct_inputs=1, timestamp=1.0),
        Event("running", "t1", "W", where, timestamp=1.1),
        Event("streaming", "t1", "W", where, chunk=3, preview="one two", timestamp=1.2),
    ])  # fmt: skip
    snap = model.snapshot()
    node = {n.name: n for n in snap.nodes}["W"]
    assert node.state == "streaming" and node.running == 1
    assert [(e.source, e.target, e.state) for e in snap.edges] == [("driver", "W", "streaming")]
    assert not model.apply(Event("streaming", "t1", "W", where, chunk=9, timestamp=1.3))  # no news
    model.apply(Event("done", "t1", "W", where, preview="one two three", timestamp=1.4))
    snap = model.snapshot()
    assert {n.name: n.state for n in snap.nodes}["W"] == "done" and snap.edges[0].state == "done"
    assert not model.apply(Event("streaming", "t1", "W", where, timestamp=1.5))  # states only move on
