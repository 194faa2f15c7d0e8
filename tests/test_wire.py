"""Messages framed by hand parse as the messages the .proto describes."""

from __future__ import annotations

import os

from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime import _wire as wire


def test_a_framed_call_response_parses_with_its_outcome() -> None:
    outcome = pb.Outcome(output=[pb.OutputChunk(chunk=0, text="hi\n")])
    outcome.reply.content_bytes = os.urandom(300_000)
    framed = wire.text(1, "a" * 32) + wire.field(2, outcome.SerializeToString()) + wire.text(3, "srv")
    parsed = pb.CallResponse.FromString(framed)
    assert parsed.task_id == "a" * 32 and parsed.server_id == "srv" and parsed.outcome == outcome


def test_a_framed_submit_request_parses_with_every_op_in_order() -> None:
    call = pb.CallRequest(agent="A", caller="driver")
    call.inputs.add().message.content_text = "x" * 200
    ops = [
        wire.field(2, call.SerializeToString()),
        pb.Op(delete=pb.DeleteAgentRequest(name="B")).SerializeToString(),
    ]
    parsed = pb.SubmitRequest.FromString(b"".join(wire.field(1, op) for op in ops))
    assert [op.WhichOneof("op") for op in parsed.ops] == ["call", "delete"]
    assert parsed.ops[0].call == call and parsed.ops[1].delete.name == "B"


def test_varints_of_every_size_round_trip() -> None:
    for size in (0, 1, 127, 128, 300, 16_383, 16_384, 10 << 20):
        framed = wire.field(1, b"\0" * size)
        assert pb.FetchResultRequest.FromString(wire.text(1, "t") + b"").task_id == "t"
        assert len(pb.ReleaseRequest.FromString(framed).task_ids[0]) == size
