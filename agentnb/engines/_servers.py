"""The driver's record of one server of a pool, and what a pool's listing shows of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._runtime._link import ServerLink

ALIVE, LOST, STOPPED = "alive", "lost", "stopped"


@dataclass(eq=False)
class PoolServer:
    """One agent server an engine started for a pool.

    Attributes:
        address: ``host:port`` other hosts reach it at.
        host: the worker's address (IP) the server listens on.
        worker: the engine's name for the worker (a Dask worker's address, a Ray node id).
        node: the worker machine's host name.
        pid: the server process's pid on that machine.
        state: "alive", "lost" (its worker or node died, or it stopped answering)
            or "stopped" (the pool was closed).
        cause: why it was lost.
        rss: its resident memory at the last lease renewal (bytes; 0 until known).
        members: the agents placed on it (an ordered set).
        link: the session's link to it.
    """

    address: str
    host: str
    worker: str
    node: str
    pid: int
    state: str = ALIVE
    cause: str = ""
    rss: int = 0
    server_agents: int = 0  # agents the server itself reports (its own count, any driver's)
    members: dict[Any, None] = field(default_factory=dict)
    link: ServerLink | None = None
    last_ok: float = field(default_factory=time.monotonic)
    refused: int = 0  # lease renewals refused in a row

    @property
    def alive(self) -> bool:
        return self.state == ALIVE

    def row(self) -> ServerRow:
        return ServerRow(
            self.address, self.host, self.worker, self.node, self.pid, self.state, self.cause,
            len(self.members), self.rss,
        )  # fmt: skip


@dataclass(frozen=True)
class ServerRow:
    """A pool's server as a listing shows it (a snapshot, no I/O)."""

    address: str
    host: str
    worker: str
    node: str
    pid: int
    state: str
    cause: str
    agents: int
    rss: int


def mib(n: int) -> str:
    """Bytes as MiB for a listing ("-" when unknown)."""
    return f"{n / 2**20:.0f} MiB" if n else "-"
