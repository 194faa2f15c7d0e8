"""The event feed sends one event for a call whose queued, running and done fall in one batch."""

from __future__ import annotations

import threading

import grpc
from agents import Echo
from raw import SERVICE, Raw, auth, cli_server

from agentnb import Msg
from agentnb._core._events import Event
from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime._session import get_session

TOKEN = "t" * 32
ECHO = ("--token", TOKEN, "--agent-class", "agents:Echo", "--agent-kwargs", '{"name": "E"}')


def test_a_quick_call_is_one_event_on_the_wire_with_its_queued_and_start_times() -> None:
    with cli_server(*ECHO) as srv:
        raw = Raw(srv.address, TOKEN)
        answer = raw.call("Call", pb.CallRequest(agent="E", inputs=[pb.Input(message=pb.Message(
            name="user", content_text="hi"))], caller="tester", wait_ms=10_000), timeout=30)  # fmt: skip
        assert answer.code == grpc.StatusCode.OK
        task_id = pb.CallResponse.FromString(answer.response or b"").task_id
        stream = raw.channel.unary_stream(
            SERVICE + "StreamEvents",
            request_serializer=pb.StreamEventsRequest.SerializeToString,
            response_deserializer=pb.EventBatch.FromString,
        )
        batches = stream(pb.StreamEventsRequest(since_seq=0), metadata=auth(TOKEN), timeout=30)
        mine = [e for e in next(iter(batches)).events if e.task_id == task_id]
        batches.cancel()
        raw.close()
    assert [e.kind for e in mine] == [pb.Event.DONE]
    (done,) = mine
    assert 0 < done.queued_at <= done.started_at <= done.timestamp
    assert done.caller == "tester" and done.input_preview == "hi" and done.direct_inputs == 1


def test_listeners_still_see_queued_running_and_done_in_order() -> None:
    seen: list[Event] = []
    done = threading.Event()

    def listen(event: Event) -> None:
        if event.agent == "F":
            seen.append(event)
            if event.kind == "done":
                done.set()

    unsubscribe = get_session().subscribe(listen)
    try:
        f = Echo(name="F").to_dist()
        p = f(Msg("user", "x"))
        assert p.content == "x"
        assert done.wait(30)
    finally:
        unsubscribe()
    calls = [e for e in seen if e.task_id == p.task_id]
    assert [e.kind for e in calls] == ["queued", "running", "done"]
    assert calls[0].preview == "x" and calls[0].direct_inputs == 1 and calls[2].preview == "x"
    assert calls[0].timestamp <= calls[1].timestamp <= calls[2].timestamp
