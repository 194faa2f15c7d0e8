"""Bad input and broken servers give clear errors within deadlines, and nothing hangs."""

from __future__ import annotations

import os
import signal
import socket

import pytest
from agents import Echo, Fails, Gate
from conftest import wait_state

import agentnb
from agentnb import (
    AuthenticationError,
    Limits,
    MessageError,
    MessageTooLargeError,
    Msg,
    RemoteError,
    ServerLaunchError,
    ServerUnavailableError,
)
from agentnb._runtime._session import get_session


def test_a_remote_exception_names_the_agent_address_type_and_traceback() -> None:
    f = Fails(name="F").to_dist()
    p = f(Msg("user", "boom"))
    with pytest.raises(RemoteError) as info:
        p.content
    err = info.value
    assert err.agent == "F" and err.address == f.address
    assert err.exc_type == "ValueError"
    assert "cannot handle 'boom'" in str(err) and f.address in str(err)
    assert "raise ValueError" in err.remote_traceback
    assert p.done() and p.state == "error"


def test_a_failure_travels_to_the_agent_that_consumes_it() -> None:
    f = Fails(name="F").to_dist()
    e = Echo(name="E").to_dist()
    with pytest.raises(RemoteError) as info:
        e(f(Msg("user", "boom"))).result(timeout=30)
    assert info.value.agent == "F" and info.value.exc_type == "ValueError"


def test_a_server_that_crashes_at_start_reports_its_exit_code_and_log() -> None:
    with pytest.raises(ServerLaunchError) as info:
        Echo(name="E").to_dist(limits=Limits(workers=0))  # the server's thread pool refuses 0
    text = str(info.value)
    assert "exited with code 1" in text
    assert "Limits.workers) must be at least 1" in text  # the tail of its log


def test_an_explicit_port_that_is_taken_is_an_error_never_swapped() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerLaunchError, match=f"cannot listen on 127.0.0.1:{port}"):
            Echo(name="E").to_dist(port=port)


def test_a_server_killed_mid_call_gives_the_caller_a_clear_error(tmp_path) -> None:
    g = Gate(name="G", path=str(tmp_path / "never")).to_dist()
    p = g(Msg("user", "wait"))
    wait_state(p, "running")
    os.kill(g.server.pid, signal.SIGKILL)
    with pytest.raises(ServerUnavailableError) as info:
        p.result(timeout=20)
    text = str(info.value)
    assert "'G'" in text and g.address in text
    assert "SIGKILL" in text


def test_a_wrong_token_is_refused_and_the_server_keeps_serving() -> None:
    e = Echo(name="E").to_dist()
    host, port = e.address.rsplit(":", 1)
    with pytest.raises(AuthenticationError, match="wrong token"):
        Echo(name="E").to_dist(host=host, port=int(port), launch_server=False, token="nope")
    with pytest.raises(AuthenticationError, match="missing token"):
        Echo(name="E").to_dist(host=host, port=int(port), launch_server=False)
    assert e(Msg("user", "still here")).content == "still here"


def test_content_that_cannot_travel_is_refused_at_the_call_with_its_path() -> None:
    e = Echo(name="E").to_dist()
    with pytest.raises(MessageError, match=r"input to agent 'E'.content\['when'\] is a object"):
        e(Msg("user", {"when": object()}))
    with pytest.raises(MessageError, match="pass a Msg, a placeholder"):
        e("just a string")


def test_an_oversized_message_is_refused_with_the_limit() -> None:
    e = Echo(name="E").to_dist(limits=Limits(max_message_bytes=1000))
    with pytest.raises(MessageTooLargeError, match="over the limit of 1,000 bytes"):
        e(Msg("user", "x" * 2000))
    assert e(Msg("user", "small")).content == "small"


def test_an_oversized_reply_fails_that_call_only() -> None:
    class Big(Echo):
        def reply(self, x=None):
            return Msg(self.name, "y" * 5000)

    b = Big(name="B").to_dist(limits=Limits(max_message_bytes=1000))
    with pytest.raises(RemoteError, match="MessageTooLargeError"):
        b(Msg("user", "go")).content
    assert b.server is not None and not b.server.exited.is_set()


def test_an_expired_result_says_so() -> None:
    e = Echo(name="E").to_dist(limits=Limits(max_results=2))
    first = e(Msg("user", 0))
    first.result(timeout=30)
    assert [e(Msg("user", i)).content for i in range(1, 4)] == [1, 2, 3]
    # the driver keeps the reply it read; a reader elsewhere (here: the server's own
    # fetch path, as another server would) is told it expired
    with pytest.raises(agentnb.ResultExpiredError, match="has expired"):
        e.link.fetch_now(first.call, 30)


def test_a_non_msg_reply_is_a_clear_error() -> None:
    class Wrong(Echo):
        def reply(self, x=None):
            return 42

    w = Wrong(name="W").to_dist()
    with pytest.raises(RemoteError, match="returned int; it must return a Msg"):
        w(Msg("user", "go")).content


def test_shutdown_stops_every_server_the_session_launched() -> None:
    agents = [Echo(name=f"E{i}").to_dist() for i in range(3)]
    servers = [a.server for a in agents]
    agentnb.shutdown()
    assert all(s.exited.is_set() for s in servers)
    assert get_session().launched() == []


def test_malformed_requests_are_refused_and_the_server_keeps_serving() -> None:
    import grpc

    from agentnb._proto import agentnb_pb2 as pb

    e = Echo(name="E").to_dist()
    assert e(Msg("user", "created")).content == "created"
    auth = (("authorization", f"Bearer {e.server.token}"),)
    with grpc.insecure_channel(e.address) as channel:
        raw = channel.unary_unary("/agentnb.v1.AgentServer/Call")
        with pytest.raises(grpc.RpcError) as garbage:
            raw(b"\xff\xff\xffnot a protobuf", metadata=auth, timeout=10)
        assert garbage.value.code() != grpc.StatusCode.OK
        bad_json = pb.CallRequest(agent="E")
        bad_json.inputs.add().message.CopyFrom(pb.Message(name="user", content_json="{not json"))
        call = channel.unary_unary(
            "/agentnb.v1.AgentServer/Call", request_serializer=pb.CallRequest.SerializeToString
        )
        with pytest.raises(grpc.RpcError) as malformed:
            call(bad_json, metadata=auth, timeout=10)
        assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "input to agent 'E' from 'user' (content) is malformed" in malformed.value.details()
    assert e(Msg("user", "still serving")).content == "still serving"


def test_a_constructor_that_fails_on_the_server_is_a_remote_error_at_the_call() -> None:
    from agents import Homebody

    h = Homebody(name="H", home_pid=os.getpid()).to_dist()  # creation is pipelined: returns at once
    with pytest.raises(RemoteError) as info:
        h(Msg("user", "hi")).result(timeout=30)
    err = info.value
    assert err.agent == "H" and err.exc_type == "RuntimeError"
    assert "building the agent failed: I only live in my home process" in str(err)
    assert "raise RuntimeError" in err.remote_traceback
    with pytest.raises(RemoteError, match="building the agent failed"):  # known now: at once
        h(Msg("user", "again"))
