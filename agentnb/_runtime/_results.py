"""A server link's results: outcomes delivered as they are ready, and direct sends.

Acknowledged calls are watched on one ``WatchResults`` stream per server
(:class:`._watch.ResultWatch`); outcomes settle their calls as they come.
Big replies are withheld on the server until someone reads them (read here,
from the reader's thread or on the loop). A call read before the outbox sent
it goes out from its reader's thread on a blocking channel, with its outcome
in the same round trip (:meth:`Results.send_now`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Protocol

from .._core._config import Limits, Timeouts
from .._core._errors import AgentnbError
from .._core._tls import TLS
from .._proto import agentnb_pb2 as pb
from ._calls import Call
from ._client import ServerClient, SyncServerClient, status_error
from ._local import Delivery, LocalServer
from ._loop import LoopThread
from ._outbox import for_agent
from ._watch import Failure, ResultWatch

#: Replies up to this size come with their outcome; bigger ones stay on the
#: server until read (a driver never receives values it does not read).
INLINE_REPLY_BYTES = 64 * 1024
#: The driver's watch takes at most one response per this many milliseconds from a server
#: (results that trickle in, as a long chain's do, come a few at a time, not one per message;
#: the first after a quiet spell comes at once). Measured: 5 ms capped one agent with 8
#: calls in flight at 8 per 5 ms (1,963 calls/s against 2,835 with none); 1 ms keeps most of
#: what 5 ms gave a 1,000-agent chain on 4 servers (0.76 s; 0.63 s at 5 ms, 1.08 s with none).
GATHER_MS = 1


class Reader(Protocol):
    """What the results side needs of its link (``ServerLink`` implements it)."""

    address: str
    token: str | None
    limits: Limits
    timeouts: Timeouts
    tls: TLS | None
    target: str
    loop: LoopThread
    shared: bool

    local: LocalServer | None

    @property
    def client(self) -> ServerClient: ...

    def gone_error(self) -> AgentnbError | None: ...

    def explain(self, error: AgentnbError, agent: str = "") -> AgentnbError: ...

    async def explain_async(self, error: AgentnbError) -> AgentnbError: ...

    def show_output(self, task_id: str, agent: str, outcome: pb.Outcome) -> None: ...

    def release(self, task_id: str) -> None: ...

    def unreachable(self, error: AgentnbError) -> None: ...


class Results:
    def __init__(self, link: Reader) -> None:
        self._link = link
        self._lock = threading.Lock()
        self._watch: ResultWatch | LocalWatch | None = None
        self._sync: SyncServerClient | None = None

    # -- watched outcomes ------------------------------------------------------------------

    def watch(self, call: Call) -> None:
        """Deliver the call's outcome when it is ready (on the loop)."""
        gone = self._link.gone_error()
        if gone is not None:
            call.fail(gone)
            return
        link = self._link

        def deliver(result: pb.TaskResult, server_id: str) -> None:
            if result.HasField("outcome"):
                call.settle(result.outcome)
                return
            error = status_error(result.status, link.address, f"reading the reply of agent {call.agent!r}")
            if call.server_id and server_id and server_id != call.server_id:
                error = type(error)(
                    f"agent {call.agent!r}: the server at {link.address} restarted after this call was "
                    "made (its result is lost); call the agent again"
                )
            call.fail(error)

        self._stream().watch(call.task_id, deliver, lambda error: call.fail(for_agent(error, call.agent)))

    def watch_outcome(self, task_id: str, agent: str, on_outcome: Callable[[pb.Outcome], None]) -> None:
        """Show what a task nobody else reads (an agent's constructor) printed, hand its
        outcome to ``on_outcome`` on the loop, and release it. Cheaper than a Call: no
        future, no placeholder, no producers to wait for. If the outcome cannot come
        (the server went, or restarted), nothing is said: the agent's calls say it."""
        link = self._link

        def deliver(result: pb.TaskResult, server_id: str) -> None:
            link.release(task_id)
            if result.HasField("outcome"):
                link.show_output(task_id, agent, result.outcome)
                on_outcome(result.outcome)

        def watch() -> None:
            if link.gone_error() is None:
                self._stream().watch(task_id, deliver, _ignore)

        link.loop.call_soon(watch)

    def _stream(self) -> ResultWatch | LocalWatch:
        if self._watch is None:
            link = self._link
            if link.local is not None:
                self._watch = LocalWatch(link.local, link.loop)
            else:
                self._watch = ResultWatch(
                    link.client, link.explain, INLINE_REPLY_BYTES, link.unreachable, GATHER_MS
                )
        return self._watch

    def until_delivered(self, task_ids: Iterable[str]) -> None:
        """Wait (bounded) until the outcomes of ``task_ids`` reached their calls here, so
        a withdrawn call's placeholder says so as soon as ``cancel`` returns."""
        ids = list(task_ids)
        if not ids:
            return
        timeouts = self._link.timeouts

        async def delivered() -> None:
            if self._watch is None:
                return
            loop = asyncio.get_running_loop()
            arrived = []
            for task_id in ids:  # after the calls' own deliveries (registered before)
                future: asyncio.Future[None] = loop.create_future()
                arrived.append(future)
                self._watch.watch(task_id, partial(_resolve_once, future), partial(_resolve_once, future))
            await asyncio.wait(arrived, timeout=timeouts.control)

        self._link.loop.run(delivered(), timeouts.control + timeouts.reconnect)

    def fail_all(self, error: AgentnbError) -> None:
        """Nothing more will arrive: fail what waits (on the loop)."""
        if self._watch is not None:
            self._watch.fail_all(error)

    # -- withheld replies and direct sends --------------------------------------------------------

    def fetch_soon(self, call: Call) -> None:
        """Read a withheld reply on the loop (for ``await``)."""
        link = self._link

        async def fetch() -> None:
            try:
                if link.local is not None:
                    loop = asyncio.get_running_loop()
                    outcome = await loop.run_in_executor(
                        None, link.local.fetch, call.task_id, call.agent, None
                    )
                else:
                    outcome = await link.client.fetch(call.task_id, call.agent, None)
            except AgentnbError as exc:
                call.fail(await link.explain_async(exc))
            else:
                call.take(outcome)

        link.loop.call_soon(lambda: asyncio.ensure_future(fetch()))

    def send_now(self, request: pb.CallRequest, wait: float) -> pb.CallResponse:
        """Send a call from this thread; raises agentnb errors."""
        local = self._link.local
        if local is not None:
            return local.call(request, wait)
        return self._sync_client().call(request, wait)

    def fetch_now(self, call: Call, timeout: float | None) -> pb.Outcome:
        """Read one task's whole outcome from this thread (raises CallTimeoutError if not ready)."""
        local = self._link.local
        if local is not None:
            return local.fetch(call.task_id, call.agent, timeout)
        return self._sync_client().fetch(call.task_id, call.agent, timeout)

    def _sync_client(self) -> SyncServerClient:
        link = self._link
        with self._lock:
            if self._sync is None:
                self._sync = SyncServerClient(
                    link.address, link.token, link.limits, link.timeouts, link.tls, link.target, link.shared
                )
            return self._sync

    def close_sync(self) -> None:
        with self._lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()


class LocalWatch:
    """Outcomes of tasks of a server in this process, delivered on the loop (as ``ResultWatch``)."""

    def __init__(self, server: LocalServer, loop: LoopThread) -> None:
        self._server = server
        self._loop = loop
        self._waiting: dict[str, list[tuple[Delivery, Failure]]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def watch(self, task_id: str, deliver: Delivery, fail: Failure, doubt: object = None) -> None:
        """Deliver the outcome of ``task_id`` once it is ready (call on the loop; a server in
        this process is never in doubt)."""
        waiting = self._waiting.get(task_id)
        if waiting is not None:
            waiting.append((deliver, fail))
            return
        self._waiting[task_id] = [(deliver, fail)]
        self._server.watch(
            task_id,
            lambda result, server_id: self._loop.call_soon(self._deliver, task_id, result, server_id),
            lambda error: self._loop.call_soon(self._fail, task_id, error),
        )

    def _deliver(self, task_id: str, result: pb.TaskResult, server_id: str) -> None:
        for deliver, _ in self._waiting.pop(task_id, ()):
            deliver(result, server_id)

    def _fail(self, task_id: str, error: AgentnbError) -> None:
        for _, fail in self._waiting.pop(task_id, ()):
            fail(error)

    def fail_all(self, error: AgentnbError) -> None:
        waiting, self._waiting = self._waiting, {}
        for callbacks in waiting.values():
            for _, fail in callbacks:
                fail(error)


def _ignore(error: AgentnbError) -> None:
    pass


def _resolve_once(future: asyncio.Future[None], *_: object) -> None:
    if not future.done():
        future.set_result(None)
