"""The driver's side of the servers' leases: renew each one every second, from a thread of its own.

A server of a pool stops when its lease lapses (see :mod:`agentnb.server._lease`),
so renewals must go out however busy the driver is: not on the session's
event loop (a fan-out of 100,000 calls keeps it busy for seconds at a time)
but from this thread, over a blocking channel of their own, all servers at
once. A renewal's answer carries the server's memory and agent count, which
the pool's listing shows.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable

from .._core._config import Limits, Timeouts
from .._core._errors import AgentnbError
from .._core._tls import TLS
from .._runtime._client import SyncServerClient
from ._servers import PoolServer
from ._spec import RENEW_EVERY

log = logging.getLogger("agentnb")

#: A renewal waits this long for its answer.
RENEW_TIMEOUT = 2.0
#: Renewals in flight at once, at most.
AT_ONCE = 16


class Renewer:
    """Renews the leases of ``servers()`` every ``RENEW_EVERY`` seconds until :meth:`stop`.

    Args:
        servers: the live servers, asked before each round.
        answered: told each server's resident memory and agent count (any thread).
        unanswered: told each failed renewal (any thread).
        token, limits, timeouts, tls: how to reach the servers.
    """

    def __init__(
        self,
        servers: Callable[[], list[PoolServer]],
        answered: Callable[[PoolServer, int, int], None],
        unanswered: Callable[[PoolServer, AgentnbError], None],
        token: str,
        limits: Limits,
        timeouts: Timeouts,
        tls: TLS | None,
    ) -> None:
        self._servers = servers
        self._answered, self._unanswered = answered, unanswered
        self._token, self._limits, self._timeouts, self._tls = token, limits, timeouts, tls
        self._clients: dict[str, SyncServerClient] = {}
        self._stopped = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(AT_ONCE, thread_name_prefix="agentnb-lease")
        self._thread = threading.Thread(target=self._run, name="agentnb-renewer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(RENEW_EVERY):
            servers = self._servers()
            futures = [self._pool.submit(self._renew, server) for server in servers]
            concurrent.futures.wait(futures, RENEW_TIMEOUT + 1)
            self._forget(servers)

    def _renew(self, server: PoolServer) -> None:
        try:
            answer = self._client(server).renew_lease(RENEW_TIMEOUT)
        except AgentnbError as exc:
            self._unanswered(server, exc)
        except Exception:  # noqa: BLE001 - a bug must not stop the renewals of the others
            log.exception("agentnb: renewing the lease of %s failed", server.address)
        else:
            self._answered(server, int(answer.rss_bytes), int(answer.agents))

    def _client(self, server: PoolServer) -> SyncServerClient:
        client = self._clients.get(server.address)
        if client is None:
            target = server.link.target if server.link is not None else ""
            client = self._clients[server.address] = SyncServerClient(
                server.address, self._token, self._limits, self._timeouts, self._tls, target
            )
        return client

    def _forget(self, live: list[PoolServer]) -> None:
        """Close the channels of servers that are gone."""
        keep = {s.address for s in live}
        for address in [a for a in self._clients if a not in keep]:
            self._clients.pop(address).close()

    def stop(self) -> None:
        """No more renewals (the servers stop when their leases lapse, or sooner if told)."""
        self._stopped.set()
        self._thread.join(RENEW_TIMEOUT + 2)
        self._pool.shutdown(wait=False)
        for client in self._clients.values():
            client.close()
        self._clients.clear()
