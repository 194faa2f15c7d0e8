"""Agent servers running in this process, by server id: calls to them need no gRPC.

A server registers itself when it starts (``python -m agentnb.server``, or a
launcher's threads) and goes when it stops. Code running inside it (an
agent's ``reply`` that calls a mesh of agents on the same server, say a judge
calling its players) finds it here and hands its calls over directly: no
encoding into requests, no channel, no round trip; the same mailboxes, order
and events as calls that came over the network.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol


class LocalMeshCall(Protocol):
    """A mesh call made in-process: its task and its replies (serialized outcomes)."""

    task_id: str
    server_id: str
    address: str
    count: int

    def when_item(self, k: int, callback: Callable[[bytes], None]) -> None:
        """Run ``callback(outcome bytes)`` once the reply of the ``k``-th agent is there."""

    def items(self, timeout: float | None) -> list[bytes] | None:
        """Every reply, waiting at most ``timeout`` seconds (None if they are not all there)."""

    def release(self) -> None:
        """Nobody reads these replies again."""


class LocalServer(Protocol):
    """What an in-process server offers to code running in it."""

    server_id: str
    address: str

    def call_mesh(self, mesh: str, inputs: list[Any], shape: str, each: bool, caller: str) -> LocalMeshCall:
        """Call this server's part of ``mesh``: every agent gets ``inputs`` (``each``: the k-th
        agent gets ``inputs[k]``). Raises AgentnbError subclasses for what it refuses."""


_lock = threading.Lock()
_servers: dict[str, LocalServer] = {}


def register(server: LocalServer) -> None:
    with _lock:
        _servers[server.server_id] = server


def unregister(server: LocalServer) -> None:
    with _lock:
        if _servers.get(server.server_id) is server:
            del _servers[server.server_id]


def local(server_id: str) -> LocalServer | None:
    """The server of that id if it runs in this process."""
    return _servers.get(server_id) if server_id else None
