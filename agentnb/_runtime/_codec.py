"""Conversions between agentnb's Python objects and the wire messages.

Decoding never trusts its input: malformed JSON, NaN or infinity, nesting
deeper than Python can parse, and text that is not UTF-8 all become a
:class:`~agentnb.MessageError` that names where the bad value was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._core._errors import AgentnbError, CallCancelledError, MessageError, MessageTooLargeError, RemoteError
from .._core._events import KINDS, Event, InputRef
from .._core._message import Msg
from .._proto import agentnb_pb2 as pb
from ._memory import big_message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON data")


def loads(text: str | bytes, where: str) -> Any:
    """Parse JSON data strictly (no NaN/infinity); errors name ``where``."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise MessageError(f"{where} is nested too deeply to decode") from None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise MessageError(f"{where} is malformed: its JSON does not parse ({exc})") from exc


def dumps(value: Any, where: str) -> str:
    """Encode JSON data; errors name the path of the first value that cannot travel.

    Messages inside the value travel as messages, and registered references
    (distributed agents) as references: both become tagged objects.
    """
    kind = type(value)
    if kind is int:  # most contents: no walk, no encoder
        return int.__repr__(value)
    if kind is str or value is None or kind is bool:
        return _ENCODER.encode(value)
    try:
        prepared = _prepare(value, 0)
    except _Untravelable as exc:
        raise MessageError(exc.message(where)) from None
    try:
        return _ENCODER.encode(prepared)
    except ValueError as exc:  # NaN / infinity
        raise MessageError(f"{where} cannot be encoded as JSON: {exc}") from exc


_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


#: How a Msg, and a reference (a distributed agent), are tagged inside JSON data.
MSG_TAG = "__agentnb_msg__"
REF_TAG = "__agentnb_ref__"
_MAX_DEPTH = 200

#: Types that travel as references: type -> its reference (a dict). The facade
#: registers DistributedAgent here (the runtime does not know it).
_references: dict[type, Callable[[Any], dict[str, Any]]] = {}
#: Turns a reference back into its object (set by the facade's agent module).
_decode_reference: Callable[[dict[str, Any]], Any] | None = None


def register_reference(kind: type, encode: Callable[[Any], dict[str, Any]]) -> None:
    """Values of ``kind`` travel as references: ``encode`` makes the reference."""
    _references[kind] = encode


def set_reference_decoder(decode: Callable[[dict[str, Any]], Any]) -> None:
    """How a reference arriving in a message becomes its object again."""
    global _decode_reference
    _decode_reference = decode


class _Untravelable(Exception):
    """A value inside the data cannot travel; ``steps`` is its path, built as the walk unwinds."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.steps: list[str] = []

    def message(self, where: str) -> str:
        return f"{where}{''.join(reversed(self.steps))} {self.problem}"


def _prepare(value: Any, depth: int) -> Any:
    """Check that ``value`` can travel as JSON, and tag the messages and references in it.

    Paths are only spelled out for a value that cannot travel (an f-string per
    item would cost more than the encoding).
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth > _MAX_DEPTH:
        raise _Untravelable(f"is nested too deeply (more than {_MAX_DEPTH} levels) to travel")
    if isinstance(value, (list, tuple)):
        out_list = []
        for i, v in enumerate(value):
            try:
                out_list.append(_prepare(v, depth + 1))
            except _Untravelable as exc:
                exc.steps.append(f"[{i}]")
                raise
        return out_list
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise _Untravelable(
                    f"has a non-string key {key!r}; messages carry JSON data, so dict keys must be str"
                )
            try:
                out[key] = _prepare(v, depth + 1)
            except _Untravelable as exc:
                exc.steps.append(f"[{key!r}]")
                raise
        return out
    if isinstance(value, Msg):
        fields = {}
        for k, v in value.to_dict().items():
            try:
                fields[k] = _prepare(v, depth + 1)
            except _Untravelable as exc:
                exc.steps.append(f".{k}")
                raise
        return {MSG_TAG: fields}
    reference = _references.get(type(value))
    if reference is not None:
        return {REF_TAG: reference(value)}
    raise _Untravelable(
        f"is a {type(value).__name__}, which cannot travel in a message; use JSON-compatible "
        "data (str, numbers, bool, None, lists, dicts), bytes, messages or distributed agents"
    )


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) != 1:
        return obj
    inner = obj.get(MSG_TAG)
    if isinstance(inner, dict):
        fields = dict(inner)
        return Msg(
            str(fields.pop("name", "")), fields.pop("content", None), fields.pop("role", "assistant"),
            url=fields.get("url"), metadata=fields.get("metadata"), id=fields.get("id"),
            timestamp=fields.get("timestamp"),
        )  # fmt: skip
    ref = obj.get(REF_TAG)
    if isinstance(ref, dict) and _decode_reference is not None:
        return _decode_reference(ref)
    return obj


def loads_tagged(text: str, where: str) -> Any:
    """Parse JSON data strictly, turning tagged messages and references back into objects."""
    try:
        return json.loads(text, parse_constant=_reject_constant, object_hook=_untag)
    except RecursionError:
        raise MessageError(f"{where} is nested too deeply to decode") from None
    except (ValueError, TypeError) as exc:
        raise MessageError(f"{where} is malformed: its JSON does not parse ({exc})") from exc


def encode_value(value: Any, where: str) -> str:
    """A method's arguments or return value as JSON."""
    return dumps(value, where)


def decode_value(text: str, where: str) -> Any:
    """The inverse of :func:`encode_value` (raises MessageError on malformed input)."""
    return loads_tagged(text, where)


def encode_msg(msg: Msg, max_bytes: int, where: str = "message") -> pb.Message:
    """Encode a Msg; raise MessageError / MessageTooLargeError naming ``where``."""
    out = pb.Message()
    fill_msg(out, msg, max_bytes, where)
    return out


def fill_msg(out: pb.Message, msg: Msg, max_bytes: int, where: str = "message") -> int:
    """Encode a Msg into ``out`` in place (no copy of a big content); returns its size (about).

    Raises:
        MessageError: a field cannot travel (its path is named).
        MessageTooLargeError: over ``max_bytes``.
    """
    if not isinstance(msg, Msg):
        raise MessageError(f"{where} must be a Msg, got {type(msg).__name__}")
    out.id, out.name, out.role, out.timestamp = msg.id, msg.name, msg.role or "", msg.timestamp
    content = msg.content
    if isinstance(content, str):
        out.content_text = content
        big_message(len(content))
        size = len(content) * 4 if len(content) * 4 > max_bytes else len(content)  # UTF-8: up to 4x
    elif isinstance(content, (bytes, bytearray, memoryview)):
        out.content_bytes = bytes(content)
        size = content.nbytes if isinstance(content, memoryview) else len(content)  # reading it back copies
        big_message(size)
    else:
        out.content_json = dumps(content, f"{where}.content")
        size = len(out.content_json)
    if msg.url is not None:
        out.url_json = dumps(msg.url, f"{where}.url")
        size += len(out.url_json)
    if msg.metadata is not None:
        out.metadata_json = dumps(msg.metadata, f"{where}.metadata")
        size += (
            len(out.metadata_json) * 4 if len(out.metadata_json) * 4 > max_bytes else len(out.metadata_json)
        )
    size += 64 + len(out.id) + len(out.name) + len(out.role)
    if size > max_bytes:
        size = out.ByteSize()  # the estimate may be high (non-ASCII text): measure
        if size > max_bytes:
            raise MessageTooLargeError(
                f"{where} from {msg.name!r} is {size:,} bytes encoded, over the limit of "
                f"{max_bytes:,} bytes; send a smaller message (e.g. a URL to the data) or "
                "raise Limits(max_message_bytes=...)"
            )
    return size


def decode_msg(msg: pb.Message, where: str = "message") -> Msg:
    """Decode a Msg; raise MessageError naming ``where`` if a field is malformed."""
    field = f"{where} from {msg.name!r}"
    kind = msg.WhichOneof("content")
    if kind == "content_text":
        content: Any = msg.content_text
        big_message(len(content))
    elif kind == "content_bytes":
        content = msg.content_bytes
        big_message(len(content))
    else:
        content = loads_tagged(msg.content_json, f"{field} (content)") if msg.content_json else None
    url = loads(msg.url_json, f"{field} (url)") if msg.url_json else None
    metadata = loads_tagged(msg.metadata_json, f"{field} (metadata)") if msg.metadata_json else None
    return Msg(msg.name, content, msg.role, url=url, metadata=metadata, id=msg.id, timestamp=msg.timestamp)


def input_label(index: int, count: int, agent: str) -> str:
    """How errors name one of a call's inputs."""
    return f"input {index} to agent {agent!r}" if count > 1 else f"input to agent {agent!r}"


def fill_ref(
    out: pb.Input,
    address: str,
    task_id: str,
    agent: str,
    server_id: str,
    batch_op: int = 0,
    call_key: str = "",
) -> None:
    """Make an input slot a placeholder's reference, in place (``batch_op``: to the task an
    earlier operation of the same Submit makes; ``call_key``: to the task of the call with
    that key on that server)."""
    ref = out.ref
    ref.address, ref.task_id, ref.agent, ref.server_id = address, task_id, agent, server_id
    ref.batch_op, ref.call_key = batch_op, call_key


def encode_failure(failure: RemoteError) -> pb.Failure:
    return pb.Failure(
        agent=failure.agent,
        address=failure.address,
        exc_type=failure.exc_type,
        message=failure.remote_message,
        traceback=failure.remote_traceback,
        task_id=failure.task_id,
    )


def decode_failure(failure: pb.Failure) -> RemoteError:
    return RemoteError(
        failure.agent, failure.address, failure.exc_type, failure.message, failure.traceback, failure.task_id
    )


#: The type a server names for a call withdrawn from its agent's mailbox before it started.
CANCELLED = "CallCancelled"


def driver_error(error: RemoteError) -> AgentnbError:
    """A failure as the driver reports it: a call withdrawn before it started is a
    :class:`CallCancelledError` (it never ran, so it has no remote traceback), anything
    else stays the :class:`RemoteError` it is."""
    if error.exc_type != CANCELLED:
        return error
    return CallCancelledError(f"agent {error.agent!r} on {error.address}: {error.remote_message}")


@dataclass(frozen=True)
class Returned:
    """What a method call (not ``reply``) returned."""

    value: Any


def decode_result(outcome: pb.Outcome, where: str = "the reply") -> Msg | RemoteError | Returned:
    """An outcome's result: the reply, the RemoteError describing the failure, or a returned value."""
    kind = outcome.WhichOneof("result")
    if kind == "failure":
        return decode_failure(outcome.failure)
    if kind == "value_json":
        return Returned(decode_value(outcome.value_json, where))
    return decode_msg(outcome.reply, where)


def decode_event(event: pb.Event, address: str) -> Event:
    kind = KINDS[event.kind - 1] if 1 <= event.kind <= len(KINDS) else "unknown"
    return Event(
        kind=kind,
        task_id=event.task_id,
        agent=event.agent,
        address=address,
        caller=event.caller,
        inputs=tuple(InputRef(r.address or address, r.task_id, r.agent, r.call_key) for r in event.inputs),
        timestamp=event.timestamp,
        preview=event.preview,
        text=event.text,
        seq=event.seq,
        message_id=event.message_id,
        direct_inputs=event.direct_inputs,
        chunk=event.chunk,
        call_key=event.call_key,
    )


def decode_events(event: pb.Event, address: str) -> list[Event]:
    """The events one feed event stands for: a DONE or ERROR that carries its call's QUEUED
    (and RUNNING) event too (``queued_at``) is three (or two), in order. Built directly, not
    with ``dataclasses.replace`` (ten times dearer: it ran for every call of a traced run)."""
    if not event.queued_at:
        return [decode_event(event, address)]
    kind = KINDS[event.kind - 1] if 1 <= event.kind <= len(KINDS) else "unknown"
    task_id, agent, seq = event.task_id, event.agent, event.seq
    queued = Event(
        "queued", task_id, agent, address, event.caller,
        tuple(InputRef(r.address or address, r.task_id, r.agent, r.call_key) for r in event.inputs),
        event.queued_at, event.input_preview, event.text, seq, "", event.direct_inputs, event.chunk,
        event.call_key,
    )  # fmt: skip
    last = Event(
        kind, task_id, agent, address, "", (), event.timestamp, event.preview, event.text, seq,
        event.message_id, 0, event.chunk,
    )  # fmt: skip
    if event.started_at:
        return [queued, Event("running", task_id, agent, address, timestamp=event.started_at, seq=seq), last]
    return [queued, last]


def preview(value: Any, limit: int = 60) -> str:
    """A one-line preview of message content for events and reprs (cheap for big values)."""
    if isinstance(value, str):
        text = value[: limit * 4]
    elif isinstance(value, (bytes, bytearray)):
        text = f"<{len(value):,} bytes>"
    else:
        text = _short_repr(value, limit * 4)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: Any, budget: int, depth: int = 0) -> str:
    """``repr`` of a container, stopping once ``budget`` characters are written."""
    if depth > 8 and isinstance(value, (dict, list, tuple)):
        return "…"
    if isinstance(value, dict):
        parts, used = [], 0
        for key, item in value.items():
            part = f"{key!r}: {_short_repr(item, budget - used, depth + 1)}"
            parts.append(part)
            used += len(part) + 2
            if used >= budget:
                break
        return "{" + ", ".join(parts) + ("…}" if used >= budget else "}")
    if isinstance(value, (list, tuple)):
        parts, used = [], 0
        for item in value:
            part = _short_repr(item, budget - used, depth + 1)
            parts.append(part)
            used += len(part) + 2
            if used >= budget:
                break
        return "[" + ", ".join(parts) + ("…]" if used >= budget else "]")
    text = repr(value)
    return text[:budget]
