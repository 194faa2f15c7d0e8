"""The driver's session: its loop thread, server links, launched servers and event feeds.

One per process, at module level. ``shutdown()`` (and an atexit backstop)
stops every server this session launched; servers it merely attached to
(launchers) are left alone.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from .._core._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._core._errors import AgentnbError
from .._core._events import GONE, Event
from .._core._tls import TLS
from .._core._token import new_token
from ._calls import Call
from ._console import Console
from ._feed import Feed, TaskStates
from ._link import ServerLink
from ._loop import LoopThread
from ._output import Listener, OutputLedger, dispatch_to
from ._process import ServerProcess, drop_early, spawn, take_early
from ._registry import AgentKey, LiveAgent, Registry

T = TypeVar("T")
log = logging.getLogger("agentnb")
#: Shows one line of agentnb's own, in the cell an origin names (None: the latest).
Notice = Callable[[str, Any], None]


def print_output(event: Event) -> None:
    """Default listener: show what remote replies print, prefixed by the agent's name."""
    if event.kind == "output":
        sys.stdout.write(prefixed(event))
        sys.stdout.flush()


def prefixed(event: Event) -> str:
    return "".join(f"[{event.agent}] {line}\n" for line in event.text.rstrip("\n").split("\n"))


def print_notice(text: str, origin: Any = None) -> None:
    """Default notice: one line of agentnb's own on stderr."""
    print(text, file=sys.stderr, flush=True)


def _log_listener_failure(listener: Listener) -> None:
    log.exception("agentnb listener %r failed", listener)


#: An event whose input names its producer by a key not known here yet waits this long at most.
HOLD_KEYED_S = 1.0


class Session:
    """The driver's session: what it launched, its links and feeds, its live agents, and
    where their output goes (a notebook switches that to the calling cell: see
    :meth:`use_notebook`)."""

    def __init__(self) -> None:
        self.loop = LoopThread()
        self.states = TaskStates()
        self._shown: Listener = print_output  # shows remote output (the calling cell's, in a notebook)
        self._listeners: list[Listener] = [self._shown]
        #: Remote prompts (a reply's input(), its debuggers), asked here and answered.
        self.console = Console(self)
        self._listeners.append(self.console)
        self.dispatch = dispatch_to(self._listeners, _log_listener_failure)
        #: Listeners besides the session's own (the graph, a test): they see every state of a call.
        self._subscribers = 0
        self.output = OutputLedger(self.dispatch, self._later)
        self._origin: Callable[[], Any] | None = None  # where a call comes from (a cell)
        self.origins: OrderedDict[str, Any] = OrderedDict()
        #: call key -> task id, of this session's calls once acknowledged (an event's input
        #: that names its producer by key is told the task id)
        self.keyed: OrderedDict[str, str] = OrderedDict()
        self._held: dict[str, list[Event]] = {}  # events waiting for a producer's task id, by its key
        self._keys_lock = threading.Lock()
        self._notice: Notice = print_notice
        self._servers: dict[str, ServerProcess] = {}  # address -> process
        self._by_bind: dict[tuple[str, int], ServerProcess] = {}
        self._links: dict[tuple[str, str | None, TLS | None], ServerLink] = {}
        self._recent: list[Call] = []  # calls made since the last take_recent_calls()
        self._feeds: dict[str, Feed] = {}
        self._spare: tuple[tuple[Any, ...], concurrent.futures.Future[ServerProcess]] | None = None
        self._keep_spare = False  # keep one server started ahead for the next to_dist()
        self._lock = threading.Lock()
        #: Live distributed agents (kept across re-runs of a notebook cell).
        self.registry: Registry[LiveAgent] = Registry()
        self._pid = os.getpid()
        #: Follow servers' event feeds (remote prints, states, the graph).
        #: AGENTNB_TRACE=0 turns it off, e.g. to measure what tracing costs.
        self.tracing = os.environ.get("AGENTNB_TRACE", "1") != "0"

    # -- where output goes ----------------------------------------------------------------

    def use_notebook(self, origin: Callable[[], Any], output: Listener, notice: Notice) -> bool:
        """Notebook mode, switched on once: each call remembers ``origin()`` (its cell),
        remote output goes to ``output`` instead of stdout, agentnb's notices to
        ``notice``, and a server is kept started ahead so ``to_dist()`` is fast.
        Returns False if it was on already."""
        with self._lock:
            if self._origin is not None:
                return False
            self._origin, self._notice, self._keep_spare = origin, notice, True
        self.route_output(output)
        return True

    def route_output(self, output: Listener) -> Callable[[], None]:
        """Show remote output with ``output`` instead (it replaces the listener that did);
        returns the call that puts the previous one back."""
        with self._lock:
            previous, self._shown = self._shown, output
            self._listeners[:] = [output if x is previous else x for x in self._listeners]

        def restore() -> None:
            self.route_output(previous)

        return restore

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event (on the loop thread); returns the unsubscribe."""
        with self._lock:
            self._listeners.append(listener)
            self._subscribers += 1

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
                    self._subscribers -= 1

        return unsubscribe

    @property
    def listeners(self) -> tuple[Listener, ...]:
        return tuple(self._listeners)

    def notice(self, text: str, origin: Any = None) -> None:
        """One line of agentnb's own (connection lost, agent rebuilt, ...), shown where calls
        print: in the cell ``origin`` names (the one that caused it), else the latest."""
        self._notice(text, origin)

    def keep_spare(self, on: bool) -> None:
        """Keep one server started ahead for the next ``to_dist()`` (notebook mode does)."""
        self._keep_spare = on

    def launched(self) -> list[ServerProcess]:
        """The servers this session launched and has not stopped."""
        with self._lock:
            return list(self._servers.values())

    # -- calls -------------------------------------------------------------------------

    def origin(self) -> Any:
        hook = self._origin
        return hook() if hook is not None else None

    def agent_key(self, base: AgentKey) -> AgentKey:
        """``base`` numbered within the current run (a script, or one cell execution)."""
        origin = self.origin()
        run = (origin.get("header") or {}).get("msg_id") if isinstance(origin, dict) else None
        return self.registry.key(base, run)

    def show_output(self, task_id: str, agent: str, address: str, outcome: Any) -> None:
        """What a reply printed, from its outcome: shown once, in order (see :class:`OutputLedger`)."""
        self.output.settled(task_id, agent, address, outcome)

    def feed_state(self, task_id: str) -> str | None:
        """A task's last state seen on the event feeds, if any."""
        return self.states.get(task_id)

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self.loop.call_soon(lambda: asyncio.get_running_loop().call_later(delay, fn, *args))

    def remember_origin(self, task_id: str, origin: Any) -> None:
        """A task got its id: route its output to where it was made (a cell, or nowhere)."""
        if origin is not None:
            self.origins[task_id] = origin
            if len(self.origins) > 200_000:
                self.origins.popitem(last=False)

    def remember_key(self, key: str, task_id: str) -> None:
        """A call named by ``key`` got its task id (any thread)."""
        with self._keys_lock:
            self.keyed[key] = task_id
            if len(self.keyed) > 200_000:
                self.keyed.popitem(last=False)
            held = key in self._held
        if held:  # an event naming it waits to be shown to the listeners
            self.loop.call_soon(self._show_held, key)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return self.loop.run(coro, timeout)

    # -- links and feeds -------------------------------------------------------------------

    def link(
        self,
        address: str,
        token: str | None,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        server: ServerProcess | None = None,
        tls: TLS | None = None,
        unix: str = "",
    ) -> ServerLink:
        """The link to a server (one per address, token and TLS settings), made on first use.

        Args:
            unix: the server's Unix socket, when it is on this machine (a server this
                session launched says it; a launcher's connection file does).
        """
        key = (address, token, tls)
        with self._lock:
            link = self._links.get(key)
            if link is None or link.gone:
                unix = unix or (server.unix if server is not None else "")
                link = self._links[key] = ServerLink(
                    self, address, token, limits or DEFAULT_LIMITS, timeouts or DEFAULT_TIMEOUTS, server, tls,
                    unix,
                )  # fmt: skip
            return link

    def links(self) -> list[ServerLink]:
        with self._lock:
            return list(self._links.values())

    def made(self, call: Call) -> None:
        """Note a call (the notebook layer asks for the calls each cell made)."""
        if self._origin is not None:
            self._recent.append(call)

    def take_recent_calls(self) -> list[Call]:
        """The calls made since the last time this was asked (e.g. by a notebook cell)."""
        with self._lock:
            recent, self._recent = self._recent, []
        return recent

    def follow(self, link: ServerLink) -> None:
        """Read a server's event feed, from now until the session ends (once per server)."""
        if not self.tracing or link.followed or link.local is not None:
            return  # (a server's own agents calling each other: the driver follows that server)
        link.followed = True

        def start() -> None:
            feed = self._feeds.get(link.address)
            if feed is None or feed.task.done():
                self._feeds[link.address] = Feed(
                    link.client,
                    self._on_event,
                    self.notice,
                    lambda: not link.gone,
                    link.events_from,
                    lambda: self._subscribers > 0,
                )

        self.loop.call_soon(start)

    def _on_event(self, event: Event) -> None:
        if event.kind == "output":
            self.output.live(event)
        else:
            self.states.update(event)
            if event.inputs and any(ref.call_key and not ref.task_id for ref in event.inputs):
                event = self._known_inputs(event)
                if self._hold(event):
                    return
            self.dispatch(event)

    def _hold(self, event: Event) -> bool:
        """Keep an event whose input names a producer whose task id is not known here yet (its
        acknowledgement is on its way) until it is, at most ``HOLD_KEYED_S``: listeners (the
        graph) get the producer's task id (on the loop)."""
        key = next((ref.call_key for ref in event.inputs if ref.call_key and not ref.task_id), "")
        with self._keys_lock:
            if not key or key in self.keyed:
                return False
            self._held.setdefault(key, []).append(event)
        self.loop.loop.call_later(HOLD_KEYED_S, self._show_held, key)
        return True

    def _show_held(self, key: str) -> None:
        with self._keys_lock:
            events = self._held.pop(key, ())
        for event in events:  # shown once, whatever else is still unknown
            self.dispatch(self._known_inputs(event))

    def _known_inputs(self, event: Event) -> Event:
        """The event, its inputs named by key given their task ids where this session knows them."""
        keyed = self.keyed
        inputs = tuple(
            replace(ref, task_id=keyed.get(ref.call_key, "")) if ref.call_key and not ref.task_id else ref
            for ref in event.inputs
        )
        return replace(event, inputs=inputs)

    def server_unreachable(self, address: str, error: AgentnbError) -> None:
        """A server's calls failed for being unreachable too long: what did not finish there
        is shown failed too (the graph), though its feed may come back (on the loop)."""
        self._on_event(Event(GONE, "", "", address, timestamp=time.time(), preview=f"unreachable: {error}"))

    def feed(self, address: str) -> Feed | None:
        return self._feeds.get(address)

    async def sync_output(self, calls: list[Call], timeout: float) -> None:
        """Wait (bounded) until ``calls`` finished and the feeds of their servers showed
        everything those published so far: a cell's calls print in the cell before it ends."""
        deadline = asyncio.get_running_loop().time() + timeout
        for call in calls:
            if not call.finished:
                done = asyncio.Event()
                self.loop.loop.call_soon_threadsafe(call.when_done, done.set)
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(done.wait(), left)
                except asyncio.TimeoutError:
                    break
        used = {id(call.link) for call in calls}
        for link in [link for link in self.links() if id(link) in used]:
            feed = self._feeds.get(link.address)
            if feed is None or link.gone:
                continue
            try:
                info = await link.client.info(timeout)
            except Exception:  # noqa: BLE001 - a server that cannot answer has nothing more to show
                continue
            await feed.reached(int(info.event_seq), info.server_id, timeout)

    # -- servers ---------------------------------------------------------------------------

    def launch(
        self,
        host: str,
        port: int | None,
        advertise: str | None,
        limits: Limits,
        timeouts: Timeouts,
        tls: TLS | None = None,
    ) -> ServerProcess:
        """Start a server (with a fresh token), or return the running one this session launched
        on that explicit port.

        With ``keep_spare`` (on in notebooks), a server for the default case
        (any free port) is started ahead in the background, so the next
        ``to_dist()`` takes a ready one instead of waiting for a process start.
        """
        with self._lock:
            if port:
                existing = self._by_bind.get((host, port))
                if existing is not None and not existing.exited.is_set():
                    return existing
            server = None if port else self._take_spare((host, advertise, limits, tls), timeouts)
            early = None if port or server is not None else take_early((host, advertise, limits, tls))
            if early is not None:
                try:
                    server = early.ready()
                except BaseException:  # noqa: BLE001 - one started ahead that failed is not used
                    server = None
            if server is None:
                server = self._spawn(host, port or 0, advertise, limits, timeouts, tls)
            self._servers[server.address] = server
            self._by_bind[(host, server.port)] = server
        if self._keep_spare and not port:
            self._start_spare((host, advertise, limits, tls), timeouts)
        return server

    def _spawn(
        self,
        host: str,
        port: int,
        advertise: str | None,
        limits: Limits,
        timeouts: Timeouts,
        tls: TLS | None = None,
    ) -> ServerProcess:
        return spawn(host, port, advertise, new_token(), limits, timeouts, tls)

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
        host, advertise, limits, tls = key

        def start() -> None:
            try:
                future.set_result(self._spawn(host, 0, advertise, limits, timeouts, tls))
            except BaseException as exc:  # noqa: BLE001 - a failed spare is simply not used
                future.set_exception(exc)

        threading.Thread(target=start, name="agentnb-spare", daemon=True).start()

    def stop_server(self, server: ServerProcess, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        """Stop one server this session launched."""
        with self._lock:
            self._servers.pop(server.address, None)
            self._by_bind = {k: v for k, v in self._by_bind.items() if v is not server}
            links = [link for link in self._links.values() if link.server is server]
        for link in links:
            link.closing = True
        server.stop(timeouts)

    def shutdown(self, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        """Stop every server this session launched; close links and feeds."""
        if os.getpid() != self._pid:
            return
        drop_early()
        self.registry.clear()
        with self._lock:
            spare, self._spare = self._spare, None
            servers = list(self._servers.values())
            links, self._links = list(self._links.values()), {}
            self._servers.clear()
            self._by_bind.clear()
        for link in links:
            link.closing = True
        threads = [threading.Thread(target=s.stop, args=(timeouts,)) for s in servers]
        if spare is not None:  # stopped beside the others, never while holding the lock
            threads.append(threading.Thread(target=_stop_when_started, args=(spare[1], timeouts)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(3 * timeouts.stop + 1)
        if not self.loop.started:
            return

        async def close() -> None:
            for feed in self._feeds.values():
                feed.stop()
            self._feeds.clear()
            for link in links:
                await link.close()

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
