"""The replies of a mesh call, read all at once: streamed from their server, then decoded.

A mesh call keeps one reply per agent on each server (``FetchItems`` streams
them in the mesh's order as they are ready). Drivers read them to gather a
mesh's replies; servers read them when a call takes a whole mesh call's
replies as one input (``TaskRef.items``, a fan-in of thousands of agents in
one reference per server).
"""

from __future__ import annotations

import asyncio
import time

from google.protobuf.message import DecodeError

from .._core._errors import AgentnbError, ProtocolError, RemoteError, ServerUnavailableError
from .._core._message import Msg
from .._proto import agentnb_pb2 as pb
from ._client import ServerClient
from ._codec import Returned, decode_result


async def fetch_items(client: ServerClient, task_id: str, what: str) -> list[bytes]:
    """Every reply (a serialized Outcome each) of the mesh call ``task_id`` on ``client``'s
    server, waiting for them as long as they take; a server that cannot be reached for
    ``Timeouts.reconnect`` seconds fails it (ServerUnavailableError)."""
    got: list[bytes] = []
    down_since, pause = 0.0, 0.05
    while True:
        try:
            async for chunk in client.items(task_id, len(got), what):
                if chunk.start != len(got):
                    raise ProtocolError(f"{what}: replies from {chunk.start} arrived after {len(got)}")
                got.extend(chunk.outcomes)
                down_since = 0.0
            return got
        except ServerUnavailableError as exc:
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since > client.timeouts.reconnect:
                raise ServerUnavailableError(
                    f"{exc} (unreachable for {client.timeouts.reconnect:.0f} s)"
                ) from exc
            await asyncio.sleep(pause)
            pause = min(1.0, pause * 2)


def item_values(wires: list[bytes], mesh: str, address: str) -> list[Msg] | RemoteError:
    """The replies as messages (a method's value travels as a message from the mesh), or the
    first failure among them."""
    values: list[Msg] = []
    where = f"a reply of mesh {mesh!r}"
    for wire in wires:
        try:
            result = decode_result(pb.Outcome.FromString(wire), where)
        except (AgentnbError, DecodeError) as exc:  # a malformed reply: the input cannot be read
            return RemoteError(mesh, address, type(exc).__name__, str(exc), "")
        if isinstance(result, RemoteError):
            return result
        values.append(Msg(mesh, result.value) if isinstance(result, Returned) else result)
    return values
