"""The driver's link to one agent server: its outbox, its result stream and its clients.

**Outbox.** Operations (create an agent, call it, observe, delete, release
results) are queued here in the order they were made and sent in batches,
one ``Submit`` in flight at a time, so the server applies them in that order
(calls to one agent reach its mailbox in the order they were made) and a
fan-out of thousands of calls costs a few round trips. A call whose input is
a placeholder not yet acknowledged waits (with the calls after it to the same
agent; other agents' calls go on). A batch the server cannot take yet (its
result store is full) is sent again shortly: back pressure, never loss.

**Results.** Acknowledged calls are watched on one ``WatchResults`` stream;
outcomes settle their calls as they come. A server this driver launched that
exits fails what waits on it at once, saying how it exited.

**One round trip.** A reader that finds its call still in the outbox, with
nothing before it for the same agent, takes it out (:meth:`steal`) and sends
it itself with its reply in the same round trip (:meth:`call_here`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from .._core._address import is_loopback, local_ip_towards
from .._core._config import Limits, Timeouts
from .._core._errors import (
    AgentnbError,
    AgentNotFoundError,
    CallCancelledError,
    ProtocolError,
    RemoteError,
    ServerUnavailableError,
)
from .._core._tls import TLS
from .._proto import agentnb_pb2 as pb
from . import _wire as wire
from ._calls import PENDING, SENDING, Call, as_message
from ._client import ServerClient, SyncServerClient, status_error
from ._codec import fill_msg, fill_ref, input_label
from ._watch import ResultWatch

if TYPE_CHECKING:
    from ._process import ServerProcess
    from ._session import Session

log = logging.getLogger("agentnb")
T = TypeVar("T")

#: While an outbox is in use, what waits in it is sent every TICK seconds
#: (sooner when someone waits for it, or URGENT operations pile up); the tick
#: stops after LINGER seconds without a new operation. A call read at once is
#: taken by its reader before (see ``steal``).
TICK = 0.005
LINGER = 0.1
URGENT = 2000
#: A batch the server refused for lack of room is sent again after this long.
RETRY_FULL = 0.05
#: Results released by this driver are told to the server with the next batch,
#: or after this many seconds, or once this many piled up.
RELEASE_AFTER = 1.0
RELEASE_BATCH = 1000
#: Replies up to this size come with their outcome; bigger ones stay on the
#: server until read (a driver never receives values it does not read).
INLINE_REPLY_BYTES = 64 * 1024

OpDone = Callable[[pb.OpResult, str], None]


@dataclass(eq=False)
class Pending:
    """An operation in the outbox: a call (encoded when sent), or a ready ``pb.Op``."""

    agent: str  # the agent it concerns: operations of one agent keep their order
    call: Call | None = None
    observe: bool = False  # the call is an observation (its inputs go into memory, no reply)
    op: pb.Op | None = None
    done: OpDone | None = None  # told the op's result (and the server id)
    #: told the op's error; may answer with a clearer one (given to what depends on the op)
    failed: Callable[[AgentnbError], AgentnbError | None] | None = None


class ServerLink:
    def __init__(
        self,
        session: Session,
        address: str,
        token: str | None,
        limits: Limits,
        timeouts: Timeouts,
        server: ServerProcess | None = None,
        tls: TLS | None = None,
    ) -> None:
        self.session = session
        self.address = address
        self.host = address.rsplit(":", 1)[0].strip("[]")
        self.token = token
        self.limits = limits
        self.timeouts = timeouts
        self.server = server
        self.tls = tls  # the channel to the server uses TLS, trusting this CA
        self.server_id = ""
        self.defined: set[str] = set()  # classes shipped to this server
        self._lock = threading.Lock()
        self._pending: deque[Pending] = deque()
        self._count: Counter[str] = Counter()  # pending or in-flight operations per agent
        self._releases: list[str] = []
        self._dropped: deque[str] = deque()  # released, not yet among _releases
        self._noting = False  # _note_releases is scheduled
        self._release_timer = False  # _releases_timed_out is scheduled
        self._scheduled = False  # a flush is running or about to
        self._ticking = False  # the tick is running
        self._active = 0.0  # when the last operation was queued
        self._fresh = False  # operations were queued since the last flush looked
        self._released_at = 0.0  # when the oldest release waiting was queued
        self._waiting_on: set[int] = set()  # ids of producer calls this outbox waits for
        self._client: ServerClient | None = None
        self._sync: SyncServerClient | None = None
        self._watch: ResultWatch | None = None
        self._gone: AgentnbError | None = None
        self.closing = False  # this session is stopping the server or the link
        self.followed = False  # the session follows its event feed
        self.accepts_code: bool | None = True if server is not None else None
        #: Why agents could not be created here (a call to one is told that, not "no agent").
        self.not_created: dict[str, AgentnbError] = {}
        if server is not None:
            server.on_exit(lambda: session.loop.call_soon(self._server_exited))

    @property
    def gone(self) -> bool:
        """The link is closed, or the server this session launched for it exited."""
        return self.closing or self._gone is not None

    # -- clients -----------------------------------------------------------------------

    @property
    def client(self) -> ServerClient:
        """The async client (on the loop thread only)."""
        if self._client is None:
            self._client = ServerClient(self.address, self.token, self.limits, self.timeouts, self.tls)
        return self._client

    def info(self) -> pb.GetServerInfoResponse:
        """Ask the server about itself (blocking; not on the loop thread)."""

        response = self._run(lambda: self.client.info(first=True))
        self.accepts_code, self.server_id = response.accepts_code, response.server_id
        return response

    def _sync_client(self) -> SyncServerClient:
        with self._lock:
            if self._sync is None:
                self._sync = SyncServerClient(self.address, self.token, self.limits, self.timeouts, self.tls)
            return self._sync

    # -- the outbox ----------------------------------------------------------------------

    def put(self, item: Pending) -> None:
        """Queue an operation (any thread); it is sent within a few milliseconds."""
        if self.gone:
            self._fail(
                item, self._gone or ServerUnavailableError(f"the session closed its link to {self.address}")
            )
            return
        if item.call is not None:
            self.session.made(item.call)
        with self._lock:
            self._pending.append(item)
            self._count[item.agent] += 1
            self._active = time.monotonic()
            self._fresh = True
            if len(self._pending) >= URGENT and not self._scheduled:
                self._scheduled = True  # a big fan-out: send what is there now
                urgent = True
            elif self._ticking or self._scheduled:
                return  # the tick sends it within TICK seconds (unless a reader takes it first)
            else:
                self._ticking, urgent = True, False
        self.session.loop.call_soon(self._flush_now if urgent else self._tick)

    def _tick(self) -> None:
        """While this outbox is in use, send what waits every ``TICK`` seconds (on the loop).

        A call read at once is taken by its reader long before (see ``steal``), so a
        loop of calls costs the loop one wake-up per tick, not one per call; the tick
        stops after ``LINGER`` seconds without a new operation.
        """
        now = time.monotonic()
        with self._lock:
            due = self._fresh or self._releases_due()  # (a call waiting on a producer goes at its ack)
            if not due and now - self._active > LINGER:
                self._ticking = False
                if self._releases and not self._release_timer:  # they go once due, on their own
                    self._release_timer = True
                    later = max(TICK, RELEASE_AFTER - (now - self._released_at))
                    asyncio.get_running_loop().call_later(later, self._releases_timed_out)
                return
            start = due and not self._scheduled
            if start:
                self._scheduled = True
        if start:
            asyncio.ensure_future(self._flush())
        asyncio.get_running_loop().call_later(TICK, self._tick)

    def _releases_timed_out(self) -> None:
        """Send releases that waited ``RELEASE_AFTER`` seconds for a batch to ride along (on the loop)."""
        with self._lock:
            self._release_timer = False
            if not self._releases or self._ticking or self._scheduled:
                return  # gone with a batch, or the tick will see to them
            self._ticking = True
        self._tick()

    def _releases_due(self) -> bool:
        """Whether the releases that wait should go now, on their own (call with the lock)."""
        if not self._releases:
            return False
        old = time.monotonic() - self._released_at > RELEASE_AFTER
        return old or len(self._releases) >= RELEASE_BATCH

    def _flush_now(self) -> None:
        asyncio.ensure_future(self._flush())

    def flush_soon(self) -> None:
        """Send what waits now, not at the next tick (someone waits for it)."""
        with self._lock:
            if self._scheduled or not self._pending:
                return
            self._scheduled = True
        self.session.loop.call_soon(self._flush_now)

    def _kick(self) -> None:
        """A producer this outbox waited for was acknowledged: try again (any thread)."""
        self.session.loop.call_soon(self._kick_on_loop)

    def _kick_on_loop(self) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        asyncio.ensure_future(self._flush())

    def steal(self, call: Call) -> bool:
        """Take ``call`` out of the outbox to send it from the reading thread, if order allows."""
        with self._lock:
            if call.state != PENDING or self._count[call.agent] != 1:
                return False
            if any(not self._producer_ready(p) for p in call.producers):
                return False
            for item in self._pending:
                if item.call is call:
                    self._pending.remove(item)
                    break
            else:
                return False
            self._count[call.agent] -= 1
            call.state = SENDING
            return True

    def cancel(self, call: Call) -> bool:
        """Withdraw a call that has not started: from the outbox, or from the agent's mailbox."""
        with self._lock:
            for item in self._pending:
                if item.call is call:
                    self._pending.remove(item)
                    self._count[call.agent] -= 1
                    break
            else:
                item = None
        if item is not None:
            call.fail(
                CallCancelledError(f"the call to agent {call.agent!r} was cancelled before it was sent")
            )
            return True
        if call.resolved:
            return False
        call.acked_or_wait(self.timeouts.control)
        if not call.task_id:
            return False
        response = self._run(lambda: self.client.cancel(pb.CancelRequest(task_ids=[call.task_id])))
        self._until_delivered(response.cancelled)
        return call.task_id in response.cancelled or call.task_id in response.stopping

    def cancel_agent(self, agent: str) -> int:
        """Withdraw every call to ``agent`` that has not started; returns how many."""
        with self._lock:
            mine = [item for item in self._pending if item.agent == agent and item.call is not None]
            for item in mine:
                self._pending.remove(item)
                self._count[agent] -= 1
        for item in mine:
            assert item.call is not None
            item.call.fail(
                CallCancelledError(f"the call to agent {agent!r} was cancelled before it was sent")
            )
        response = self._run(lambda: self.client.cancel(pb.CancelRequest(agent=agent)))
        self._until_delivered(response.cancelled)
        return len(mine) + len(response.cancelled)

    def _until_delivered(self, task_ids: Iterable[str]) -> None:
        """Wait (bounded) until the outcomes of ``task_ids`` reached their calls here, so
        a withdrawn call's placeholder says so as soon as ``cancel`` returns."""
        ids = list(task_ids)
        if not ids:
            return

        async def delivered() -> None:
            if self._watch is None:
                return
            loop = asyncio.get_running_loop()
            arrived = []
            for task_id in ids:  # after the calls' own deliveries (registered before)
                future: asyncio.Future[None] = loop.create_future()
                arrived.append(future)
                self._watch.watch(task_id, partial(_resolve_once, future), partial(_resolve_once, future))
            await asyncio.wait(arrived, timeout=self.timeouts.control)

        self.session.run(delivered(), self.timeouts.control + self.timeouts.reconnect)

    def _run(self, rpc: Callable[[], Awaitable[T]]) -> T:
        """Run one RPC of the async client on the loop and wait for it (bounded)."""

        async def run() -> T:
            return await rpc()

        return self.session.run(run(), self.timeouts.control + self.timeouts.reconnect)

    def requeue(self, call: Call) -> None:
        """Send a call again (it carries its key: the server does not queue it twice)."""
        self.put(Pending(call.agent, call=call))

    def _producer_ready(self, producer: Call) -> bool:
        """Whether a call taking ``producer``'s reply can be encoded: as a reference once
        the producer has its task id, as a relayed value once that value is here."""
        if producer.resolved:
            return True  # its value or its error: encoding knows what to do
        if route_address(producer.link, self) is not None:
            return producer.acked
        if producer.withheld:  # done, but its value stayed on its server: fetch it to relay it
            producer.link.fetch_soon(producer)
        return False

    def _take(self) -> list[Pending]:
        """The operations that can go now, in order; the others stay (call with the lock)."""
        batch: list[Pending] = []
        keep: deque[Pending] = deque()
        blocked: set[str] = set()
        budget = self.limits.max_message_bytes // 2
        for item in self._pending:
            if item.agent in blocked or budget <= 0 or len(batch) >= self.limits.ops_per_batch - 1:
                keep.append(item)
                continue
            call = item.call
            if call is not None and call.state == PENDING:
                waiting = [p for p in call.producers if not self._producer_ready(p)]
                if waiting:
                    blocked.add(item.agent)
                    keep.append(item)
                    for producer in waiting:
                        if id(producer) not in self._waiting_on:
                            self._waiting_on.add(id(producer))
                            producer.when_acked(self._kick)
                            producer.when_resolved(self._kick)
                            producer.when_done(self._kick)
                    continue
                budget -= call.size
            batch.append(item)
        self._pending = keep
        return batch

    async def _flush(self) -> None:
        try:
            await self._flush_all()
        except BaseException as exc:  # a bug here must not leave the outbox stuck
            with self._lock:
                self._scheduled = False
            if not isinstance(exc, asyncio.CancelledError):
                log.exception("agentnb: sending to %s failed", self.address)
            raise

    async def _flush_all(self) -> None:
        while True:
            with self._lock:
                self._waiting_on.clear()
                self._fresh = False
                batch = self._take()
                releases: list[str] = []
                if batch or self._releases_due():  # releases never cost a round trip of their own
                    releases, self._releases = self._releases, []
                if not batch and not releases:
                    self._scheduled = False
                    return
            ops, sent = [], []
            for item in batch:
                try:
                    ops.append(self._encode(item))
                    sent.append(item)
                except AgentnbError as exc:
                    self._fail(item, exc)
            if releases:
                ops.append(pb.Op(release=pb.ReleaseRequest(task_ids=releases)).SerializeToString())
            try:
                refused = await self._send(ops, sent) if ops else []
            except Exception as exc:  # noqa: BLE001 - a bug: fail the batch, keep the outbox going
                log.exception("agentnb: sending to %s failed", self.address)
                for item in sent:
                    self._fail(item, ProtocolError(f"agentnb could not send this operation: {exc!r}"))
                refused = []
            with self._lock:
                for item in batch:
                    self._count[item.agent] -= 1
                    if not self._count[item.agent]:
                        del self._count[item.agent]
                if refused:  # back to the front, in order, to be sent again shortly
                    for item in reversed(refused):
                        self._pending.appendleft(item)
                        self._count[item.agent] += 1
            if refused:
                await asyncio.sleep(RETRY_FULL)

    async def _send(self, ops: list[bytes], sent: list[Pending]) -> list[Pending]:
        """Submit a batch and apply its results; returns what the server had no room for."""
        if self.closing:  # the session closed this link: nothing more goes out
            closed = ServerUnavailableError(f"the session closed its link to {self.address}")
            for item in sent:
                self._fail(item, closed)
            return []
        what = f"sending {len(ops)} operation(s)" if len(ops) > 1 else "sending an operation"
        try:
            response = await self.client.submit(ops, what)
        except AgentnbError as exc:
            error = await self.explain_async(exc)
            for item in sent:
                self._fail(item, error)
            return []
        self.server_id = response.server_id
        refused = []
        not_created = self.not_created  # a call after a failed create fails with its error
        for item, result in zip(sent, response.results[: len(sent)], strict=True):
            if result.status.reason == "full":
                if item.call is not None:
                    item.call.state = PENDING
                refused.append(item)
                continue
            failed = result.status.code != 0
            if failed and item.op is not None and item.op.WhichOneof("op") == "create":
                error = status_error(result.status, self.address, _what(item))
                told = item.failed(error) if item.failed is not None else None
                not_created[item.agent] = told or error
                while len(not_created) > 1000:
                    not_created.pop(next(iter(not_created)))
                continue
            if failed and item.call is not None and item.agent in not_created:
                self._fail(item, not_created[item.agent])
                continue
            self._apply(item, result, response.server_id)
        return refused

    def _encode(self, item: Pending) -> bytes:
        """One operation of a batch, serialized (a call's big inputs are never copied)."""
        if item.call is None:
            assert item.op is not None
            return item.op.SerializeToString()
        request = self.encode_call(item.call)
        if item.observe:
            observe = pb.ObserveRequest(agent=request.agent)
            observe.inputs.extend(request.inputs)
            return wire.field(3, observe.SerializeToString())  # Op.observe
        return wire.field(2, request.SerializeToString())  # Op.call

    def encode_call(self, call: Call) -> pb.CallRequest:
        """The call's request, its placeholder slots filled: references, or relayed values."""
        call.state = SENDING
        slots, call.slots = call.slots, None
        request = call.request
        assert request is not None, "an answered call is never sent again"
        inputs = request.inputs
        for i, producer in slots or ():
            route = route_address(producer.link, self)
            error = producer.error
            if route is not None and producer.acked:
                fill_ref(inputs[i], route, producer.task_id, producer.agent, producer.server_id)
            elif error is not None:
                raise _upstream(producer, error)
            else:  # a loopback-only producer, seen from another host: relay its value
                msg = as_message(producer.value, producer.agent)
                where = input_label(i, len(inputs), call.agent)
                fill_msg(inputs[i].message, msg, self.limits.max_message_bytes, where)
        return request

    def _apply(self, item: Pending, result: pb.OpResult, server_id: str) -> None:
        if result.HasField("status") and result.status.code:
            self._fail(item, status_error(result.status, self.address, _what(item)))
            return
        if item.call is not None:
            if not item.call.acked:
                item.call.acknowledged(result.task_id, server_id)
            self._watch_on_loop(item.call)
        elif item.done is not None:
            item.done(result, server_id)

    def _fail(self, item: Pending, error: AgentnbError) -> None:
        if item.call is not None:
            item.call.fail(self.explain(_for_agent(error, item.call.agent), item.call.agent))
        elif item.failed is not None:
            item.failed(error)
        else:
            log.warning("agentnb: %s", error)

    # -- the one-round-trip path ---------------------------------------------------------

    def call_here(self, request: pb.CallRequest, wait: float) -> pb.CallResponse:
        """Send a call from this thread (see ``steal``); raises agentnb errors."""
        return self._sync_client().call(request, wait)

    def fetch_here(self, task_id: str, agent: str, timeout: float | None) -> pb.Outcome:
        """Read one task's whole outcome from this thread (raises CallTimeoutError if not ready)."""
        return self._sync_client().fetch(task_id, agent, timeout)

    def fetch_soon(self, call: Call) -> None:
        """Read a withheld reply on the loop (for ``await``)."""

        async def fetch() -> None:
            try:
                outcome = await self.client.fetch(call.task_id, call.agent, None)
            except AgentnbError as exc:
                call.fail(await self.explain_async(exc))
            else:
                call.take(outcome)

        self.session.loop.call_soon(lambda: asyncio.ensure_future(fetch()))

    # -- results ---------------------------------------------------------------------------

    def watch_call(self, call: Call) -> None:
        """Deliver the call's outcome when it is ready (any thread)."""
        self.session.loop.call_soon(self._watch_on_loop, call)

    def _watch_on_loop(self, call: Call) -> None:
        if self._gone is not None:
            call.fail(self._gone)
            return
        if self._watch is None:
            self._watch = ResultWatch(self.client, self.explain, INLINE_REPLY_BYTES)

        def deliver(result: pb.TaskResult, server_id: str) -> None:
            if result.HasField("outcome"):
                call.settle(result.outcome)
                return
            error = status_error(result.status, self.address, f"reading the reply of agent {call.agent!r}")
            if call.server_id and server_id and server_id != call.server_id:
                error = type(error)(
                    f"agent {call.agent!r}: the server at {self.address} restarted after this call was "
                    "made (its result is lost); call the agent again"
                )
            call.fail(error)

        self._watch.watch(call.task_id, deliver, lambda error: call.fail(_for_agent(error, call.agent)))

    def watch_outcome(self, task_id: str, agent: str, on_outcome: Callable[[pb.Outcome], None]) -> None:
        """Show what a task nobody else reads (an agent's constructor) printed, hand its
        outcome to ``on_outcome`` on the loop, and release it. Cheaper than a Call: no
        future, no placeholder, no producers to wait for. If the outcome cannot come
        (the server went, or restarted), nothing is said: the agent's calls say it."""

        def deliver(result: pb.TaskResult, server_id: str) -> None:
            self.release(task_id)
            if result.HasField("outcome"):
                self.session.output.settled(task_id, agent, self.address, result.outcome)
                on_outcome(result.outcome)

        def watch() -> None:
            if self._gone is None:
                if self._watch is None:
                    self._watch = ResultWatch(self.client, self.explain, INLINE_REPLY_BYTES)
                self._watch.watch(task_id, deliver, _ignore)

        self.session.loop.call_soon(watch)

    def release(self, task_id: str) -> None:
        """Tell the server nobody here will read this result again.

        Releases ride along with the next batch, or go on their own once
        ``RELEASE_AFTER`` seconds passed (the tick sends them) or
        ``RELEASE_BATCH`` piled up: never an extra round trip per call.

        Takes no lock: it runs when a placeholder is collected, which the garbage
        collector may do in any thread at any point, even inside this link's lock.
        """
        if not task_id or self.gone:
            return
        self._dropped.append(task_id)  # a deque: appending is atomic
        if not self._noting:
            self._noting = True
            self.session.loop.call_soon(self._note_releases)

    def _note_releases(self) -> None:
        """Move dropped task ids to the releases the next batch carries (on the loop)."""
        self._noting = False  # before draining: an id appended after the drain schedules again
        dropped = self._dropped
        with self._lock:
            if not self._releases and dropped:
                self._released_at = time.monotonic()
            while dropped:
                self._releases.append(dropped.popleft())
            if len(self._releases) >= RELEASE_BATCH and not self._scheduled:
                self._scheduled, wake = True, self._flush_now
            elif self._ticking or self._scheduled or not self._releases:
                return
            else:
                self._ticking, wake = True, self._tick
        wake()

    # -- failures --------------------------------------------------------------------------

    def explain(self, error: AgentnbError, agent: str = "") -> AgentnbError:
        """Add what is known: why an agent is missing, how a server this driver launched exited."""
        if isinstance(error, AgentNotFoundError) and agent in self.not_created:
            return self.not_created[agent]
        server = self.server
        if server is None or not isinstance(error, ServerUnavailableError) or not server.exited.is_set():
            return error
        return ServerUnavailableError(f"{error}; {server.describe_exit()}")

    async def explain_async(self, error: AgentnbError) -> AgentnbError:
        server = self.server
        if server is not None and isinstance(error, ServerUnavailableError):
            await asyncio.get_running_loop().run_in_executor(None, server.exited.wait, 2.0)
        return self.explain(error)

    def _server_exited(self) -> None:
        """The server process this driver launched exited: fail everything that waits on it."""
        assert self.server is not None
        self._gone = ServerUnavailableError(
            f"the agent server at {self.address} is gone: {self.server.describe_exit()}"
        )
        if self._watch is not None:
            self._watch.fail_all(self._gone)
        with self._lock:
            pending, self._pending = list(self._pending), deque()
        for item in pending:
            self._fail(item, self._gone)

    def close_sync(self) -> None:
        with self._lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()

    async def close(self) -> None:
        self.close_sync()
        if self._watch is not None:
            self._watch.fail_all(ServerUnavailableError(f"the session closed its link to {self.address}"))
        if self._client is not None:
            await self._client.close()


def _for_agent(error: AgentnbError, agent: str) -> AgentnbError:
    """The error, saying which agent's call it ended (unless it says so already)."""
    if isinstance(error, RemoteError) or f"{agent!r}" in str(error):
        return error
    return type(error)(f"agent {agent!r}: {error}")


def _upstream(producer: Call, error: BaseException) -> AgentnbError:
    if isinstance(error, AgentnbError):
        return error if isinstance(error, RemoteError) else RemoteError(
            producer.agent, producer.link.address, type(error).__name__, str(error), ""
        )  # fmt: skip
    return RemoteError(producer.agent, producer.link.address, type(error).__name__, str(error), "")


def _what(item: Pending) -> str:
    if item.call is not None:
        return f"calling agent {item.call.agent!r}"
    kind = item.op.WhichOneof("op") if item.op is not None else "op"
    return f"{kind} of agent {item.agent!r}" if item.agent else kind or "an operation"


def route_address(producer: ServerLink, consumer: ServerLink) -> str | None:
    """How ``consumer``'s server reaches ``producer``'s: "" (the same server), an address,
    or None when it cannot (a loopback-only server, seen from another host; one of the
    two uses TLS and the other does not): then the driver relays the value itself."""
    if producer is consumer or (producer.server_id and producer.server_id == consumer.server_id):
        return ""
    if (producer.tls is None) != (consumer.tls is None):
        return None
    if is_loopback(consumer.host) or not is_loopback(producer.host):
        return producer.address
    server = producer.server
    if server is not None and server.bind[0] in ("0.0.0.0", "::"):
        ip = local_ip_towards(consumer.host)
        if ip is not None:
            return f"{ip}:{producer.address.rsplit(':', 1)[1]}"
    return None


def _ignore(error: AgentnbError) -> None:
    pass


def _resolve_once(future: asyncio.Future[None], *_: object) -> None:
    if not future.done():
        future.set_result(None)
