"""Long dataflows: chains and rings of placeholders through many agents, on one server and on several."""

from __future__ import annotations

import grpc
import pytest
from agents import Sum
from raw import Raw, cli_server

import agentnb
from agentnb import Msg
from agentnb._proto import agentnb_pb2 as pb


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
