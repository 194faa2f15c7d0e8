"""The driver's session: its loop thread, clients, launched servers and event feeds.

One per process, at module level. ``shutdown()`` (and an atexit backstop)
stops every server this session launched; servers it merely attached to
(launchers) are left alone.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._events import Event
from ._client import ClientPool, ServerClient, SyncServerClient
from ._feed import Feed, Listener, TaskStates
from ._loop import LoopThread
from ._process import ServerProcess, spawn

T = TypeVar("T")


def print_output(event: Event) -> None:
    """Default listener: show what remote replies print, prefixed by the agent's name."""
    if event.kind == "output":
        text = "".join(f"[{event.agent}] {line}\n" for line in event.text.rstrip("\n").split("\n"))
        sys.stdout.write(text)
        sys.stdout.flush()


class Session:
    def __init__(self) -> None:
        self.loop = LoopThread()
        self.clients = ClientPool()
        self.states = TaskStates()
        self.listeners: list[Listener] = [print_output]
        #: Set by the notebook layer: called in the caller's thread at each call,
        #: it returns where that call came from (the cell), kept in ``origins``.
        self.origin_hook: Callable[[], Any] | None = None
        self.origins: OrderedDict[str, Any] = OrderedDict()
        self.servers: dict[str, ServerProcess] = {}  # address -> process
        self._by_bind: dict[tuple[str, int], ServerProcess] = {}
        self._feeds: dict[str, Feed] = {}
        self._sync_clients: dict[tuple[str, str | None], SyncServerClient] = {}
        self._lock = threading.Lock()
        #: Live distributed agents by (module, class, name, host, port, launch, local).
        self.registry: dict[tuple[Any, ...], Any] = {}
        self.registry_lock = threading.RLock()
        self._pid = os.getpid()
        #: Follow servers' event feeds (remote prints, states, the graph).
        #: AGENTNB_TRACE=0 turns it off, e.g. to measure what tracing costs.
        self.tracing = os.environ.get("AGENTNB_TRACE", "1") != "0"

    def remember_origin(self, task_id: str) -> None:
        hook = self.origin_hook
        if hook is not None:
            self.origins[task_id] = hook()
            if len(self.origins) > 100_000:
                self.origins.popitem(last=False)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return self.loop.run(coro, timeout)

    def client(
        self, address: str, token: str | None, limits: Limits | None = None, timeouts: Timeouts | None = None
    ) -> ServerClient:
        """The client for a server (call on the loop thread)."""
        return self.clients.get(address, token, limits or DEFAULT_LIMITS, timeouts or DEFAULT_TIMEOUTS)

    def sync_client(
        self, address: str, token: str | None, limits: Limits, timeouts: Timeouts
    ) -> SyncServerClient:
        """The blocking client for a server (any thread)."""
        with self._lock:
            client = self._sync_clients.get((address, token))
            if client is None:
                client = self._sync_clients[(address, token)] = SyncServerClient(
                    address, token, limits, timeouts
                )
            return client

    def launch(
        self,
        host: str,
        port: int | None,
        advertise: str | None,
        token: str,
        limits: Limits,
        timeouts: Timeouts,
    ) -> ServerProcess:
        """Start a server, or return the running one this session launched on that explicit port."""
        with self._lock:
            if port:
                existing = self._by_bind.get((host, port))
                if existing is not None and not existing.exited.is_set():
                    return existing
            server = spawn(
                host,
                port or 0,
                advertise,
                token,
                limits,
                timeouts,
                lambda fn: self.loop.call(fn, timeouts.launch),
            )
            self.servers[server.address] = server
            self._by_bind[(host, server.port)] = server
            return server

    def follow(self, address: str, token: str | None) -> None:
        """Start reading a server's event feed (once per server)."""
        if not self.tracing:
            return

        async def start() -> None:
            feed = self._feeds.get(address)
            if feed is None or feed.task.done():
                self._feeds[address] = Feed(self.client(address, token), self.states, self.listeners)

        self.run(start(), DEFAULT_TIMEOUTS.control)

    def stop_server(self, server: ServerProcess, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        """Stop one server this session launched."""
        with self._lock:
            self.servers.pop(server.address, None)
            self._by_bind = {k: v for k, v in self._by_bind.items() if v is not server}
        server.stop(timeouts)

    def shutdown(self, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        """Stop every server this session launched; close channels and feeds."""
        if os.getpid() != self._pid:
            return
        with self.registry_lock:
            self.registry.clear()
        with self._lock:
            servers = list(self.servers.values())
            sync_clients = list(self._sync_clients.values())
            self._sync_clients.clear()
            self.servers.clear()
            self._by_bind.clear()
        for client in sync_clients:
            client.close()
        threads = [threading.Thread(target=s.stop, args=(timeouts,)) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(3 * timeouts.stop + 1)

        async def close() -> None:
            for feed in self._feeds.values():
                feed.task.cancel()
            self._feeds.clear()
            await self.clients.close()

        try:
            self.run(close(), timeouts.stop)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# Survive importlib.reload / %autoreload of this module: keep the live session.
_session: Session | None = globals().get("_session")
_session_lock = threading.Lock()


def get_session() -> Session:
    global _session
    with _session_lock:
        if _session is None or _session._pid != os.getpid():
            _session = Session()
            atexit.register(_session.shutdown)
        return _session
