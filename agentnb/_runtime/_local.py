"""Servers in this very process: an agent that calls an agent of its own server skips gRPC.

A server process (``python -m agentnb.server``) registers itself here under
its address; a link to that address, made by one of its agents, then sends
calls and reads outcomes in-process (:class:`LocalServer`), keeping the
mailbox's order and the event feed's tracing, which the server's own code
does as for any call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from .._core._errors import AgentnbError
from .._proto import agentnb_pb2 as pb

#: Called with a task's result, and the id of the server instance that answered.
Delivery = Callable[[pb.TaskResult, str], None]


class LocalServer(Protocol):
    """What a server in this process offers its own agents (``server._local`` implements it)."""

    address: str
    server_id: str

    def info(self) -> pb.GetServerInfoResponse: ...

    def submit(self, ops: list[bytes]) -> pb.SubmitResponse:
        """Apply a batch of serialized operations (never blocks: nothing runs inline)."""

    def call(self, request: pb.CallRequest, wait: float) -> pb.CallResponse:
        """A call from this thread, run here if its agent is idle; raises agentnb errors."""

    def fetch(self, task_id: str, agent: str, timeout: float | None) -> pb.Outcome:
        """A task's whole outcome once ready; CallTimeoutError after ``timeout``."""

    def watch(self, task_id: str, deliver: Delivery, fail: Callable[[AgentnbError], None]) -> None:
        """Deliver the task's result when it is ready (from whichever thread finishes it)."""

    def cancel(self, request: pb.CancelRequest) -> pb.CancelResponse: ...


_servers: dict[str, LocalServer] = {}
_lock = threading.Lock()


def register(server: LocalServer) -> None:
    with _lock:
        _servers[server.address] = server


def unregister(server: LocalServer) -> None:
    with _lock:
        if _servers.get(server.address) is server:
            del _servers[server.address]


def lookup(address: str) -> LocalServer | None:
    """The server at ``address`` if it runs in this process."""
    return _servers.get(address)
