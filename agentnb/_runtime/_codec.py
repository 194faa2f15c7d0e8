"""Conversions between agentnb's Python objects and the wire messages."""

from __future__ import annotations

import json
from typing import Any

from .._errors import MessageError, MessageTooLargeError, RemoteError
from .._events import KINDS, Event, InputRef
from .._message import Msg, check_jsonable
from .._proto import agentnb_pb2 as pb


def _dumps(value: Any, where: str) -> str:
    check_jsonable(value, where)
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError as exc:  # NaN / infinity
        raise MessageError(f"{where} cannot be encoded as JSON: {exc}") from exc


def encode_msg(msg: Msg, max_bytes: int, where: str = "message") -> pb.Message:
    """Encode a Msg; raise MessageError / MessageTooLargeError naming ``where``."""
    if not isinstance(msg, Msg):
        raise MessageError(f"{where} must be a Msg, got {type(msg).__name__}")
    out = pb.Message(id=msg.id, name=msg.name, role=msg.role or "", timestamp=msg.timestamp)
    content = msg.content
    if isinstance(content, (bytes, bytearray, memoryview)):
        out.content_bytes = bytes(content)
    else:
        out.content_json = _dumps(content, f"{where}.content")
    if msg.url is not None:
        out.url_json = _dumps(msg.url, f"{where}.url")
    if msg.metadata is not None:
        out.metadata_json = _dumps(msg.metadata, f"{where}.metadata")
    size = out.ByteSize()
    if size > max_bytes:
        raise MessageTooLargeError(
            f"{where} from {msg.name!r} is {size:,} bytes encoded, over the limit of "
            f"{max_bytes:,} bytes; send a smaller message (e.g. a URL to the data) or "
            "raise Limits(max_message_bytes=...)"
        )
    return out


def decode_msg(msg: pb.Message, where: str = "message") -> Msg:
    """Decode a Msg; raise MessageError naming ``where`` if its JSON fields are malformed."""
    try:
        if msg.WhichOneof("content") == "content_bytes":
            content: Any = msg.content_bytes
        else:
            content = json.loads(msg.content_json) if msg.content_json else None
        url = json.loads(msg.url_json) if msg.url_json else None
        metadata = json.loads(msg.metadata_json) if msg.metadata_json else None
    except ValueError as exc:
        problem = f"its JSON does not parse ({exc})"
        raise MessageError(f"{where} from {msg.name!r} is malformed: {problem}") from exc
    return Msg(msg.name, content, msg.role, url=url, metadata=metadata, id=msg.id, timestamp=msg.timestamp)


#: A placeholder as it travels: (producing server's address, task id, agent name).
Ref = tuple[str, str, str]


def input_label(index: int, count: int, agent: str) -> str:
    """How errors name one of a call's inputs."""
    return f"input {index} to agent {agent!r}" if count > 1 else f"input to agent {agent!r}"


def encode_inputs(items: list[Msg | Ref], max_bytes: int, agent: str) -> list[pb.Input]:
    """Encode a call's inputs: messages inline, placeholders as references."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Msg):
            where = input_label(i, len(items), agent)
            out.append(pb.Input(message=encode_msg(item, max_bytes, where)))
        else:
            address, task_id, producer = item
            out.append(pb.Input(ref=pb.TaskRef(address=address, task_id=task_id, agent=producer)))
    return out


def call_request(agent: str, task_id: str, caller: str, shape: str, inputs: list[pb.Input]) -> pb.CallRequest:
    """A Call; ``shape`` is how reply receives the inputs: "none", "one" or "list"."""
    return pb.CallRequest(
        agent=agent, task_id=task_id, caller=caller, inputs=inputs,
        no_input=shape == "none", as_list=shape == "list",
    )  # fmt: skip


def observe_request(agent: str, inputs: list[pb.Input]) -> pb.ObserveRequest:
    return pb.ObserveRequest(agent=agent, inputs=inputs)


def encode_failure(failure: RemoteError) -> pb.Failure:
    return pb.Failure(
        agent=failure.agent,
        address=failure.address,
        exc_type=failure.exc_type,
        message=failure.remote_message,
        traceback=failure.remote_traceback,
    )


def decode_failure(failure: pb.Failure) -> RemoteError:
    return RemoteError(failure.agent, failure.address, failure.exc_type, failure.message, failure.traceback)


def decode_outcome(response: pb.FetchResultResponse) -> Msg | RemoteError:
    """A fetched outcome: the reply, or the RemoteError describing the failure."""
    if response.WhichOneof("outcome") == "failure":
        return decode_failure(response.failure)
    return decode_msg(response.reply)


def decode_event(event: pb.Event, address: str) -> Event:
    kind = KINDS[event.kind - 1] if 1 <= event.kind <= len(KINDS) else "unknown"
    return Event(
        kind=kind,
        task_id=event.task_id,
        agent=event.agent,
        address=address,
        caller=event.caller,
        inputs=tuple(InputRef(r.address, r.task_id, r.agent) for r in event.inputs),
        timestamp=event.timestamp,
        preview=event.preview,
        text=event.text,
        seq=event.seq,
        message_id=event.message_id,
        direct_inputs=event.direct_inputs,
    )


def preview(value: Any, limit: int = 60) -> str:
    """A one-line preview of message content for events and reprs."""
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
