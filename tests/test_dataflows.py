"""Long dataflows: chains and rings of placeholders through many agents, on one server and on several."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from agents import Gate, Sum
from raw import Raw, cli_server

import agentnb
from agentnb import Msg
from agentnb._core._config import Timeouts
from agentnb._core._events import Event
from agentnb._proto import agentnb_pb2 as pb
from agentnb._proto import agentnb_pb2_grpc as pb_grpc
from agentnb._runtime._ops import delete_op
from agentnb._runtime._outbox import Pending
from agentnb._runtime._session import get_session
from agentnb.notebook.graph._model import GraphModel
from agentnb.server._app import AgentServer, ServerConfig


def _agents(count: int, servers: int) -> list[agentnb.DistributedAgent]:
    first = [Sum(name=f"S{i}").to_dist() for i in range(servers)]
    ports = [int(a.address.rsplit(":", 1)[1]) for a in first]
    return first + [Sum(name=f"S{i}").to_dist(port=ports[i % servers]) for i in range(servers, count)]


@pytest.mark.parametrize("servers", [1, 4])
def test_a_chain_through_a_thousand_agents_gives_the_right_result(servers: int) -> None:
    agents = _agents(1000, servers)
    x: agentnb.Msg = Msg("user", 0)
    for agent in agents:
        x = agent(x)
    assert x.result(timeout=100).content == 1000


def test_a_ring_of_a_thousand_agents_with_three_hundred_fan_ins_gives_the_right_result() -> None:
    agents = _agents(1000, 4)
    x: agentnb.Msg = Msg("user", 0)
    kept: list[agentnb.Msg] = [x]
    expected, values = 0, [0]
    for step in range(1300):  # around the ring once and 300 steps more
        agent = agents[step % len(agents)]
        if step % 3 == 0 and step // 3 < 300:  # a fan-in: the last reply and one from further back
            back = len(kept) - 1 - (step % 7 + 1)
            x = agent([x, kept[max(back, 0)]])
            expected = 1 + expected + values[max(back, 0)]
        else:
            x = agent(x)
            expected = 1 + expected
        kept.append(x)
        values.append(expected)
    assert x.result(timeout=100).content == expected


TOKEN = "t" * 32
SUM = ("--token", TOKEN, "--agent-class", "agents:Sum", "--agent-kwargs", '{"name": "S"}')


def _submit(raw: Raw, *ops: pb.Op) -> pb.SubmitResponse:
    answer = raw.call("Submit", pb.SubmitRequest(ops=list(ops)), timeout=30)
    assert answer.code == grpc.StatusCode.OK and answer.response is not None, answer
    return pb.SubmitResponse.FromString(answer.response)


def test_a_batch_reference_is_refused_outside_its_batch_and_to_a_later_operation() -> None:
    with cli_server(
        "--token", TOKEN, "--agent-class", "agents:Sum", "--agent-kwargs", '{"name": "S"}'
    ) as server:
        raw = Raw(server.address, TOKEN)
        ref = pb.Input(ref=pb.TaskRef(agent="S", batch_op=1))
        answer = raw.call("Call", pb.CallRequest(agent="S", inputs=[ref], wait_ms=1000))
        assert answer.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "only meaningful inside a Submit" in answer.details
        later = pb.Input(ref=pb.TaskRef(agent="S", batch_op=2))
        response = _submit(
            raw,
            pb.Op(call=pb.CallRequest(agent="S", inputs=[later])),
            pb.Op(call=pb.CallRequest(agent="S", no_input=True)),
        )
        assert response.results[0].status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "does not come before it" in response.results[0].status.message
        assert response.results[1].task_id  # the next operation goes on
        raw.close()


def test_a_consumer_in_the_same_batch_as_a_refused_producer_says_what_its_input_was() -> None:
    with cli_server(
        "--token", TOKEN, "--agent-class", "agents:Sum", "--agent-kwargs", '{"name": "S"}'
    ) as server:
        raw = Raw(server.address, TOKEN)
        ref = pb.Input(ref=pb.TaskRef(agent="Nobody", batch_op=1))
        response = _submit(
            raw,
            pb.Op(call=pb.CallRequest(agent="Nobody")),
            pb.Op(call=pb.CallRequest(agent="S", inputs=[ref])),
        )
        assert response.results[0].status.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert response.results[1].status.reason == "upstream"
        assert "'Nobody'" in response.results[1].status.message
        raw.close()


def test_a_chain_across_two_servers_is_queued_on_both_before_its_first_call_finishes(tmp_path) -> None:
    gate = Gate(name="G", path=str(tmp_path / "open")).to_dist()  # blocks until the file appears
    first = Sum(name="T0").to_dist()  # another server
    ports = [int(a.address.rsplit(":", 1)[1]) for a in (first, gate)]
    agents = [first] + [Sum(name=f"T{i}").to_dist(port=ports[i % 2]) for i in range(1, 20)]
    queued: dict[str, Event] = {}
    all_queued = threading.Event()

    def listen(event: Event) -> None:
        if event.kind == "queued" and event.agent.startswith(("G", "T")):
            queued[event.agent] = event
            if len(queued) == 21:
                all_queued.set()

    session = get_session()
    unsubscribe = session.subscribe(listen)
    try:
        # the driver's loop is held while the chain is made: nothing is sent, and no
        # acknowledgement comes back, before every call of it is queued
        holding, held = threading.Event(), threading.Event()
        session.loop.call_soon(lambda: (holding.set(), held.wait(10)))
        assert holding.wait(10)
        try:
            chain = [gate(Msg("user", 0))]
            for agent in agents:  # G on one server, then T0 on the other, T1 on G's, T2 on T0's...
                chain.append(agent(chain[-1]))
        finally:
            held.set()
        # every call of the chain reached its server while G still blocks, and the first
        # server's batch to go out named its inputs (on the other server, not acknowledged
        # yet) by their keys: it waited for no acknowledgement (once one came, a later batch
        # may name inputs by task id)
        assert all_queued.wait(30), f"queued: {sorted(queued)}"
        assert not chain[0].done()
        by_key = 0
        for producer, agent in zip(chain, agents, strict=False):
            (ref,) = queued[agent.name].inputs
            assert ref.agent == producer.call.agent
            assert ref.call_key == producer.call.key or (not ref.call_key and ref.task_id == producer.task_id)
            by_key += ref.call_key == producer.call.key
        assert by_key >= 10
        (tmp_path / "open").touch()
        assert chain[-1].result(timeout=60).content == chain[0].content + 20
    finally:
        unsubscribe()
    # the graph draws each edge from the producer's task, though the input named its key: as
    # the session tells it (the task id filled in), or by key alone, consumers seen first
    expected = {c.call.agent: p.task_id for p, c in zip(chain, chain[1:], strict=False)}
    in_order = sorted(queued.values(), key=lambda e: (e.agent != "G", int(e.agent[1:] or 0)))
    by_key = [
        replace(e, inputs=tuple(replace(r, task_id="") if r.call_key else r for r in e.inputs))
        for e in in_order
    ]
    for events in (in_order, by_key[::-1]):
        model = GraphModel()
        model.extend(events)
        assert {m.target: m.source_task for m in model.messages() if m.source != "driver"} == expected


def test_a_chain_whose_first_call_never_reaches_its_server_fails_at_once_all_along() -> None:
    first, other = Sum(name="A0").to_dist(), Sum(name="B0").to_dist()
    ports = [int(a.address.rsplit(":", 1)[1]) for a in (first, other)]
    gone = Sum(name="Gone").to_dist(port=ports[0])
    agents = [Sum(name=f"C{i}").to_dist(port=ports[(i + 1) % 2]) for i in range(6)]
    for agent in [gone, *agents]:
        assert agent(Msg("user", 0)).content == 1
    gone.link.put(Pending("Gone", op=delete_op("Gone")))  # deleted behind its back: its calls are refused
    assert gone.link.outbox.not_created == {}
    chain = [gone(Msg("user", 0))]
    for agent in agents:  # sent by key, before the refusal comes back
        chain.append(agent(chain[-1]))
    start = time.monotonic()
    for placeholder in chain[::-1]:  # the last first: none waits for its server to give up on its input
        with pytest.raises(agentnb.AgentnbError, match="no agent 'Gone'"):
            placeholder.result(timeout=30)
    assert time.monotonic() - start < 5


@pytest.fixture
def quick_server() -> Iterator[AgentServer]:
    """A server in this process that waits at most 2 s for a call named by key."""
    config = ServerConfig(
        token=TOKEN, agent_class=Sum, agent_kwargs={"name": "S"}, timeouts=Timeouts(reconnect=2.0)
    )
    server = AgentServer(config)
    server.start()
    try:
        yield server
    finally:
        server.stop(0)


def test_a_reference_by_a_call_key_that_never_arrives_fails_within_the_bound_and_holds_nothing(
    quick_server: AgentServer,
) -> None:
    key = os.urandom(16).hex()
    channel = grpc.insecure_channel(quick_server.address)
    try:
        # watched by key (as a consuming server does): NOT_FOUND once the bound passes
        requests: queue.SimpleQueue[pb.WatchResultsRequest | None] = queue.SimpleQueue()
        requests.put(pb.WatchResultsRequest(call_keys=[key]))
        stream = pb_grpc.AgentServerStub(channel).WatchResults(iter(requests.get, None), timeout=30)
        start = time.monotonic()
        result = next(r for response in stream for r in response.results)
        assert 1.5 < time.monotonic() - start < 10
        assert result.call_key == key and result.status.code == grpc.StatusCode.NOT_FOUND.value[0]
        assert result.status.reason == "unknown_key" and "no call with key" in result.status.message
        assert quick_server.host.store.waiters() == 0
        # an input naming such a call on this server fails the call, within the bound too
        raw = Raw(quick_server.address, TOKEN)
        ref = pb.Input(ref=pb.TaskRef(agent="P", call_key=os.urandom(16).hex()))
        answer = raw.call("Call", pb.CallRequest(agent="S", inputs=[ref], wait_ms=10_000), timeout=30)
        assert answer.code == grpc.StatusCode.OK and answer.response is not None
        failure = pb.CallResponse.FromString(answer.response).outcome.failure
        assert "no call with key" in failure.message and "'P'" in failure.message
        # a key watched on a stream that ends is let go with it
        other: queue.SimpleQueue[pb.WatchResultsRequest | None] = queue.SimpleQueue()
        other.put(pb.WatchResultsRequest(call_keys=[os.urandom(16).hex()]))
        watching = pb_grpc.AgentServerStub(channel).WatchResults(iter(other.get, None), timeout=30)
        deadline = time.monotonic() + 10
        while quick_server.host.store.waiters() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert quick_server.host.store.waiters() == 1
        watching.cancel()
        other.put(None)
        while quick_server.host.store.waiters() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert quick_server.host.store.waiters() == 0
        requests.put(None)
        raw.close()
    finally:
        channel.close()


def test_a_key_watched_before_its_call_arrives_gets_the_outcome_if_its_caller_lets_it_name_the_task(
    quick_server: AgentServer,
) -> None:
    named, plain = os.urandom(16).hex(), os.urandom(16).hex()
    channel = grpc.insecure_channel(quick_server.address)
    requests: queue.SimpleQueue[pb.WatchResultsRequest | None] = queue.SimpleQueue()
    requests.put(pb.WatchResultsRequest(call_keys=[named, plain]))
    try:
        stream = pb_grpc.AgentServerStub(channel).WatchResults(iter(requests.get, None), timeout=30)
        raw = Raw(quick_server.address, TOKEN)
        message = pb.Input(message=pb.Message(name="user", content_json="41"))
        calls = [
            pb.CallRequest(agent="S", inputs=[message], call_key=named, key_names_task=True),
            # a key given only to keep a resend apart (an older driver's, maybe guessable) names nothing
            pb.CallRequest(agent="S", inputs=[message], call_key=plain),
        ]
        task_ids = [
            pb.CallResponse.FromString(raw.call("Call", c, timeout=30).response or b"").task_id for c in calls
        ]
        results: list[pb.TaskResult] = []
        for response in stream:  # the named key's outcome at once, the other's failure after the bound
            results.extend(response.results)
            if len(results) == 2:
                break
        by_key = {r.call_key: r for r in results}
        assert by_key[named].task_id == task_ids[0] and by_key[named].outcome.reply.content_json == "42"
        assert by_key[plain].status.reason == "unknown_key" and not by_key[plain].HasField("outcome")
        requests.put(None)
        raw.close()
    finally:
        channel.close()
