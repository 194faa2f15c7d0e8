"""An input nobody can deliver fails its own call only: raw gRPC, as any token holder sends it.

A call's input may name any server and task. One that names an address where
nothing listens, or a task a live server never made, must fail that call
(within ``Timeouts.reconnect`` at most), never hold the agent's other calls,
and leave nothing behind on the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from raw import CliServer, Raw, cli_server, rss_kib, wait_until

from agentnb import Timeouts
from agentnb._proto import agentnb_pb2 as pb

TOKEN = "unreadable-inputs-token"
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1
#: A reader learns of an input that cannot come within this (the server's reconnect bound, and room).
BOUND = Timeouts().reconnect + 10


@pytest.fixture(scope="module")
def server() -> Iterator[CliServer]:
    with cli_server("--token", TOKEN, "--agent-class", "agents:Echo", "--agent-kwargs", '{"name":"E"}') as s:
        yield s


@pytest.fixture(scope="module")
def other() -> Iterator[CliServer]:
    """A second live server, whose tasks the first one reads."""
    with cli_server("--token", TOKEN, "--agent-class", "agents:Echo", "--agent-kwargs", '{"name":"O"}') as s:
        yield s


def call_naming(address: str, task_id: str = "0" * 32, wait_ms: int = 0) -> pb.CallRequest:
    request = pb.CallRequest(agent="E", wait_ms=wait_ms, caller="attacker")
    request.inputs.add().ref.CopyFrom(pb.TaskRef(address=address, task_id=task_id, agent="Ghost"))
    return request


def plain_call(text: str) -> pb.CallRequest:
    request = pb.CallRequest(agent="E", wait_ms=20_000)
    request.inputs.add().message.CopyFrom(pb.Message(name="user", content_text=text))
    return request


def answered(raw: Raw, text: str, timeout: float) -> None:
    """E answers a plain call within ``timeout`` seconds (the RPC's deadline)."""
    answer = raw.call("Call", plain_call(text), timeout=timeout)
    assert answer.code == grpc.StatusCode.OK, answer
    response = pb.CallResponse.FromString(answer.response)
    assert response.outcome.reply.content_text == text, response
    release(raw, [response.task_id])


def release(raw: Raw, task_ids: list[str]) -> None:
    request = pb.SubmitRequest(ops=[pb.Op(release=pb.ReleaseRequest(task_ids=task_ids))])
    assert raw.call("Submit", request).code == grpc.StatusCode.OK


def failure(raw: Raw, request: pb.CallRequest) -> pb.Failure:
    answer = raw.call("Call", request, timeout=BOUND)
    assert answer.code == grpc.StatusCode.OK, answer
    response = pb.CallResponse.FromString(answer.response)
    assert response.outcome.HasField("failure"), f"the call did not fail within {BOUND:.0f} s: {response}"
    release(raw, [response.task_id])
    return response.outcome.failure


def info(raw: Raw) -> pb.GetServerInfoResponse:
    answer = raw.call("GetServerInfo", pb.GetServerInfoRequest())
    assert answer.code == grpc.StatusCode.OK, answer
    return pb.GetServerInfoResponse.FromString(answer.response)


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_an_input_naming_an_address_where_nothing_listens_fails_that_call_only(server: CliServer) -> None:
    raw = Raw(server.address, TOKEN)
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(failure, raw, call_naming(NOWHERE, wait_ms=int(BOUND * 1000)))
        answered(raw, "next", timeout=5)  # the agent is not held by the input that cannot come
        failed = stuck.result(timeout=BOUND + 5)
    assert NOWHERE in failed.message and "Ghost" in failed.message, failed
    assert "ServerUnavailable" in failed.exc_type, failed
    answered(raw, "after", timeout=5)
    raw.close()


def test_an_input_naming_a_task_a_live_server_never_made_fails_at_once(
    server: CliServer, other: CliServer
) -> None:
    raw = Raw(server.address, TOKEN)
    failed = failure(raw, call_naming(other.address, task_id="f" * 32, wait_ms=20_000))
    assert other.address in failed.message and "Ghost" in failed.message, failed
    answered(raw, "next", timeout=5)
    raw.close()


def fail_a_hundred(raw: Raw) -> None:
    """100 calls naming addresses where nothing listens: each fails; then all are released."""
    ids = []
    for i in range(100):
        answer = raw.call("Call", call_naming(f"127.0.0.1:{1 + i % 3}"))
        assert answer.code == grpc.StatusCode.OK, answer
        ids.append(pb.CallResponse.FromString(answer.response).task_id)
    answered(raw, "meanwhile", timeout=5)
    for task_id in ids:  # every one fails (read it), then goes (release it)
        answer = raw.call("FetchResult", pb.FetchResultRequest(task_id=task_id), timeout=BOUND)
        assert answer.code == grpc.StatusCode.OK, answer
        assert pb.FetchResultResponse.FromString(answer.response).outcome.HasField("failure")
    release(raw, ids)


def test_a_hundred_such_calls_leave_nothing_held_on_the_server(server: CliServer) -> None:
    raw = Raw(server.address, TOKEN)
    fail_a_hundred(raw)  # the server's thread pool and allocator warm up
    wait_until(lambda: info(raw).results == 0, 10, "the failed calls' results going")
    files_then, rss_then = open_files(server.pid), rss_kib(server.pid)
    fail_a_hundred(raw)
    wait_until(lambda: info(raw).results == 0, 10, "the failed calls' results going")
    assert open_files(server.pid) <= files_then + 2  # no channel or stream left per address
    assert rss_kib(server.pid) < rss_then + 4 * 1024, (rss_then, rss_kib(server.pid))
    answered(raw, "after", timeout=5)
    raw.close()
