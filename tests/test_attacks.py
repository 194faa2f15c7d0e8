"""Attacks on a server, made the way an attacker would: raw gRPC requests, any token or none.

Every payload, if it ran, would create a marker file; the marker must never appear.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator

import grpc
import pytest
from agents import Echo
from raw import METHODS, SERVICE, CliServer, Raw, auth, cli_server

from agentnb import Msg
from agentnb._proto import agentnb_pb2 as pb

pytestmark = pytest.mark.timeout(120)

TOKEN = "launcher-secret"


class Payload:
    """Unpickling this runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):  # noqa: ANN204 - the attack
        return (os.system, (self.command,))


def import_recipes(shell: str) -> list[tuple[str, dict]]:
    """Import paths an attacker would try, with keyword arguments that run ``shell``."""
    code = f"__import__('os').system({shell!r})"
    return [
        ("os:system", {"command": shell}),
        ("posix:system", {"command": shell}),
        ("subprocess:Popen", {"args": shell, "shell": True}),
        ("subprocess:run", {"args": shell, "shell": True}),
        ("os:popen", {"cmd": shell}),
        ("builtins:eval", {"source": code}),
        ("builtins:exec", {"source": code}),
        ("agents:os.system", {"command": shell}),  # through a module attribute of an allowed module
        ("agents:Echo.__init__", {"self": None, "name": shell}),
    ]


@pytest.fixture
def marker(tmp_path) -> Iterator[str]:
    path = str(tmp_path / "pwned")
    yield path
    assert not os.path.exists(path), "a payload ran on the server"


@pytest.fixture(scope="module")
def launcher(tmp_path_factory) -> Iterator[CliServer]:
    """A launcher process that does not accept code, hosting an importable Echo."""
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN)
    with cli_server(
        "--token-file", str(token_file), "--agent-class", "agents:Echo", "--agent-kwargs", '{"name": "E"}'
    ) as server:
        yield server


def create(path: str, kwargs: dict) -> pb.CreateAgentRequest:
    spec = pb.AgentSpec(name="X", class_name="X")
    spec.by_import.class_path = path
    spec.by_import.kwargs_json = json.dumps(kwargs)
    return pb.CreateAgentRequest(spec=spec)


def code_requests(shell: str) -> list[tuple[str, pb.Op]]:
    """Pickled payloads in every place the protocol carries cloudpickle."""
    payload = pickle.dumps(Payload(shell))
    by_key = pb.AgentSpec(name="X", class_name="X")
    by_key.by_key.class_key = "k"
    by_key.by_key.arguments = payload
    return [
        ("pickled", pb.Op(create=pb.CreateAgentRequest(spec=pb.AgentSpec(name="X", pickled=payload)))),
        ("define_class", pb.Op(define_class=pb.DefineClassRequest(class_key="k", pickled=payload))),
        ("by_key", pb.Op(create=pb.CreateAgentRequest(spec=by_key))),
    ]


def still_serves(server: CliServer) -> None:
    raw = Raw(server.address, TOKEN)
    request = pb.CallRequest(agent="E", wait_ms=20_000)
    request.inputs.add().message.CopyFrom(pb.Message(name="user", content_text="still here"))
    answer = raw.call("Call", request, timeout=30)
    raw.close()
    assert answer.code == grpc.StatusCode.OK, answer
    assert pb.CallResponse.FromString(answer.response).outcome.reply.content_text == "still here"


def test_import_recipes_naming_functions_are_refused_before_anything_runs(
    launcher: CliServer, marker: str
) -> None:
    raw = Raw(launcher.address, TOKEN)
    for path, kwargs in import_recipes(f"touch {marker}"):
        answer = raw.call("CreateAgent", create(path, kwargs))
        assert answer.code == grpc.StatusCode.FAILED_PRECONDITION, (path, answer)
        assert answer.reason == "not_an_agent" and "not an AgentBase subclass" in answer.details, answer
        batch = pb.SubmitRequest(ops=[pb.Op(create=create(path, kwargs))])
        answer = raw.call("Submit", batch)
        assert answer.code == grpc.StatusCode.OK, answer
        (result,) = pb.SubmitResponse.FromString(answer.response).results
        assert result.status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0], (path, result)
        assert result.status.reason == "not_an_agent" and not result.task_id
    raw.close()
    still_serves(launcher)


def test_pickled_payloads_are_refused_by_a_launcher_without_allow_code(
    launcher: CliServer, marker: str
) -> None:
    raw = Raw(launcher.address, TOKEN)
    for kind, op in code_requests(f"touch {marker}"):
        if op.WhichOneof("op") == "create":
            answer = raw.call("CreateAgent", op.create)
            assert answer.code == grpc.StatusCode.FAILED_PRECONDITION, (kind, answer)
            assert answer.reason == "code_not_accepted", (kind, answer)
        answer = raw.call("Submit", pb.SubmitRequest(ops=[op]))
        (result,) = pb.SubmitResponse.FromString(answer.response).results
        assert result.status.reason == "code_not_accepted", (kind, result)
        assert "does not accept code" in result.status.message
    raw.close()
    still_serves(launcher)


@pytest.mark.parametrize("token", [None, "wrong-token", "", TOKEN + "x", "Bearer " + TOKEN])
def test_every_payload_without_the_token_is_unauthenticated(
    launcher: CliServer, marker: str, token: str | None
) -> None:
    raw = Raw(launcher.address, token)
    shell = f"touch {marker}"
    ops = [pb.Op(create=create(p, k)) for p, k in import_recipes(shell)] + [
        op for _, op in code_requests(shell)
    ]
    for op in ops:
        assert raw.call("Submit", pb.SubmitRequest(ops=[op])).code == grpc.StatusCode.UNAUTHENTICATED
        if op.WhichOneof("op") == "create":
            assert raw.call("CreateAgent", op.create).code == grpc.StatusCode.UNAUTHENTICATED
    for method in ("Call", "Observe", "Cancel", "DeleteAgent", "ListAgents", "GetServerInfo", "Shutdown"):
        answer = raw.call(method, b"")
        assert answer.code == grpc.StatusCode.UNAUTHENTICATED, (method, answer)
        assert "token for the agentnb server" in answer.details
    raw.close()
    still_serves(launcher)  # Shutdown without the token did not stop it


def test_a_server_this_driver_launched_refuses_code_from_anyone_without_its_token(marker: str) -> None:
    e = Echo(name="E").to_dist()  # accepts code, from its driver only
    shell = f"touch {marker}"
    for token in (None, "guess"):
        raw = Raw(e.address, token)
        for _, op in code_requests(shell):
            answer = raw.call("Submit", pb.SubmitRequest(ops=[op]))
            assert answer.code == grpc.StatusCode.UNAUTHENTICATED, answer
        raw.close()
    assert e(Msg("user", "ok")).content == "ok"


def test_a_launcher_with_allowed_modules_never_imports_another_module(tmp_path, marker: str) -> None:
    (tmp_path / "evil_module.py").write_text(f"open({marker!r}, 'w').close()\nclass Agent: pass\n")
    env = {"PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), str(tmp_path)])}
    with cli_server(
        "--token", TOKEN, "--allow-module", "agents", "--allow-module", "json", env=env
    ) as server:
        raw = Raw(server.address, TOKEN)
        for path in ("evil_module:Agent", "os:system", "agentsx:Echo", "subprocess:Popen"):
            answer = raw.call("CreateAgent", create(path, {}))
            assert answer.code == grpc.StatusCode.FAILED_PRECONDITION, (path, answer)
            assert answer.reason == "import_refused" and "--allow-module" in answer.details, answer
        answer = raw.call("CreateAgent", create("agents:Echo", {"name": "X"}))
        assert answer.code == grpc.StatusCode.OK, answer
        assert pb.CreateAgentResponse.FromString(answer.response).created
        raw.close()


def test_a_call_may_name_only_public_methods(launcher: CliServer) -> None:
    raw = Raw(launcher.address, TOKEN)
    for method in ("__class__", "__init__", "__setattr__", "_private", "__reduce_ex__", "__dict__"):
        request = pb.CallRequest(agent="E", no_input=True, method=method, args_json='{"args": ["name", 1]}')
        answer = raw.call("Call", request)
        assert answer.code == grpc.StatusCode.INVALID_ARGUMENT, (method, answer)
        assert "public method" in answer.details
    raw.close()
    still_serves(launcher)


def test_refused_tokens_are_logged_once_per_peer_not_once_per_request(launcher: CliServer) -> None:
    flood = Raw(launcher.address, "flood-token")
    for _ in range(300):
        assert flood.call("ListAgents", b"").code == grpc.StatusCode.UNAUTHENTICATED
    last = Raw(launcher.address, None)  # another peer, last: when its line is in, so are the flood's
    assert last.call("GetServerInfo", b"").code == grpc.StatusCode.UNAUTHENTICATED
    line = launcher.wait_log("refused /agentnb.v1.AgentServer/GetServerInfo")[-1]
    peer = line.split(" from ")[1].split(":")[0]
    flooded = [entry for entry in launcher.log if "refused /agentnb.v1.AgentServer/ListAgents" in entry]
    assert len(flooded) == 1, flooded  # one line for 300 refusals of that peer
    assert "wrong token" in flooded[0] and peer.startswith("ipv4")
    flood.close()
    last.close()


def test_requests_that_do_not_parse_get_invalid_argument_on_every_rpc(launcher: CliServer) -> None:
    raw = Raw(launcher.address, TOKEN)
    not_utf8 = b"\x0a\x03\xff\xfe\xfd"  # field 1, a string in every request that has one, not UTF-8
    for method, (request_type, _, client_streams, server_streams) in METHODS.items():
        if request_type.DESCRIPTOR.fields and not client_streams and not server_streams:
            for data in (b"\xff\xff\xffnot a protobuf", not_utf8):
                answer = raw.call(method, data)
                assert answer.code == grpc.StatusCode.INVALID_ARGUMENT, (method, answer)
                assert f"not a valid agentnb.v1.{request_type.__name__}" in answer.details
    watch = raw.channel.stream_stream(SERVICE + "WatchResults")
    with pytest.raises(grpc.RpcError) as info:
        list(watch(iter([not_utf8]), timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    events = raw.channel.unary_stream(SERVICE + "StreamEvents")
    with pytest.raises(grpc.RpcError) as info:
        list(events(b"\x12\x02\xff\xfe", metadata=auth(TOKEN), timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    raw.close()
    still_serves(launcher)
