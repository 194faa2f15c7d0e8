"""A pool of agent servers that an engine (Dask, Ray) runs on its workers, seen from the driver.

The engine starts the servers (one per worker or node, or ``per_worker``),
carries their token there and their addresses back, and tells when a worker
or node is gone; the pool places agents on the servers, renews the servers'
leases, fails the calls of a lost server's agents with an error that names
the agent, the host and the cause, and (``respawn=True``) rebuilds them on
the servers left. It knows no engine: :mod:`._dask` and :mod:`._ray` feed it
through :class:`Engine`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from typing import Any

from .._core._address import is_loopback
from .._core._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._core._errors import AgentnbError, ServerLaunchError, ServerUnavailableError
from .._core._tls import TLS
from .._core._token import new_token
from .._facade import _placement
from .._facade._status import register_pool, unregister_pool
from .._runtime._link import ServerLink
from .._runtime._session import Session, get_session
from . import _listing, _tls
from ._engine import Engine
from ._lease import Renewer
from ._place import ByName, Near, On, Spread, Strategy
from ._servers import ALIVE, LOST, STOPPED, PoolServer, ServerRow
from ._spec import LEASE, RENEW_EVERY, ServerSpec
from ._tell import Teller, names

log = logging.getLogger("agentnb")

#: Renewals refused in a row (a second apart) before the link alone says a server is lost:
#: the engine, which usually knows why, gets a second to say so first.
REFUSALS = 2


class ServerPool:
    """Agent servers an engine runs on its workers; a placement for ``to_dist``.

    Made by :func:`agentnb.servers`. ``to_dist(placement=pool)`` spreads agents
    over its servers; ``pool.spread()``, ``pool.by_name()``, ``pool.on(host)``
    and ``pool.near(agent)`` place them otherwise. Inside ``with pool:`` a
    ``to_dist()`` that names no server uses the pool, and the pool closes when
    the block ends. ``repr(pool)`` and the notebook's rich view list hosts,
    servers, agents and memory (what is known here, never blocking).

    Attributes:
        id: the pool's id (names its engine plugin or actors).
        kind: "dask" or "ray".
        respawn: rebuild the agents of a lost server on the servers left.
    """

    def __init__(
        self,
        engine: Engine,
        per_worker: int = 1,
        respawn: bool = False,
        tls: bool = False,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        lease: float = LEASE,
    ) -> None:
        if per_worker < 1:
            raise ValueError(f"per_worker must be at least 1, got {per_worker}")
        if lease < 2 * RENEW_EVERY:
            raise ValueError(
                f"lease must be at least {2 * RENEW_EVERY:g} s (renewed every {RENEW_EVERY:g} s)"
            )
        self.id = uuid.uuid4().hex[:8]
        self.kind = engine.kind
        self.respawn = respawn
        self._engine = engine
        self._limits = limits or DEFAULT_LIMITS
        self._timeouts = timeouts or DEFAULT_TIMEOUTS
        self._session: Session = get_session()
        self._tell = Teller(self._session)
        ca_cert = ca_key = None
        self._tls: TLS | None = None
        if tls:
            ca_cert, ca_key = _tls.make_ca(self.id)
            self._tls = _tls.write(None, None, None, ca_cert)  # what the driver trusts
        self._spec = ServerSpec(
            self.id, per_worker, lease, self._limits, self._timeouts.launch,
            token=new_token(), ca_cert=ca_cert, ca_key=ca_key,
        )  # fmt: skip
        self._spread = Spread(self)
        self._lock = threading.Condition()
        self._servers: dict[str, PoolServer] = {}
        self._where: dict[Any, PoolServer] = {}  # agent -> its server
        self._how: dict[Any, Strategy] = {}  # agent -> how it was placed, when not spread
        self._homeless: list[Any] = []  # lost agents to respawn once a server is there
        self._failures: list[str] = []
        self._closed = False
        register_pool(self)
        atexit.register(self.close)
        self._renewer = Renewer(
            self._alive_now, self._answered, self._unanswered, self._spec.token, self._limits,
            self._timeouts, self._tls,
        )  # fmt: skip
        try:
            engine.start(self._spec, _Events(self))
            workers = engine.workers()  # none yet (an adaptive cluster): the first to join gets one
            if workers:
                self.wait(per_worker * workers, self._timeouts.launch + 10)
        except BaseException:
            self.close()
            raise

    # -- placements -----------------------------------------------------------------------

    def spread(self, respawn: bool | None = None) -> Strategy:
        """Each agent on the server with the fewest agents (what ``placement=pool`` does)."""
        return self._spread if respawn is None else Spread(self, respawn)

    def by_name(self, respawn: bool | None = None) -> Strategy:
        """The server a hash of the agent's name picks (the same name, the same server)."""
        return ByName(self, respawn)

    def on(self, host: str, respawn: bool | None = None) -> Strategy:
        """On ``host``: an IP address, a host name, a Dask worker's address, or a Ray node id."""
        return On(self, host, respawn)

    def near(self, agent: Any, respawn: bool | None = None) -> Strategy:
        """On the server of ``agent`` (another agent of this pool)."""
        return Near(self, agent, respawn)

    # the pool itself is a placement: it spreads
    def registry_host(self) -> str:
        return self._spread.registry_host()

    def place(self, agent: Any) -> ServerLink:
        return self._place(agent, self._spread)

    def holds(self, agent: Any) -> bool:
        return self._holds(agent)

    def forget(self, agent: Any) -> None:
        self._forget(agent)

    # -- what the placements ask -------------------------------------------------------------

    def _place(self, agent: Any, how: Strategy) -> ServerLink:
        with self._lock:
            if self._closed:
                raise ServerUnavailableError(
                    f"agent {agent.name!r}: the {self.kind} pool {self.id} was closed; make a new one with "
                    "agentnb.servers(...)"
                )
            alive = self._alive()
            if not alive:
                raise ServerUnavailableError(
                    f"agent {agent.name!r}: the {self.kind} pool {self.id} has no live server "
                    f"({self._engine.label()}); {self._why_empty()}"
                )
            server = how.choose(agent, alive)
            self._put(agent, server, how)
            assert server.link is not None
            return server.link

    def _put(self, agent: Any, server: PoolServer, how: Strategy) -> None:
        server.members[agent] = None
        self._where[agent] = server
        if how is not self._spread:
            self._how[agent] = how

    def _holds(self, agent: Any) -> bool:
        server = self._where.get(agent)
        return server is not None and server.state == ALIVE

    def _forget(self, agent: Any) -> None:
        with self._lock:
            server = self._where.pop(agent, None)
            self._how.pop(agent, None)
            if server is not None:
                server.members.pop(agent, None)
            if agent in self._homeless:
                self._homeless.remove(agent)

    def _server_of(self, agent: Any) -> PoolServer | None:
        return self._where.get(agent)

    def _alive(self) -> list[PoolServer]:
        return [s for s in self._servers.values() if s.state == ALIVE]

    def _why_empty(self) -> str:
        if self._failures:
            return "the workers said: " + "; ".join(self._failures[-3:])
        return "wait for a worker to join (pool.wait(servers=1)), or add workers to the engine"

    # -- waiting ----------------------------------------------------------------------------

    def wait(self, servers: int = 1, timeout: float = 60.0) -> list[ServerRow]:
        """Block until the pool has at least ``servers`` live servers; returns them.

        Raises:
            ServerLaunchError: they did not come within ``timeout`` seconds (it
                says what the workers reported).
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._alive()) < servers:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    have = len(self._alive())
                    raise ServerLaunchError(
                        f"the {self.kind} pool {self.id} has {have} live server(s), not {servers}, after "
                        f"{timeout:g} s ({self._engine.label()}); {self._why_empty()}"
                    )
                self._lock.wait(min(left, 0.5))
            return [s.row() for s in self._alive()]

    # -- what the engine says ----------------------------------------------------------------

    def _started(self, info: dict[str, Any]) -> None:
        address = str(info["address"])
        server = PoolServer(address, str(info["host"]), str(info["worker"]), str(info.get("node", "")),
                            int(info.get("pid", 0)))  # fmt: skip
        # a server reached on loopback is on this machine: its Unix socket is quicker (another
        # address may be another host that shares this file system, as network namespaces do)
        unix = str(info.get("unix") or "") if is_loopback(server.host) else ""
        link = self._session.link(
            address, self._spec.token, self._limits, self._timeouts, tls=self._tls, unix=unix
        )
        link.accepts_code = True  # the pool's own server: code from this driver only (its token)
        server.link = link
        with self._lock:
            if self._closed:
                return
            old = self._servers.get(address)
            if old is not None and old.state == ALIVE:
                return  # told twice
            self._servers[address] = server
            homeless, self._homeless = self._homeless, []
            self._lock.notify_all()
        log.info("agentnb: %s pool %s: server %s on %s", self.kind, self.id, address, server.worker)
        if homeless:
            self._respawn(homeless, f"a server came up on {server.worker}")

    def _failed(self, worker: str, message: str) -> None:
        with self._lock:
            self._failures.append(f"{worker}: {message}")
            del self._failures[:-10]
            self._lock.notify_all()
        self._tell.notice(
            f"agentnb: the {self._engine_name()} {self._engine.noun} {worker} could not start its agent "
            f"server: {message}"
        )

    def _worker_lost(self, worker: str, cause: str) -> None:
        with self._lock:
            lost = [s for s in self._servers.values() if s.worker == worker and s.state == ALIVE]
        for server in lost:
            self._lose(server, cause)

    # -- losing a server ---------------------------------------------------------------------

    def _lose(self, server: PoolServer, cause: str) -> None:
        """Fail what waits on ``server``, and rebuild or mark its agents (once per server)."""
        with self._lock:
            if server.state != ALIVE or self._closed:
                return
            server.state, server.cause = LOST, cause
            members = list(server.members)
            server.members.clear()
            respawn = [a for a in members if self._respawns(a)]
            dropped = [a for a in members if a not in respawn]
            for agent in members:
                self._where.pop(agent, None)
            self._lock.notify_all()
        where = f"the agent server at {server.address} on {self._place_name(server.worker)}"
        after = (
            "agentnb rebuilds its agents on the servers left (respawn=True; their state starts over): call "
            "them again"
            if respawn
            else "its agents are gone (agentnb.servers(..., respawn=True) rebuilds lost agents elsewhere)"
        )
        error = ServerUnavailableError(f"{where} is lost: {cause}; {after}")
        for agent in dropped:
            agent.broken = ServerUnavailableError(f"agent {agent.name!r}: {error}")
            self._tell.mark(agent, "lost", server.address, cause)
        if dropped:
            self._tell.notice(f"agentnb: lost {names(dropped)} with {where}: {cause}")
        if respawn:  # first, so that whoever reads the error below can call them again at once
            self._respawn(respawn, f"{where} is lost: {cause}")
        assert server.link is not None
        server.link.server_lost(error)

    def _respawns(self, agent: Any) -> bool:
        how = self._how.get(agent)
        chosen = how.respawn if how is not None else None
        return self.respawn if chosen is None else chosen

    def _respawn(self, agents: list[Any], why: str) -> None:
        """Build ``agents`` anew on live servers (their state starts over), or keep them for the next."""
        moved: dict[str, list[Any]] = {}
        for agent in agents:
            with self._lock:
                alive = self._alive()
                if not alive or self._closed:
                    self._homeless.append(agent)
                    continue
                how = self._how.get(agent, self._spread)
                server = how.again(agent, alive)
                self._put(agent, server, how)
            assert server.link is not None
            agent._relocate(server.link)  # the facade's hook: later calls go there
            self._tell.mark(agent, "respawned", server.address, why)
            moved.setdefault(server.address, []).append(agent)
        for address, group in moved.items():
            self._tell.notice(
                f"agentnb: respawned {names(group)} on {address} ({why}); their state started over"
            )
        with self._lock:
            waiting = list(self._homeless)
        if waiting and not moved:
            self._tell.notice(
                f"agentnb: {names(waiting)} will be respawned once the pool has a live server ({why})"
            )

    def _place_name(self, worker: str) -> str:
        """ "Dask worker tcp://...", "Ray node 5f3a...": where a server ran, as its engine names it."""
        return f"{self._engine_name()} {self._engine.noun} {worker}"

    def _engine_name(self) -> str:
        return {"dask": "Dask", "ray": "Ray"}.get(self.kind, self.kind)

    # -- leases (a thread of the Renewer's renews them) -----------------------------------------

    def _alive_now(self) -> list[PoolServer]:
        with self._lock:
            return [] if self._closed else self._alive()

    def _answered(self, server: PoolServer, rss: int, agents: int) -> None:
        server.last_ok, server.refused = time.monotonic(), 0
        server.rss, server.server_agents = rss, agents

    def _unanswered(self, server: PoolServer, error: AgentnbError) -> None:
        """A renewal failed: refused twice means the server is gone; silence for a lease, too."""
        text = str(error)
        if "refused" in text.lower():
            server.refused += 1
            if server.refused >= REFUSALS:
                self._lose_later(server, "its server refuses connections (its process is gone)")
            return
        server.refused = 0
        silent = time.monotonic() - server.last_ok
        if silent >= self._spec.lease:
            cause = (
                f"its server has not answered for {silent:.0f} s: its lease lapsed and it stopped ({text})"
            )
            self._lose_later(server, cause)

    def _lose_later(self, server: PoolServer, cause: str) -> None:
        """Lose a server in a thread of its own (respawning its agents takes a while; renewals go on)."""
        threading.Thread(target=self._lose, args=(server, cause), daemon=True).start()

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the pool's servers (through the engine) and stop renewing their leases.

        Its agents' calls fail from now on, saying the pool was closed. The
        engine's workers are left as they are. Idempotent; also run by
        ``agentnb.shutdown()``, at exit, and when ``with pool:`` ends.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            servers = list(self._servers.values())
            agents = list(self._where)
            self._where.clear()
            self._homeless.clear()
            self._lock.notify_all()
        _placement.pop(self)
        unregister_pool(self)
        atexit.unregister(self.close)
        self._renewer.stop()
        closed = ServerUnavailableError(f"the {self.kind} pool {self.id} was closed (pool.close())")
        for agent in agents:
            agent.broken = ServerUnavailableError(f"agent {agent.name!r}: {closed}")
        for server in servers:
            if server.link is not None and server.state == ALIVE:
                server.link.server_lost(closed)
            server.state = STOPPED if server.state == ALIVE else server.state
        try:
            self._engine.stop()
        except Exception:  # noqa: BLE001 - the engine may be gone already; the leases lapse anyway
            log.warning("agentnb: stopping the %s pool %s through its engine failed", self.kind, self.id,
                        exc_info=True)  # fmt: skip

    def __enter__(self) -> ServerPool:
        _placement.push(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- seeing it -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def servers(self) -> list[ServerRow]:
        """The pool's servers (live, lost and stopped), as known here."""
        with self._lock:
            return [s.row() for s in self._servers.values()]

    def hosts(self) -> list[str]:
        """The hosts with a live server."""
        return sorted({s.host for s in self.servers() if s.state == ALIVE})

    def agents_on(self, address: str) -> list[str]:
        """The names of the agents placed on the server at ``address``."""
        with self._lock:
            server = self._servers.get(address)
            return [a.name for a in server.members] if server is not None else []

    def summary(self) -> str:
        """One line: the pool's engine, servers, hosts, agents and memory."""
        return _listing.summary(f"{self._engine_name()} pool {self.id}", self._closed, self.servers())

    def __repr__(self) -> str:
        return _listing.text(self.summary(), self.servers())

    def _repr_html_(self) -> str:
        return _listing.html(self.summary(), self.servers())


class _Events:
    """The engine's view of its pool (a separate object: the engine needs no more than this)."""

    def __init__(self, pool: ServerPool) -> None:
        self._pool = pool

    def started(self, info: dict[str, Any]) -> None:
        self._pool._started(info)

    def failed(self, worker: str, message: str) -> None:
        self._pool._failed(worker, message)

    def lost(self, worker: str, cause: str) -> None:
        self._pool._worker_lost(worker, cause)
