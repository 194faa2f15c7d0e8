"""What an engine carries to its workers so they can start a pool's servers: plain, picklable data.

The token (and, with TLS, the pool's certificate authority) is made by the
driver and travels only inside this object, through the engine's own channel
(a Dask worker plugin's arguments, a Ray actor's constructor): never on a
command line, never printed, never in a repr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .._core._config import DEFAULT_LIMITS, Limits

#: How long a server lives without a lease renewal from its driver (seconds).
LEASE = 5.0
#: How often the driver renews each server's lease (seconds).
RENEW_EVERY = 1.0


@dataclass(frozen=True)
class ServerSpec:
    """How the servers of one pool are started on each worker.

    Attributes:
        pool: the pool's id (names the plugin, the actors and the event topic).
        per_worker: servers per Dask worker (per Ray node).
        lease: a server stops after this many seconds without a renewal.
        limits: the servers' limits.
        launch: seconds a server has to report ready.
        trace: the servers record events for the driver's feed (prints, the graph).
        token: the servers' secret (one per pool; the driver made it).
        ca_cert, ca_key: with TLS, the pool's certificate authority (PEM): each
            server gets a certificate for its own address, signed by it.
    """

    pool: str
    per_worker: int = 1
    lease: float = LEASE
    limits: Limits = DEFAULT_LIMITS
    launch: float = 20.0
    trace: bool = field(default_factory=lambda: os.environ.get("AGENTNB_TRACE", "1") != "0")
    token: str = field(default="", repr=False)
    ca_cert: bytes | None = field(default=None, repr=False)
    ca_key: bytes | None = field(default=None, repr=False)

    @property
    def topic(self) -> str:
        """The engine's event topic the pool's servers are announced on."""
        return f"agentnb-{self.pool}"
