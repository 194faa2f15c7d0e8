"""Fuzzing: the codec and every RPC handler, with generated and mangled requests.

Decoding anything gives a value or a MessageError. A server answering any
request, with the token or without, answers with a status the protocol
documents, keeps serving, and holds no more memory after the fuzzing than
after a first round of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from raw import DOCUMENTED, METHODS, SERVICE, Launched, Raw, auth, rss_kib, sized_launcher, sizes

from agentnb import MessageError
from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime._codec import decode_event, decode_msg, decode_result, loads

pytestmark = pytest.mark.timeout(240)

TOKEN = "fuzz-token"
FAST = settings(
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

# -- the codec ---------------------------------------------------------------------------

json_texts = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.recursive(
        st.sampled_from(["1", "-0", "1e999", "NaN", "Infinity", '"x"', "null", "true", '"\\ud800"']),
        lambda inner: (
            st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
            | st.lists(inner, max_size=3).map(
                lambda xs: "{" + ",".join(f'"k{i}":{x}' for i, x in enumerate(xs)) + "}"
            )
        ),
        max_leaves=20,
    ),
)


@FAST
@given(st.one_of(json_texts, st.binary(max_size=300)))
@example("[" * 100_000)
@example('{"a": NaN}')
@example(b'{"a": "\xff\xfe"}')
@example("1" * 5000)
def test_decoding_json_gives_data_or_a_message_error(text: str | bytes) -> None:
    try:
        loads(text, "fuzzed")
    except MessageError as exc:
        assert "fuzzed" in str(exc)


def field_values(field: Any, depth: int) -> st.SearchStrategy[Any]:
    """Values for one protobuf field, interesting ones included."""
    t = field.type
    if t == field.TYPE_MESSAGE:
        return messages(field.message_type._concrete_class, depth + 1) if depth < 3 else st.nothing()
    if t == field.TYPE_STRING:
        return st.one_of(
            st.text(max_size=30),
            st.sampled_from(INTERESTING_STRINGS),
            st.binary(min_size=16, max_size=16).map(bytes.hex),  # a well-formed task id
        )
    if t == field.TYPE_BYTES:
        return st.binary(max_size=100)
    if t == field.TYPE_BOOL:
        return st.booleans()
    if t == field.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if t == field.TYPE_ENUM:
        return st.integers(-2, 10)
    bits = {field.TYPE_UINT32: (0, 2**32 - 1), field.TYPE_INT32: (-(2**31), 2**31 - 1)}
    low, high = bits.get(t, (0, 2**64 - 1))
    return st.one_of(st.sampled_from([low, 0, 1, 50, high]), st.integers(low, high))


INTERESTING_STRINGS = [
    "", "X", "agents:Echo", "agents:Counter", "agents:Memory", "os:system", "subprocess:Popen",
    '{"name": "X"}', '{"name": "E", "start": 1}', "{", "[]", "null", '{"args": [1], "kwargs": {}}',
    "reply", "observe", "__class__", "127.0.0.1:1", "x" * 2000, "\x00", "é" * 10,
]  # fmt: skip


def messages(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    """Protobuf messages of ``cls`` with any subset of fields set to generated values."""
    fields = {}
    for field in cls.DESCRIPTOR.fields:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
            keys, values = field_values(key, depth), field_values(value, depth)
            fields[field.name] = st.dictionaries(keys, values, max_size=3)
            continue
        values = field_values(field, depth)
        if field.is_repeated:
            values = st.lists(values, max_size=3)
        fields[field.name] = values
    return st.fixed_dictionaries({}, optional=fields).map(lambda kwargs: _build(cls, kwargs))


def _build(cls: type, kwargs: dict[str, Any]) -> Any:
    message = cls()
    for name, value in kwargs.items():  # in field order: the last oneof member set wins
        target = getattr(message, name)
        if isinstance(value, list):
            target.extend(value)
        elif isinstance(value, dict):  # a map field
            target.update(value)
        elif hasattr(target, "CopyFrom"):
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


@FAST
@given(messages(pb.Message), messages(pb.Outcome), messages(pb.Event))
def test_decoding_any_message_outcome_or_event_gives_values_or_a_message_error(
    message: Any, outcome: Any, event: Any
) -> None:
    for decode in (lambda: decode_msg(message, "fuzzed"), lambda: decode_result(outcome, "fuzzed")):
        try:
            decode()
        except MessageError as exc:
            assert "fuzzed" in str(exc)
    decode_event(event, "127.0.0.1:1")


# -- every RPC handler ---------------------------------------------------------------------


def mangled(cls: type) -> st.SearchStrategy[bytes]:
    """Requests as bytes: generated ones, mangled ones, garbage, and strings that are not UTF-8."""
    return st.one_of(
        messages(cls).map(lambda m: m.SerializeToString()),
        st.tuples(messages(cls), st.binary(min_size=1, max_size=8), st.integers(0, 400)).map(
            lambda t: (lambda b: b[: t[2]] + t[1] + b[t[2] + len(t[1]) :])(t[0].SerializeToString())
        ),
        st.binary(max_size=300),
        # field 1 (a string in every request that has one) holding bytes that are not UTF-8
        st.binary(min_size=1, max_size=20).map(lambda b: b"\x0a" + bytes([len(b) + 1]) + b"\xff" + b),
    )


def _call() -> st.SearchStrategy[Any]:
    """A call of agent "E" with one generated message."""
    return st.builds(
        lambda m, wait: pb.CallRequest(agent="E", inputs=[pb.Input(message=m)], wait_ms=wait),
        messages(pb.Message),
        st.sampled_from([0, 0, 100]),
    )


def _method_call() -> st.SearchStrategy[Any]:
    names = ["name", "memory", "observe", "reply", "__class__", "nope", "a.b"]
    args = ["", "{}", '{"args": [null]}', '{"args": 1}', "[", '{"kwargs": {"x": 1}}', '{"args": [{"a": 1}]}']
    return st.builds(
        lambda name, a: pb.CallRequest(agent="E", no_input=True, method=name, args_json=a),
        st.sampled_from(names),
        st.sampled_from(args),
    )


def _create() -> st.SearchStrategy[Any]:
    paths = ["agents:Echo", "agents:Counter", "agents:Memory", "os:system", "agents", "x:y:z", "agents:Nope"]
    kwargs = [
        '{"name": "X"}',
        '{"name": "Y", "start": 3}',
        "{}",
        "[1]",
        '{"name": 1}',
        '{"name": "Z", "x": 1}',
    ]
    return st.builds(
        lambda name, path, kw, replace: pb.CreateAgentRequest(
            spec=pb.AgentSpec(name=name, by_import=pb.ImportRecipe(class_path=path, kwargs_json=kw)),
            replace=replace,
        ),
        st.sampled_from(["X", "Y", "Z"]) | st.text(max_size=8),
        st.sampled_from(paths),
        st.sampled_from(kwargs),
        st.booleans(),
    )


def valid(method: str, ids: list[str]) -> st.SearchStrategy[Any] | None:
    """Well-formed requests that reach past parsing into the handler (None: generated ones do)."""
    some_ids = st.lists(st.sampled_from(ids), max_size=3)
    op = (
        _call().map(lambda c: pb.Op(call=c))
        | _create().map(lambda c: pb.Op(create=c))
        | some_ids.map(lambda i: pb.Op(release=pb.ReleaseRequest(task_ids=i)))
    )
    return {
        "Call": _call() | _method_call(),
        "CreateAgent": _create(),
        "Submit": st.lists(op, max_size=4).map(lambda ops: pb.SubmitRequest(ops=ops)),
        "Observe": messages(pb.Message).map(
            lambda m: pb.ObserveRequest(agent="E", inputs=[pb.Input(message=m)])
        ),
        "FetchResult": st.sampled_from(ids).map(lambda i: pb.FetchResultRequest(task_id=i)),
        "WatchResults": some_ids.map(lambda i: pb.WatchResultsRequest(task_ids=i, inline_limit=10)),
        "FetchItems": st.builds(
            lambda i, start: pb.FetchItemsRequest(task_id=i[:24] + "0" * 8, start=start),
            st.sampled_from(ids),
            st.integers(0, 5),
        ),
        "Cancel": st.builds(
            lambda i, a: pb.CancelRequest(task_ids=i, agent=a), some_ids, st.sampled_from(["", "E", "nope"])
        ),
        "DeleteAgent": st.sampled_from(["X", "Y", "nope"]).map(lambda n: pb.DeleteAgentRequest(name=n)),
    }.get(method)


def requests(method: str, ids: list[str]) -> st.SearchStrategy[bytes]:
    request_type = METHODS[method][0]
    good = valid(method, ids)
    if good is None:
        return mangled(request_type)
    return mangled(request_type) | good.map(lambda m: m.SerializeToString())


@pytest.fixture(scope="module")
def server() -> Iterator[Launched]:
    limits = {"result_bytes": 8 * 2**20, "event_history_bytes": 2**20, "max_results": 5000}
    with sized_launcher(limits, TOKEN, "agents:Echo", "E") as launched:
        yield launched


class Fuzzer:
    """Sends fuzzed requests to every RPC of one server; remembers the codes it saw."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.clients = {token: Raw(address, token) for token in (TOKEN, None, "wrong")}
        self.seen: dict[str, set[grpc.StatusCode]] = {name: set() for name in METHODS}
        self.ids = [self._call_id() for _ in range(3)]  # task ids of real (finished) calls

    def _call_id(self) -> str:
        request = pb.CallRequest(agent="E", no_input=True, wait_ms=10_000)
        answer = self.clients[TOKEN].call("Call", request, timeout=30)
        assert answer.code == grpc.StatusCode.OK and answer.response is not None, answer
        return pb.CallResponse.FromString(answer.response).task_id

    def send(self, method: str, data: bytes, token: str | None) -> None:
        if method == "Shutdown" and token == TOKEN:
            token = None  # the one request that may not be made with the token: it stops the server
        _, _, client_streams, server_streams = METHODS[method]
        raw = self.clients[token]
        if client_streams:
            code = self._bidi(raw, method, data, token)
        elif server_streams:
            code = self._stream(raw, method, data, token)
        else:
            answer = raw.call(method, data, timeout=3)
            code = answer.code
            assert code in DOCUMENTED, (method, answer, data[:100])
        self.seen[method].add(code)
        assert code in DOCUMENTED, (method, code, data[:100])

    def _stream(self, raw: Raw, method: str, data: bytes, token: str | None) -> grpc.StatusCode:
        call = raw.channel.unary_stream(SERVICE + method)(data, metadata=auth(token), timeout=3)
        try:
            next(iter(call))  # the first batch says the stream is up: enough
        except StopIteration:
            pass
        except grpc.RpcError as exc:
            return exc.code()
        finally:
            call.cancel()
        return grpc.StatusCode.OK

    def _bidi(self, raw: Raw, method: str, data: bytes, token: str | None) -> grpc.StatusCode:
        call = raw.channel.stream_stream(SERVICE + method)(
            iter([data, data]), metadata=auth(token), timeout=3
        )
        try:
            for _ in call:
                pass
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def fuzz_round(fuzzer: Fuzzer, examples: int) -> None:
    for method in METHODS:

        @settings(FAST, max_examples=examples)
        @given(data=requests(method, fuzzer.ids), token=st.sampled_from([TOKEN, TOKEN, TOKEN, None, "wrong"]))
        def fuzz(data: bytes, token: str | None) -> None:
            fuzzer.send(method, data, token)  # noqa: B023 - run before the loop moves on

        fuzz()


def test_every_rpc_answers_fuzzed_requests_with_documented_statuses_in_flat_memory(server: Launched) -> None:
    fuzzer = Fuzzer(server.address)
    checker = Raw(server.address, TOKEN)
    try:
        fuzz_round(fuzzer, 25)  # warms every path up
        before = sizes(checker)
        rss_before = rss_kib(server.pid)
        fuzz_round(fuzzer, int(os.environ.get("AGENTNB_FUZZ_EXAMPLES", "120")))
        after = sizes(checker)
        rss_after = rss_kib(server.pid)
    finally:
        fuzzer.close()
    assert server.pid and os.path.exists(f"/proc/{server.pid}"), "the server died"
    assert after["waiters"] == 0, after
    assert after["store_bytes"] <= 8 * 2**20 and after["event_bytes"] <= 2**20, after
    assert rss_after - rss_before < 24 * 1024, (rss_before, rss_after, before, after)
    # the fuzzing reached past the token and past parsing
    assert grpc.StatusCode.OK in fuzzer.seen["Submit"] and grpc.StatusCode.OK in fuzzer.seen["Call"]
    assert grpc.StatusCode.INVALID_ARGUMENT in fuzzer.seen["Call"]
    capabilities = ("FetchResult", "WatchResults", "FetchItems", "StreamResult")  # a task id, not a token
    assert all(
        grpc.StatusCode.UNAUTHENTICATED in codes for m, codes in fuzzer.seen.items() if m not in capabilities
    )
    checker.close()
