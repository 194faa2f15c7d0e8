"""How a pool chooses a server for an agent: spread, by name, on a host, next to another agent.

Each is a placement (:class:`agentnb._facade._placement.Placement`) to pass as
``to_dist(placement=...)``; the pool itself spreads. The same choice is made
again when a lost agent is respawned (``respawn=True``); a choice that cannot
be made any more (its host, or the agent it sat beside, is gone) spreads.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ._servers import PoolServer

if TYPE_CHECKING:
    from .._runtime._link import ServerLink


class ServerPool(Protocol):
    """What a placement asks of its pool (:class:`agentnb.engines._pool.ServerPool`)."""

    id: str

    def _place(self, agent: Any, how: Strategy) -> ServerLink: ...

    def _holds(self, agent: Any) -> bool: ...

    def _forget(self, agent: Any) -> None: ...

    def _server_of(self, agent: Any) -> PoolServer | None: ...


class Strategy:
    """A way to choose among a pool's live servers (see the subclasses).

    Args:
        pool: the pool.
        respawn: rebuild agents placed this way when their server is lost
            (None: as the pool says).
    """

    #: What the strategy adds to the session's registry key (a re-run cell finds its agents).
    tag = ""

    def __init__(self, pool: ServerPool, respawn: bool | None = None) -> None:
        self.pool = pool
        self.respawn = respawn

    # -- the placement protocol (the facade calls these) ------------------------------------

    def registry_host(self) -> str:
        return f"pool:{self.pool.id}" + (f":{self.tag}" if self.tag else "")

    def place(self, agent: Any) -> ServerLink:
        return self.pool._place(agent, self)

    def holds(self, agent: Any) -> bool:
        return self.pool._holds(agent)

    def forget(self, agent: Any) -> None:
        self.pool._forget(agent)

    # -- choosing --------------------------------------------------------------------------

    def choose(self, agent: Any, servers: Sequence[PoolServer]) -> PoolServer:
        """One of ``servers`` (live, never empty) for ``agent``."""
        return spread(servers)

    def again(self, agent: Any, servers: Sequence[PoolServer]) -> PoolServer:
        """The server for a respawned agent: the same choice if it can still be made, else spread."""
        try:
            return self.choose(agent, servers)
        except ValueError:
            return spread(servers)

    def __repr__(self) -> str:
        how = type(self).__name__.lower() + (f"({self.tag})" if self.tag else "()")
        return f"<placement {how} on pool {self.pool.id}>"


def spread(servers: Sequence[PoolServer]) -> PoolServer:
    """The server with the fewest agents (the first such, in the order servers joined)."""
    return min(servers, key=_load)


def _load(server: PoolServer) -> int:
    return len(server.members)


class Spread(Strategy):
    """Each agent on the server with the fewest agents (the pool's default; Ray's "SPREAD")."""


class ByName(Strategy):
    """The server a hash of the agent's name picks: the same name, the same server, while the
    pool's servers stay the same (a stateless shard key)."""

    tag = "by_name"

    def choose(self, agent: Any, servers: Sequence[PoolServer]) -> PoolServer:
        ordered = sorted(servers, key=lambda s: s.address)
        return ordered[zlib.crc32(agent.name.encode()) % len(ordered)]


class On(Strategy):
    """On a given host: an IP address, a host name, a Dask worker's address or name, or a Ray
    node id (the first characters suffice), like Dask's ``workers=`` or Ray's node affinity."""

    def __init__(self, pool: ServerPool, host: str, respawn: bool | None = None) -> None:
        super().__init__(pool, respawn)
        self.host = str(host)
        self.tag = f"on:{self.host}"

    def choose(self, agent: Any, servers: Sequence[PoolServer]) -> PoolServer:
        matches = [s for s in servers if _matches(s, self.host)]
        if not matches:
            hosts = ", ".join(sorted({s.host for s in servers})) or "none"
            raise ValueError(
                f"no live server of the pool on {self.host!r} for agent {agent.name!r}; its hosts are: "
                f"{hosts} (pass an IP address, a host name, a Dask worker's address or a Ray node id)"
            )
        return spread(matches)


def _matches(server: PoolServer, host: str) -> bool:
    worker = server.worker
    return host in (server.host, server.node, server.address, worker) or (
        len(host) >= 6 and worker.startswith(host)  # a Ray node id's first characters
    )


class Near(Strategy):
    """On the server of another agent of the same pool (co-location: placeholders between the two
    never leave the server)."""

    def __init__(self, pool: ServerPool, other: Any, respawn: bool | None = None) -> None:
        super().__init__(pool, respawn)
        self.other = other
        self.tag = f"near:{getattr(other, 'name', '?')}"

    def choose(self, agent: Any, servers: Sequence[PoolServer]) -> PoolServer:
        server = self.pool._server_of(self.other)
        if server is None or server not in servers:
            other = getattr(self.other, "name", self.other)
            raise ValueError(
                f"agent {agent.name!r} is to go next to {other!r}, which has no live server in this pool "
                "(place that agent on the pool first)"
            )
        return server
