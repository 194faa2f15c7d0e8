"""The driver's session: its loop thread, clients, launched servers and event feeds.

One per process, at module level. ``shutdown()`` (and an atexit backstop)
stops every server this session launched; servers it merely attached to
(launchers) are left alone.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._events import Event
from .._token import new_token
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
        self._spare: tuple[tuple[Any, ...], concurrent.futures.Future[ServerProcess]] | None = None
        #: Keep one server started ahead for the next to_dist() (notebooks turn it on).
        self.keep_spare = False
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
        """Start a server, or return the running one this session launched on that explicit port.

        With ``keep_spare`` (on in notebooks), a server for the default case
        (any free port) is started ahead in the background, so the next
        ``to_dist()`` takes a ready one instead of waiting for a process start.
        """
        with self._lock:
            if port:
                existing = self._by_bind.get((host, port))
                if existing is not None and not existing.exited.is_set():
                    return existing
            server = None if port else self._take_spare((host, advertise, limits), timeouts)
            if server is None:
                server = self._spawn(host, port or 0, advertise, token, limits, timeouts)
            self.servers[server.address] = server
            self._by_bind[(host, server.port)] = server
        if self.keep_spare and not port:
            self._start_spare((host, advertise, limits), timeouts)
        return server

    def _spawn(
        self, host: str, port: int, advertise: str | None, token: str, limits: Limits, timeouts: Timeouts
    ) -> ServerProcess:
        return spawn(
            host, port, advertise, token, limits, timeouts, lambda fn: self.loop.call(fn, timeouts.launch)
        )

    def _take_spare(self, key: tuple[Any, ...], timeouts: Timeouts) -> ServerProcess | None:
        """The spare server if it suits (waiting for it if it is still starting), else None."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        spare_key, future = spare
        if spare_key != key:
            threading.Thread(target=_stop_when_started, args=(future,), daemon=True).start()
            return None
        try:
            server = future.result(timeouts.launch)
        except BaseException:  # noqa: BLE001 - a spare that failed to start is not used
            return None
        return None if server.exited.is_set() else server

    def _start_spare(self, key: tuple[Any, ...], timeouts: Timeouts) -> None:
        with self._lock:
            if self._spare is not None:
                return
            future: concurrent.futures.Future[ServerProcess] = concurrent.futures.Future()
            self._spare = (key, future)
        host, advertise, limits = key

        def start() -> None:
            try:
                future.set_result(self._spawn(host, 0, advertise, new_token(), limits, timeouts))
            except BaseException as exc:  # noqa: BLE001 - a failed spare is simply not used
                future.set_exception(exc)

        threading.Thread(target=start, name="agentnb-spare", daemon=True).start()

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
            spare, self._spare = self._spare, None
            servers = list(self.servers.values())
            sync_clients = list(self._sync_clients.values())
            self._sync_clients.clear()
            self.servers.clear()
            self._by_bind.clear()
        for client in sync_clients:
            client.close()
        threads = [threading.Thread(target=s.stop, args=(timeouts,)) for s in servers]
        if spare is not None:  # stopped beside the others, never while holding the lock
            threads.append(threading.Thread(target=_stop_when_started, args=(spare[1], timeouts)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(3 * timeouts.stop + 1)

        async def close() -> None:
            # The servers are stopping: let their feeds deliver what they still
            # hold (a reply's last printed lines), briefly, before closing.
            stopped = {server.address for server in servers}
            ending = [f.task for address, f in self._feeds.items() if address in stopped]
            if ending:
                await asyncio.wait(ending, timeout=1.0)
            for feed in self._feeds.values():
                feed.task.cancel()
            self._feeds.clear()
            await self.clients.close()

        try:
            self.run(close(), timeouts.stop)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _stop_when_started(
    future: concurrent.futures.Future[ServerProcess], timeouts: Timeouts = DEFAULT_TIMEOUTS
) -> None:
    try:
        server = future.result(timeouts.launch)
    except BaseException:  # noqa: BLE001 - it never started: nothing to stop
        return
    server.stop(timeouts)


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
