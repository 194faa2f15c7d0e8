"""One call's life in the driver, owned here from the moment it is made until its outcome is known.

Only :class:`Call` changes a call's fields. Its link (:class:`CallLink`, a
narrow port the server link implements) moves it and tells it what happened:
the outbox (:mod:`._outbox`) sends calls to one agent in the order they were
made, many per round trip, and says ``sending`` / ``requeued``; the server
answers with the call's task id (``acknowledged``); later its outcome arrives
on the link's result stream (:mod:`._results`, ``settle``): what the reply
printed is shown first, then the result is handed to whoever waits.

A call read right after it was made, before the outbox sent it, is sent by
the reading thread itself with its reply in the same round trip
(:meth:`Call.result`): the common ``agent(x).content`` costs one round trip
and no thread hop.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

from .._core._config import Timeouts
from .._core._errors import (
    AgentnbError,
    CallCancelledError,
    CallInterrupted,
    CallTimeoutError,
    RemoteError,
    ServerUnavailableError,
)
from .._core._message import Msg
from .._proto import agentnb_pb2 as pb
from . import _console, _stream
from ._codec import Returned, decode_result, driver_error
from ._memory import BIG
from ._output import PRODUCERS_FIRST_S, WhenDone, when_all

# The states of a call, in order (any may jump to "error").
PENDING = "pending"  # made, waiting in the outbox
SENDING = "sending"  # in a batch on its way, or being sent by a reader
QUEUED = "queued"  # the server has it (acknowledged with a task id)
RUNNING = "running"  # known from the event feed only
DONE = "done"
ERROR = "error"
CANCELLED = "cancelled"  # withdrawn before it started (an error, named for what it is)


class CallLink(Protocol):
    """What a call asks of its server's link (``ServerLink`` implements it)."""

    address: str
    timeouts: Timeouts

    def steal(self, call: Call) -> bool:
        """Take the call out of the outbox to send it from the calling thread, if order allows."""

    def cancel(self, call: Call) -> bool:
        """Withdraw the call if it has not started (from the outbox, or the agent's mailbox)."""

    def send_now(self, call: Call, wait: float) -> pb.CallResponse:
        """Send a stolen call from this thread, with its outcome if ready within ``wait`` s.
        On CallTimeoutError or KeyboardInterrupt it is back in the outbox (same key)."""

    def fetch_now(self, call: Call, timeout: float | None) -> pb.Outcome:
        """Read a withheld reply from this thread (CallTimeoutError if not ready)."""

    def fetch_soon(self, call: Call) -> None:
        """Read a withheld reply on the loop, then ``take`` it (or ``fail``)."""

    def flush_soon(self) -> None:
        """Send what waits in the outbox now (someone waits for it)."""

    def watch(self, call: Call) -> None:
        """Deliver the outcome of an acknowledged call when it is ready."""

    def release(self, task_id: str, big: bool = False) -> None:
        """Nobody here reads this task's result again (``big``: a big one, released at once)."""

    def explain(self, error: AgentnbError, agent: str = "") -> AgentnbError:
        """The error, with what is known about why (how a launched server exited, ...)."""

    def show_output(self, task_id: str, agent: str, outcome: pb.Outcome) -> None:
        """Show what the reply printed (once, in order, where the call was made)."""

    def remember_origin(self, task_id: str, origin: Any) -> None:
        """Route the task's live output to where the call was made."""

    def remember_key(self, key: str, task_id: str) -> None:
        """The call named by ``key`` has this task id (events that name it by key are told)."""

    def output_after(self, task_id: str, producers: Sequence[WhenDone]) -> None:
        """Show the task's live output only after its producers finished (and showed theirs)."""

    def feed_state(self, task_id: str) -> str | None:
        """The task's last state seen on the event feed ("running", ...), if any."""

    def later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop after ``delay`` seconds (from any thread)."""


#: Calls share these locks (a lock is an object the garbage collector tracks, and
#: a simulation holds 100,000 calls). A call holds its lock only to read or set
#: its own fields: never while it calls out, never two at once.
_LOCKS = tuple(threading.Lock() for _ in range(256))


class Call:
    """One call of a distributed agent.

    Attributes:
        link: the server link of the agent.
        agent: the agent's name.
        request: the call without its placeholder inputs (those are encoded when it is sent).
        slots: the inputs that are placeholders: (index in the request, producing call),
            filled in when the call is sent (None once they are).
        producers: the calls whose replies this one takes as input.
        size: about how many bytes its messages take.
        resolved: its result is here (``value``: a Msg, or a ``Returned`` value of a
            method call) or its error (``error``). A withheld reply is ``finished``
            but not resolved until it is fetched.
        task_id: issued by the server ("" until acknowledged).
        key: the call's key (``CallRequest.call_key``), chosen here: a resend with the same key
            is not queued twice, and a consumer on another server may name this call's task by
            it before the task id is known (``TaskRef.call_key``). As unguessable as a task id.
        eager: its outbox sends it without waiting for anything but acknowledgements of calls
            that are themselves eager (set by the outbox when the call is queued): a consumer
            may name it by key before it reaches its server, since it will soon.
    """

    __slots__ = (
        "link", "agent", "request", "slots", "producers", "size", "task_id", "server_id", "state",
        "origin", "key", "consumers", "released", "withheld", "acked", "finished", "resolved", "value",
        "error", "big", "eager", "cut_off", "_on_ack", "_on_done", "_on_resolved", "_lock", "__weakref__",
    )  # fmt: skip
    # Few objects per call, on purpose: a simulation holds 100,000 calls, and every
    # object the garbage collector tracks makes each of its full passes longer (a
    # concurrent.futures.Future alone is eight). Callback lists are made when needed.

    def __init__(
        self,
        link: CallLink,
        agent: str,
        request: pb.CallRequest,
        slots: list[tuple[int, Call]],
        origin: Any,
        size: int = 0,
    ) -> None:
        self.link = link
        self.agent = agent
        self.request: pb.CallRequest | None = request
        self.slots: list[tuple[int, Call]] | None = slots or None
        self.producers: tuple[Call, ...] = tuple(producer for _, producer in slots) if slots else ()
        self.size = size
        for producer in self.producers:
            producer.add_consumer()
        self.task_id = ""
        self.server_id = ""
        self.state = PENDING
        self.origin = origin
        self.key = ""  # set when it is queued for a server that can find calls by key, or read at once
        self.eager = False
        self.cut_off = False  # failed here because an input never reached its server
        self.consumers = 0  # calls that take this one's reply as input and have not settled
        self.released = False
        self.big = False  # its reply was big: released at once when nobody reads it again
        self.withheld = False  # done, but its (big) reply was left on the server until read
        self.acked = False  # the server has it under task_id (or it failed before)
        self.finished = False  # done or failed (a withheld reply may still be to fetch)
        self.resolved = False  # value or error is set
        self.value: Any = None
        self.error: BaseException | None = None
        self._on_ack: list[Callable[[], None]] | None = None
        self._on_done: list[Callable[[], None]] | None = None
        self._on_resolved: list[Callable[[], None]] | None = None
        self._lock = _LOCKS[id(self) >> 4 & (len(_LOCKS) - 1)]
        for producer in self.producers:  # an input whose server is lost fails this call at once
            producer.when_resolved(partial(_input_lost, self, producer))

    # -- what the outbox tells it ------------------------------------------------------

    def sending(self, fill: Callable[[int, Call], None]) -> pb.CallRequest:
        """It is being sent: its request, each placeholder input filled by ``fill(index,
        producer)`` (a reference, or the relayed value; raises what makes it unsendable)."""
        with self._lock:
            self.state = SENDING
            request, slots = self.request, self.slots
        assert request is not None, "an answered call is never sent again"
        for i, producer in slots or ():
            fill(i, producer)
        return request

    def give_key(self) -> str:
        """Name the call by a key of its own (before it is sent; once)."""
        with self._lock:
            if not self.key and self.request is not None and self.state == PENDING:
                self.key = self.request.call_key = new_key()
                self.request.key_names_task = True
                fresh = True
            else:
                fresh = False
        if fresh:  # its first events (a reply streaming) may come before its task id: they say its key
            self.link.remember_origin(self.key, self.origin)
        return self.key

    def requeued(self) -> None:
        """It is back in the outbox, to be sent again (the server had no room, or its reader stopped)."""
        with self._lock:
            if self.state == SENDING:
                self.state = PENDING

    def stolen(self) -> bool:
        """Its reader takes it out of the outbox to send it itself (once, while pending)."""
        with self._lock:
            if self.state != PENDING:
                return False
            self.state = SENDING
            return True

    # -- acknowledgement ------------------------------------------------------------

    def acknowledged(self, task_id: str, server_id: str) -> None:
        """The server has the call under ``task_id`` (any thread)."""
        with self._lock:
            self.task_id, self.server_id = task_id, server_id
            if self.state in (PENDING, SENDING):
                self.state = QUEUED
            callbacks, self._on_ack = self._on_ack, None
            self.acked = True
            self.slots = None  # its inputs are references (or values) on the server now
        self.link.remember_origin(self.task_id, self.origin)
        if self.key:
            self.link.remember_key(self.key, task_id)
        waiting = [p.when_done for p in self.producers if not p.finished]
        if waiting:  # its live prints wait for its producers' (feeds of two servers race)
            self.link.output_after(self.task_id, waiting)
        for callback in callbacks or ():
            callback()

    def when_acked(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the call has its task id (or failed); at once if it has."""
        with self._lock:
            if not self.acked and not self.finished:
                self._on_ack = [*(self._on_ack or ()), callback]
                return
        callback()

    def when_done(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the call is done or failed; at once if it is."""
        with self._lock:
            if not self.finished:
                self._on_done = [*(self._on_done or ()), callback]
                return
        callback()

    def when_resolved(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the call's value or error is here; at once if it is."""
        with self._lock:
            if not self.resolved:
                self._on_resolved = [*(self._on_resolved or ()), callback]
                return
        callback()

    def acked_or_wait(self, timeout: float) -> bool:
        """Wait (bounded) until the server acknowledged the call; False if it did not."""
        event = threading.Event()
        self.when_acked(event.set)
        return event.wait(timeout) and self.acked

    # -- outcome ----------------------------------------------------------------------

    def settle(self, outcome: pb.Outcome) -> None:
        """The outcome arrived: show its output, then hand over its result.

        What the calls it took input from printed is shown first (they ran
        first): if their outcomes are still on their way, this one waits for
        them, at most ``PRODUCERS_FIRST_S``. A withheld outcome (a big reply
        left on the server) only says the call is done; the reply is fetched
        when someone reads it.
        """
        if _stream.hold(self, outcome):  # its pieces are being read here: they come first
            return
        waiting = [p.when_done for p in self.producers if not p.finished]
        if not waiting:
            self._settle_now(outcome)
            return
        when_all(waiting, lambda: self._settle_now(outcome), self.link.later, PRODUCERS_FIRST_S)

    def _settle_now(self, outcome: pb.Outcome) -> None:
        self.link.show_output(self.task_id, self.agent, outcome)
        if outcome.withheld and not outcome.HasField("reply"):
            with self._lock:
                if self.finished:
                    return
                self.state, self.withheld = DONE, True
            self._after_finish()
            return
        self.take(outcome)

    def take(self, outcome: pb.Outcome) -> None:
        """Hand over an outcome's result (its output was shown already)."""
        self.big = outcome.ByteSize() >= BIG
        try:
            result: Any = decode_result(outcome, f"the reply of agent {self.agent!r}")
        except AgentnbError as exc:
            result = exc
        if isinstance(result, RemoteError):
            self.fail(driver_error(result))
        else:
            self._finish(DONE, result)

    def fail(self, error: BaseException) -> None:
        self._finish(ERROR, error)

    def _finish(self, state: str, value: Any) -> None:
        with self._lock:
            if self.resolved:
                return
            first = not self.finished  # a withheld reply that was fetched finished before
            self.state = state
            if isinstance(value, BaseException):
                self.error = value
            else:
                self.value = value
            self.resolved = True
            resolved, self._on_resolved = self._on_resolved, None
        for callback in resolved or ():
            callback()
        if first:
            self._after_finish()

    def _after_finish(self) -> None:
        with self._lock:
            self.finished = True
            callbacks = [*(self._on_ack or ()), *(self._on_done or ())]
            self._on_ack = self._on_done = None
        for callback in callbacks:  # dependants waiting for an ack learn that none will come
            callback()
        for producer in self.producers:
            producer.consumer_done()
        self.producers = ()  # a long chain of calls does not keep every earlier one alive
        if self.state == DONE:
            self.request = None  # sent and answered: its inputs are not needed again
        if self.released and self.consumers <= 0:
            self.link.release(self.task_id, self.big)

    def add_consumer(self) -> None:
        with self._lock:
            self.consumers += 1

    def consumer_done(self) -> None:
        with self._lock:
            self.consumers -= 1
            ready = self.consumers == 0 and self.released and self.finished
        if ready:
            self.link.release(self.task_id, self.big)

    def drop(self) -> None:
        """Nobody in this process can read the result any more (its placeholder is gone)."""
        self.released = True
        if self.finished and self.consumers <= 0:
            self.link.release(self.task_id, self.big)

    # -- waiting ------------------------------------------------------------------------

    def result(self, timeout: float | None = None) -> Any:
        """The result (a Msg, or a method's value); raises its error, or CallTimeoutError.

        Interrupted (Ctrl-C, the notebook's stop button), it raises
        :class:`CallInterrupted`: a short message saying the call goes on and
        how to withdraw it.
        """
        try:
            return self._result(timeout)
        except KeyboardInterrupt:
            raise CallInterrupted(
                f"stopped waiting for agent {self.agent!r} on {self.link.address}; the call goes on "
                f"there ({self.state_now()}). To withdraw it if it has not started: placeholder.cancel(); "
                f"every queued call of the agent: agent.cancel()"
            ) from None

    def cancel(self) -> bool:
        """Withdraw the call if it has not started; True if it was withdrawn."""
        return self.link.cancel(self)

    def state_now(self) -> str:
        """ "sending", "queued", "running", "streaming", "done", "error" or "cancelled", from what
        is known here (never blocks)."""
        if self.resolved:
            if isinstance(self.error, CallCancelledError):
                return CANCELLED
            return ERROR if self.error is not None else DONE
        if self.state in (PENDING, SENDING):
            return "sending"
        return self.link.feed_state(self.task_id) or QUEUED

    def _result(self, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if not self.finished and self.link.steal(self):
            self._send_here(timeout)
        if not self.finished:
            _console.wait(self.when_done, remaining())  # a notebook cell answers remote prompts meanwhile
        if self.finished:
            if self.withheld and not self.resolved:
                self._fetch_here(remaining())
            if not self.resolved:
                _console.wait(self.when_resolved, remaining())
            if self.resolved:
                return self.outcome()
        raise CallTimeoutError(
            f"agent {self.agent!r} on {self.link.address}: no reply within {timeout} s; the call "
            "goes on (read the placeholder again to keep waiting)"
        )

    def _send_here(self, timeout: float | None) -> None:
        """Send the call from this thread and wait for its outcome in the same round trip."""
        if not self.key:
            with self._lock:
                assert self.request is not None  # not sent yet, so not answered
                self.key = self.request.call_key = new_key()
                self.request.key_names_task = True
        self.link.remember_origin(self.key, self.origin)  # its task id comes last: its key names it till then
        chunk = self.link.timeouts.fetch_chunk
        wait = chunk if timeout is None else max(0.001, min(timeout, chunk))
        try:
            response = self.link.send_now(self, wait)
        except CallTimeoutError:
            return  # still running past our deadline: the outbox has it again, and watches it
        except AgentnbError as exc:
            self.fail(self.link.explain(exc, self.agent))
            return
        if not self.acked:
            self.acknowledged(response.task_id, response.server_id)
        if response.HasField("outcome"):
            self.settle(response.outcome)
        else:
            self.link.watch(self)

    def _fetch_here(self, timeout: float | None) -> None:
        """Read a withheld reply from the server, in this thread."""
        try:
            outcome = self.link.fetch_now(self, timeout)
        except CallTimeoutError:
            return
        except AgentnbError as exc:
            self.fail(self.link.explain(exc))
            return
        self.take(outcome)

    def outcome(self) -> Any:
        """The resolved result (a method's value unwrapped), or raise its error."""
        if self.error is not None:
            raise self.error
        value = self.value
        return value.value if isinstance(value, Returned) else value

    async def wait_async(self) -> Any:
        """Await the result from any event loop (never blocks it)."""
        if self.withheld and not self.resolved:
            self.link.fetch_soon(self)
        else:
            self.link.flush_soon()
        if not self.resolved:
            loop = asyncio.get_running_loop()
            arrived = loop.create_future()

            def wake() -> None:
                loop.call_soon_threadsafe(_set, arrived)

            self.when_resolved(wake)
            await arrived
        return self.outcome()

    def done(self) -> bool:
        return self.finished


def new_key() -> str:
    """A call key: 32 hex digits of 128 bits from the system's random source (a key names a
    task as its id does, so it must be as hard to guess)."""
    return secrets.token_hex(16)


def _input_lost(consumer: Call, producer: Call) -> None:
    """A producer whose server is gone fails its consumers here at once: the consumer's own
    server could only find that out by waiting for the lost server (forwarded placeholders).
    So does a producer that failed before it reached its server, for a consumer sent already
    (naming it by key), and so on down the chain: that server would wait for a call that
    never comes (at most ``Timeouts.reconnect``)."""
    error = producer.error
    if error is None or producer.withheld or consumer.finished:
        return
    if isinstance(error, ServerUnavailableError):
        lost = f"agent {consumer.agent!r} cannot get its input from agent {producer.agent!r}: {error}"
        consumer.fail(ServerUnavailableError(lost))
    elif (not producer.task_id or producer.cut_off) and consumer.state != PENDING:
        consumer.cut_off = True  # (first: its own consumers, sent too, learn of it from here)
        consumer.fail(upstream_error(producer, error))


def upstream_error(producer: Call, error: BaseException) -> AgentnbError:
    """What a consumer fails with when its producer failed before it could be sent (or named)."""
    if isinstance(error, RemoteError):
        return error
    return RemoteError(producer.agent, producer.link.address, type(error).__name__, str(error), "")


def _set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def as_message(value: Any, agent: str) -> Msg:
    """A result passed on as an input: method values travel as a message from the agent."""
    if isinstance(value, Returned):
        return Msg(agent, value.value)
    return value
