"""A server link's outbox: operations sent in the order they were made, in batches.

Operations (create an agent, call it, observe, delete, release results) are
queued here and sent in batches, one ``Submit`` in flight at a time, so the
server applies them in that order (calls to one agent reach its mailbox in
the order they were made) and a fan-out of thousands of calls costs a few
round trips. A call whose input is a placeholder that cannot be encoded yet
waits, with the calls after it to the same agent (other agents' calls go
on). A batch the server cannot take yet (its result store is full) is sent
again shortly: back pressure, never loss.

A placeholder made on another server is encoded as a reference to its task
once its server acknowledged it, or at once by its call's key when both
servers can find calls by key ("call_key_refs") and the producer is *eager*:
it goes out without waiting for anything slower than acknowledgements (no
relayed value, no call before it to its agent that waits for one). A chain
through agents of several servers then goes in a few round trips, not one
per step; the consuming server waits for the key's call at most
``Timeouts.reconnect`` seconds.

The outbox tells each call what happens to it (``sending``, ``requeued``,
``acknowledged``, ``fail``; ``give_key`` and ``eager`` when it is queued) and
never writes its other fields.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .._core._config import Limits
from .._core._errors import AgentnbError, ProtocolError, RemoteError, ServerUnavailableError
from .._proto import agentnb_pb2 as pb
from . import _wire as wire
from ._calls import PENDING, Call, as_message, upstream_error
from ._client import status_error
from ._codec import fill_msg, fill_ref, input_label
from ._loop import LoopThread

log = logging.getLogger("agentnb")

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


class Sender(Protocol):
    """What the outbox needs of its link (``ServerLink`` implements it)."""

    address: str
    limits: Limits
    loop: LoopThread
    closing: bool

    async def submit(self, ops: list[bytes], what: str) -> pb.SubmitResponse:
        """Send a batch of serialized operations."""

    def route(self, producer: Call) -> str | None:
        """How this link's server reaches ``producer``'s (see ``route_address``)."""

    @property
    def keyed_refs(self) -> bool:
        """The server finds calls by key (``TaskRef.call_key``, feature "call_key_refs")."""

    def watch(self, call: Call) -> None:
        """Deliver an acknowledged call's outcome when it is ready (on the loop)."""

    def acknowledged(self, server_id: str) -> None:
        """The server answered a batch as ``server_id``."""

    def gone_error(self) -> AgentnbError | None:
        """Why nothing can be sent any more (the link closed, its server exited), or None."""

    def explain(self, error: AgentnbError, agent: str = "") -> AgentnbError: ...

    async def explain_async(self, error: AgentnbError) -> AgentnbError: ...


class Outbox:
    def __init__(self, link: Sender, made: Callable[[Call], None]) -> None:
        self._link = link
        self._made = made  # the session notes each call (a notebook asks for a cell's calls)
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
        self._slow: Counter[str] = Counter()  # calls pending per agent that are not eager
        #: Why agents could not be created here (a call to one is told that, not "no agent").
        self.not_created: dict[str, AgentnbError] = {}

    # -- queueing ----------------------------------------------------------------------

    def put(self, item: Pending) -> None:
        """Queue an operation (any thread); it is sent within a few milliseconds."""
        gone = self._link.gone_error()
        if gone is not None:
            self._fail(item, gone)
            return
        call = item.call
        if call is not None:
            self._made(call)
            if self._link.keyed_refs and call.request is not None and not call.request.mesh:
                call.give_key()
        with self._lock:
            if call is not None and call.state == PENDING:
                call.eager = not self._slow[item.agent] and all(self._flows(p) for p in call.producers)
                if not call.eager:
                    self._slow[item.agent] += 1
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
        self._link.loop.call_soon(self._flush_now if urgent else self._tick)

    def steal(self, call: Call) -> bool:
        """Take ``call`` out to be sent from its reading thread, if order allows (nothing
        before it for its agent, its inputs ready)."""
        with self._lock:
            if call.state != PENDING or self._count[call.agent] != 1:
                return False
            if any(not self._producer_ready(p, by_key=False) for p in call.producers):
                return False  # (not by key: a reader blocked in its send would miss a producer failing here)
            for item in self._pending:
                if item.call is call:
                    break
            else:
                return False
            if not call.stolen():
                return False
            self._pending.remove(item)
            self._count[call.agent] -= 1
            self._left(item)
            return True

    def withdraw(self, wanted: Callable[[Pending], bool]) -> list[Call]:
        """Take the calls ``wanted`` out before they are sent; returns them (to be failed)."""
        with self._lock:
            taken = [item for item in self._pending if item.call is not None and wanted(item)]
            for item in taken:
                self._pending.remove(item)
                self._count[item.agent] -= 1
                self._left(item)
        return [item.call for item in taken if item.call is not None]

    def fail_all(self, error: AgentnbError) -> None:
        """Nothing more can be sent: fail what waits."""
        with self._lock:
            pending, self._pending = list(self._pending), deque()
            self._slow.clear()
        for item in pending:
            self._fail(item, error)

    # -- the tick --------------------------------------------------------------------------

    def _tick(self) -> None:
        """While this outbox is in use, send what waits every ``TICK`` seconds (on the loop).

        A call read at once is taken by its reader long before (see ``steal``), so a
        loop of calls costs the loop one wake-up per tick, not one per call (results
        released meanwhile ride along); the tick stops after ``LINGER`` seconds
        without a new operation.
        """
        now = time.monotonic()
        if self._dropped:
            self._take_dropped()
        with self._lock:
            due = self._fresh or self._releases_due()  # (a call waiting on a producer goes at its ack)
            stop = not due and now - self._active > LINGER
            start = due and not self._scheduled
            if stop:
                self._ticking = False
                if self._releases and not self._release_timer:  # they go once due, on their own
                    self._release_timer = True
                    later = max(TICK, RELEASE_AFTER - (now - self._released_at))
                    asyncio.get_running_loop().call_later(later, self._releases_timed_out)
            elif start:
                self._scheduled = True
        if stop:
            if self._dropped and not self._noting:  # released as the tick stopped (see release())
                self._noting = True
                self._link.loop.call_soon(self._note_releases)
            return
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
        self._link.loop.call_soon(self._flush_now)

    def _kick(self) -> None:
        """A producer this outbox waited for was acknowledged: try again (any thread)."""
        self._link.loop.call_soon(self._kick_on_loop)

    def _kick_on_loop(self) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        asyncio.ensure_future(self._flush())

    # -- batches -----------------------------------------------------------------------------

    def _producer_ready(self, producer: Call, batch: set[int] | None = None, by_key: bool = True) -> bool:
        """Whether a call taking ``producer``'s reply can be encoded: as a reference once
        the producer has its task id, or if it goes earlier in the same batch to the same
        server (``batch``: ids of those calls); as a relayed value once that value is here."""
        if producer.resolved:
            return True  # its value or its error: encoding knows what to do
        route = self._link.route(producer)
        if route is not None:
            if producer.acked or (batch is not None and route == "" and id(producer) in batch):
                return True
            ok = by_key and bool(route) and self._by_key(producer)
            return ok and (producer.eager or producer.state != PENDING)
        if producer.withheld:  # done, but its value stayed on its server: fetch it to relay it
            producer.link.fetch_soon(producer)
        return False

    def _by_key(self, producer: Call) -> bool:
        """Whether a consumer here can name ``producer`` (on another server) by its key."""
        link = producer.link
        return bool(producer.key) and self._link.keyed_refs and getattr(link, "keyed_refs", False)

    def _flows(self, producer: Call) -> bool:
        """Whether a call taking ``producer``'s reply waits for nothing slower than
        acknowledgements of eager calls (call with the lock)."""
        if producer.resolved or producer.acked:
            return True
        if self._link.route(producer) is None:
            return False  # its value is relayed: it waits for the producer to finish
        return producer.eager or producer.state != PENDING

    def _left(self, item: Pending) -> None:
        """An operation left the queue (sent, taken out): it no longer slows its agent (with the lock)."""
        call = item.call
        if call is not None and not call.eager and self._slow[item.agent] > 0:
            self._slow[item.agent] -= 1
            if not self._slow[item.agent]:
                del self._slow[item.agent]

    def _ready(self, producer: Call, batch: set[int]) -> bool:
        """``_producer_ready``, cheaply for the producers this outbox already waits for."""
        key = id(producer)
        if key in batch:
            return True  # earlier in this batch, to this server (only this outbox's calls are in it)
        if key in self._waiting_on:
            return False  # told when that changes
        return self._producer_ready(producer, batch)

    def _wait_for(self, producer: Call) -> None:
        """Send again once ``producer`` can be encoded (asked once per producer)."""
        key = id(producer)
        if key in self._waiting_on:
            return
        self._waiting_on.add(key)

        def kick() -> None:
            self._waiting_on.discard(key)
            self._kick()

        if self._link.route(producer) is not None:
            producer.when_acked(kick)  # (also when it fails: it never will be acknowledged then)
        else:
            producer.when_resolved(kick)
            producer.when_done(kick)  # a withheld value: fetched when the outbox looks again

    def _take(self) -> list[Pending]:
        """The operations that can go now, in order; the others stay (call with the lock)."""
        batch: list[Pending] = []
        keep: deque[Pending] = deque()
        blocked: set[str] = set()
        calls: set[int] = set()  # ids of the calls in this batch
        limits = self._link.limits
        budget = limits.max_message_bytes // 2
        for item in self._pending:
            if item.agent in blocked or budget <= 0 or len(batch) >= limits.ops_per_batch - 1:
                keep.append(item)
                continue
            call = item.call
            if call is not None and call.state == PENDING:
                waiting = [p for p in call.producers if not self._ready(p, calls)]
                if waiting:
                    blocked.add(item.agent)
                    keep.append(item)
                    for producer in waiting:
                        self._wait_for(producer)
                    continue
                budget -= call.size
                calls.add(id(call))
            batch.append(item)
            self._left(item)
        self._pending = keep
        return batch

    async def _flush(self) -> None:
        try:
            await self._flush_all()
        except BaseException as exc:  # a bug here must not leave the outbox stuck
            with self._lock:
                self._scheduled = False
            if not isinstance(exc, asyncio.CancelledError):
                log.exception("agentnb: sending to %s failed", self._link.address)
            raise

    async def _flush_all(self) -> None:
        while True:
            with self._lock:
                self._fresh = False
                batch = self._take()
                releases: list[str] = []
                if batch or self._releases_due():  # releases never cost a round trip of their own
                    releases, self._releases = self._releases, []
                if not batch and not releases:
                    self._scheduled = False
                    return
            ops, sent = [], []
            positions: dict[int, int] = {}  # id of a call in this batch -> its operation's number
            for item in batch:
                try:
                    ops.append(self._encode(item, positions))
                    sent.append(item)
                except AgentnbError as exc:
                    self._fail(item, exc)
                    continue
                if item.call is not None:
                    positions[id(item.call)] = len(ops)
            if releases:
                ops.append(pb.Op(release=pb.ReleaseRequest(task_ids=releases)).SerializeToString())
            try:
                refused = await self._send(ops, sent) if ops else []
            except Exception as exc:  # noqa: BLE001 - a bug: fail the batch, keep the outbox going
                log.exception("agentnb: sending to %s failed", self._link.address)
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
                        if item.call is not None and not item.call.eager:
                            self._slow[item.agent] += 1
            if refused:
                await asyncio.sleep(RETRY_FULL)

    async def _send(self, ops: list[bytes], sent: list[Pending]) -> list[Pending]:
        """Submit a batch and apply its results; returns what the server had no room for."""
        link = self._link
        if link.closing:  # the session closed this link: nothing more goes out
            closed = ServerUnavailableError(f"the session closed its link to {link.address}")
            for item in sent:
                self._fail(item, closed)
            return []
        what = f"sending {len(ops)} operation(s)" if len(ops) > 1 else "sending an operation"
        try:
            response = await link.submit(ops, what)
        except AgentnbError as exc:
            error = await link.explain_async(exc)
            for item in sent:
                self._fail(item, error)
            return []
        link.acknowledged(response.server_id)
        refused = []
        not_created = self.not_created  # a call after a failed create fails with its error
        for item, result in zip(sent, response.results[: len(sent)], strict=True):
            if result.status.reason == "full":
                if item.call is not None:
                    item.call.requeued()
                refused.append(item)
                continue
            failed = result.status.code != 0
            if failed and item.op is not None and item.op.WhichOneof("op") == "create":
                error = status_error(result.status, link.address, _what(item))
                told = item.failed(error) if item.failed is not None else None
                not_created[item.agent] = told or error
                while len(not_created) > 1000:
                    not_created.pop(next(iter(not_created)))
                continue
            if failed and item.call is not None and item.agent in not_created:
                self._fail(item, not_created[item.agent])
                continue
            if failed and item.call is not None and result.status.reason == "upstream":
                broken = next((p for p in item.call.producers if p.error is not None), None)
                if broken is not None:  # its producer, earlier in the batch, failed: say that
                    assert broken.error is not None
                    self._fail(item, upstream_error(broken, broken.error))
                    continue
            self._apply(item, result, response.server_id)
        return refused

    def _encode(self, item: Pending, positions: dict[int, int]) -> bytes:
        """One operation of a batch, serialized (a call's big inputs are never copied)."""
        if item.call is None:
            assert item.op is not None
            return item.op.SerializeToString()
        request = self.encode_call(item.call, positions)
        if item.observe:
            observe = pb.ObserveRequest(agent=request.agent)
            observe.inputs.extend(request.inputs)
            return wire.field(3, observe.SerializeToString())  # Op.observe
        return wire.field(2, request.SerializeToString())  # Op.call

    def encode_call(self, call: Call, positions: dict[int, int] | None = None) -> pb.CallRequest:
        """The call's request, its placeholder inputs filled: references (to a task, or to
        an earlier operation of the same batch: ``positions``), or relayed values."""
        link = self._link

        def fill(i: int, producer: Call) -> None:
            request = call.request
            assert request is not None
            inputs = request.inputs
            route = link.route(producer)
            error = producer.error
            if error is not None and producer.cut_off:  # its server would wait for its input in vain
                raise upstream_error(producer, error)
            if route is not None and producer.acked:
                fill_ref(inputs[i], route, producer.task_id, producer.agent, producer.server_id)
            elif error is not None:
                raise upstream_error(producer, error)
            elif route == "" and positions is not None and id(producer) in positions:
                fill_ref(inputs[i], "", "", producer.agent, "", batch_op=positions[id(producer)])
            elif route and self._by_key(producer):  # not acknowledged yet: by its key
                fill_ref(inputs[i], route, "", producer.agent, producer.server_id, call_key=producer.key)
            else:  # a loopback-only producer, seen from another host: relay its value
                msg = as_message(producer.value, producer.agent)
                where = input_label(i, len(inputs), call.agent)
                fill_msg(inputs[i].message, msg, link.limits.max_message_bytes, where)

        return call.sending(fill)

    def _apply(self, item: Pending, result: pb.OpResult, server_id: str) -> None:
        if result.HasField("status") and result.status.code:
            self._fail(item, status_error(result.status, self._link.address, _what(item)))
            return
        if item.call is not None:
            if not item.call.acked:
                item.call.acknowledged(result.task_id, server_id)
            self._link.watch(item.call)
        elif item.done is not None:
            item.done(result, server_id)

    def _fail(self, item: Pending, error: AgentnbError) -> None:
        if item.call is not None:
            item.call.fail(self._link.explain(for_agent(error, item.call.agent), item.call.agent))
        elif item.failed is not None:
            item.failed(error)
        else:
            log.warning("agentnb: %s", error)

    # -- releases ----------------------------------------------------------------------------

    def release(self, task_id: str) -> None:
        """Tell the server nobody here will read this result again.

        Releases ride along with the next batch, or go on their own once
        ``RELEASE_AFTER`` seconds passed (the tick sends them) or
        ``RELEASE_BATCH`` piled up: never an extra round trip per call.

        Takes no lock: it runs when a placeholder is collected, which the garbage
        collector may do in any thread at any point, even inside this outbox's lock.
        """
        self._dropped.append(task_id)  # a deque: appending is atomic
        if not self._noting and not self._ticking:  # a running tick takes it (no wake-up per call)
            self._noting = True
            self._link.loop.call_soon(self._note_releases)

    def release_now(self, task_id: str) -> None:
        """Release a big result at once (its server reuses the memory for the next big reply
        instead of faulting fresh pages in); any thread, no lock, like ``release``."""
        self._dropped.append(task_id)
        self._link.loop.call_soon(self._release_now)

    def _release_now(self) -> None:
        self._take_dropped()
        with self._lock:
            if not self._releases or self._scheduled:
                return
            self._released_at = 0.0  # due: they go on their own
            self._scheduled = True
        self._flush_now()

    def _take_dropped(self) -> None:
        """Move dropped task ids to the releases the next batch carries (on the loop)."""
        dropped = self._dropped
        with self._lock:
            if not self._releases and dropped:
                self._released_at = time.monotonic()
            while dropped:
                self._releases.append(dropped.popleft())

    def _note_releases(self) -> None:
        """Take the dropped task ids, and see that they go (on the loop)."""
        self._noting = False  # before draining: an id appended after the drain schedules again
        self._take_dropped()
        with self._lock:
            if len(self._releases) >= RELEASE_BATCH and not self._scheduled:
                self._scheduled, wake = True, self._flush_now
            elif self._ticking or self._scheduled or not self._releases:
                return
            else:
                self._ticking, wake = True, self._tick
        wake()


def for_agent(error: AgentnbError, agent: str) -> AgentnbError:
    """The error, saying which agent's call it ended (unless it says so already)."""
    if isinstance(error, RemoteError) or f"{agent!r}" in str(error):
        return error
    return type(error)(f"agent {agent!r}: {error}")


def _what(item: Pending) -> str:
    if item.call is not None:
        return f"calling agent {item.call.agent!r}"
    kind = item.op.WhichOneof("op") if item.op is not None else "op"
    return f"{kind} of agent {item.agent!r}" if item.agent else kind or "an operation"
