"""Reading a streaming reply's pieces as they come: ``for chunk in p.stream()``, ``async for chunk in p``.

A :class:`PieceFeed` reads one task's pieces with the server's
``StreamResult`` on a loop thread (the driver's, which owns every channel;
or a server's resolver loop, for an agent that reads a forwarded stream),
from the first piece on, and keeps them for any number of readers: the
cell's live display, ``p.stream()`` (from any thread), ``async for`` (on
any event loop, never blocking it). A stream that drops (a lost
connection, the server's longest wait) is opened again from the next
piece; a server unreachable for ``Timeouts.reconnect`` ends it with an
error. The last response holds the call's outcome, which also settles the
call, so ``p.content`` is there the moment the pieces end.

A reply that does not stream has no pieces: its stream ends at once with
its outcome.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

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
from . import _console
from ._codec import decode_msg, decode_result, driver_error

if TYPE_CHECKING:
    from ._client import ServerClient
    from ._loop import LoopThread

#: A call of the driver (``_calls.Call``; not imported: the calls import this module).
Call = Any

Piece = str | Msg
#: Registers a callback run once, at the next change (a piece, or the end); at once if it came.
Register = Callable[[Callable[[], None]], None]
#: Waits (bounded) until a registered callback runs: ``wait(register, timeout) -> bool``.
Wait = Callable[[Register, "float | None"], bool]
#: Feeds of tasks read by task id (the cell's display), remembered at most.
_REMEMBERED = 1000
#: A call whose pieces are being read here resolves after its last piece, waiting at most this long.
HOLD_S = 2.0


class PieceFeed:
    """The pieces of one task's reply, as they arrive here, for any number of readers."""

    def __init__(self, agent: str, address: str) -> None:
        self.agent = agent
        self.address = address
        self.items: list[Piece] = []
        self.outcome: pb.Outcome | None = None
        self.error: BaseException | None = None  # reading the pieces failed
        self.ended = False
        self.user = False  # a program reads it (the cell's display then stays out of the way)
        self._lock = threading.Lock()
        self._once: list[Callable[[], Any]] = []
        self._watchers: list[Callable[[], None]] = []
        self._ended: list[Callable[[], None]] = []
        self.started = False

    # -- reading from the server (on a loop) -------------------------------------------

    def start(
        self,
        loop: LoopThread,
        client: Callable[[], ServerClient],
        task_id: str,
        reconnect: float,
        on_outcome: Callable[[pb.Outcome], None] | None = None,
        call_key: str = "",
    ) -> None:
        """Read the task's pieces on ``loop`` (once; from any thread); with no ``task_id``,
        of the task the call with ``call_key`` makes there."""
        with self._lock:
            if self.started:
                return
            self.started = True
        key = (self.address, task_id or call_key)
        _reading[key] = self
        self._ended.append(lambda: _forget(key, self))
        read = self._read(client, task_id, reconnect, on_outcome, call_key)
        loop.call_soon(lambda: asyncio.ensure_future(read))

    async def _read(
        self,
        client: Callable[[], ServerClient],
        task_id: str,
        reconnect: float,
        on_outcome: Callable[[pb.Outcome], None] | None,
        call_key: str = "",
    ) -> None:
        backoff, down_since = 0.1, 0.0
        while True:
            try:
                async for response in client().stream_result(task_id, len(self.items), self.agent, call_key):
                    down_since = 0.0
                    if response.pieces:
                        self._add([_decode(p, self.agent) for p in response.pieces])
                    if response.HasField("outcome"):
                        self._end(response.outcome, None)
                        if on_outcome is not None:
                            on_outcome(response.outcome)
                        return
                raise ServerUnavailableError(f"the agent server at {self.address} ended the stream")
            except CallTimeoutError:
                continue  # the server's longest wait passed: ask again from the next piece
            except ServerUnavailableError as exc:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > reconnect:
                    self._end(None, exc)
                    return
            except AgentnbError as exc:
                self._end(None, exc)
                return
            except Exception as exc:  # noqa: BLE001 - its channel closed (the session stopped): end, not hang
                self._end(None, ServerUnavailableError(
                    f"reading the pieces of agent {self.agent!r}: the connection to {self.address} was "
                    f"closed ({exc})"
                ))  # fmt: skip
                return
            await asyncio.sleep(backoff)
            backoff = min(1.0, backoff * 2)

    def _add(self, pieces: list[Piece]) -> None:
        with self._lock:
            self.items.extend(pieces)
            once, self._once = self._once, []
            watchers = tuple(self._watchers)
        for callback in (*once, *watchers):
            callback()

    def _end(self, outcome: pb.Outcome | None, error: BaseException | None) -> None:
        with self._lock:
            if self.ended:
                return
            self.outcome, self.error, self.ended = outcome, error, True
            once, self._once = self._once, []
            ended, self._ended = self._ended, []
            watchers = tuple(self._watchers)
        for callback in (*watchers, *once, *ended):  # readers see the end before the call settles
            callback()

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the feed ended (at once if it has)."""
        with self._lock:
            if not self.ended:
                self._ended.append(callback)
                return
        callback()

    def fail(self, error: BaseException) -> None:
        """End the feed with ``error`` (its call failed before the server had it)."""
        self._end(None, error)

    # -- readers (any thread) ---------------------------------------------------------------

    def when_changed(self, seen: int, callback: Callable[[], Any]) -> None:
        """Run ``callback`` once there are more than ``seen`` pieces, or the feed ended."""
        with self._lock:
            if len(self.items) <= seen and not self.ended:
                self._once.append(callback)
                return
        callback()

    def watch(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` at every change, on the thread that reads the pieces."""
        with self._lock:
            self._watchers.append(callback)

    def at(self, index: int) -> tuple[bool, Piece | None]:
        """``(True, piece)`` if piece ``index`` is here; ``(False, None)`` if not yet;
        raises StopIteration at the end of a stream that went well, else its error."""
        with self._lock:
            if index < len(self.items):
                return True, self.items[index]
            if not self.ended:
                return False, None
        if self.error is not None:
            raise self.error
        result = decode_result(self.outcome, f"the reply of agent {self.agent!r}") if self.outcome else None
        if isinstance(result, RemoteError):
            raise driver_error(result)  # a stopped stream: CallCancelledError, as for its call
        raise StopIteration

    def text(self) -> str:
        """The text so far: text pieces as they are, messages by their content."""
        with self._lock:
            items = list(self.items)
        return "".join(p if isinstance(p, str) else f"{p.content}\n" for p in items)

    def pieces(self, timeout: float | None, wait: Wait, agent: str) -> Generator[Piece, None, None]:
        """The pieces in order, waiting for each at most ``timeout`` seconds (None: as long as it runs)."""
        self.user = True
        index = 0
        while True:
            try:
                ready, piece = self.at(index)
            except StopIteration:
                return
            if ready:
                index += 1
                yield piece  # type: ignore[misc]
                continue
            if not wait(partial(self.when_changed, index), timeout):
                raise CallTimeoutError(
                    f"agent {agent!r} on {self.address}: no new piece within {timeout} s; the call goes "
                    "on (iterate again to keep reading)"
                )

    async def apieces(self) -> AsyncIterator[Piece]:
        """The pieces in order, awaited on the running loop (never blocks it)."""
        self.user = True
        index = 0
        while True:
            try:
                ready, piece = self.at(index)
            except StopIteration:
                return
            if ready:
                index += 1
                yield piece  # type: ignore[misc]
                continue
            loop = asyncio.get_running_loop()
            changed: asyncio.Future[None] = loop.create_future()
            self.when_changed(index, partial(loop.call_soon_threadsafe, _set, changed))
            await changed


def _decode(piece: pb.Piece, agent: str) -> Piece:
    if piece.WhichOneof("kind") == "message":
        return decode_msg(piece.message, f"a piece of the reply of agent {agent!r}")
    return piece.text


def _set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- the driver's calls ----------------------------------------------------------------------

_lock = threading.Lock()
_by_call: weakref.WeakKeyDictionary[Call, PieceFeed] = weakref.WeakKeyDictionary()
_by_task: OrderedDict[tuple[str, str], PieceFeed] = OrderedDict()
#: Feeds reading now, by (address, task id): their calls resolve after their last piece.
_reading: dict[tuple[str, str], PieceFeed] = {}


def _forget(key: tuple[str, str], feed: PieceFeed) -> None:
    if _reading.get(key) is feed:
        del _reading[key]


def hold(call: Call, outcome: pb.Outcome) -> bool:
    """Whether ``call`` settles later: its pieces are being read here (the cell's display,
    ``p.stream()``), so its result waits for its last piece (at most ``HOLD_S``); then
    ``call.settle(outcome)`` runs again. Cheap when nothing streams."""
    if not _reading:
        return False
    key = (call.link.address, call.task_id)
    feed = _reading.get(key)
    if feed is None or feed.ended:
        return False
    once = threading.Lock()

    def go() -> None:
        if once.acquire(blocking=False):
            _reading.pop(key, None)  # settled now, held no more
            call.settle(outcome)

    feed.when_ended(go)
    call.link.later(HOLD_S, go)
    return True


def feed_of_call(call: Call) -> PieceFeed:
    """The feed of a call's pieces (one per call), reading from its server once it has a task id."""
    with _lock:
        feed = _by_call.get(call)
        if feed is not None:
            return feed
        feed = _by_call[call] = PieceFeed(call.agent, call.link.address)

    def acked() -> None:
        if not call.task_id:  # it failed before its server had it
            feed.fail(call.error or CallCancelledError(f"the call to agent {call.agent!r} was not sent"))
            return
        with _lock:
            known = _by_task.get((call.link.address, call.task_id))
            if known is not None and known.ended and known.error is not None:
                known = None  # the display's reading failed (e.g. too many streams): read anew
            if known is None:
                _remember(call.link.address, call.task_id, feed)
        if known is not None and known is not feed:  # the display found it first: follow that one
            known.watch(lambda: _copy(known, feed))
            _copy(known, feed)
            return
        link = call.link
        feed.start(link.loop, lambda: link.client, call.task_id, link.timeouts.reconnect, call.settle)

    call.when_acked(acked)
    call.link.flush_soon()
    return feed


def feed_of_task(link: Any, task_id: str, agent: str) -> PieceFeed:
    """The feed of a task this driver learnt of from a server's events (the cell's display)."""
    with _lock:
        feed = _by_task.get((link.address, task_id))
        if feed is None:
            feed = PieceFeed(agent, link.address)
            _remember(link.address, task_id, feed)
    feed.start(link.loop, lambda: link.client, task_id, link.timeouts.reconnect)
    return feed


def _remember(address: str, task_id: str, feed: PieceFeed) -> None:
    """Remember a feed by task (call with ``_lock``); the oldest ended ones go first."""
    _by_task[(address, task_id)] = feed
    while len(_by_task) > _REMEMBERED:
        _by_task.popitem(last=False)


def _copy(source: PieceFeed, target: PieceFeed) -> None:
    """Bring ``target`` up to ``source`` (the same task's feed, made first by the display)."""
    with source._lock:
        new = source.items[len(target.items) :]
        ended, outcome, error = source.ended, source.outcome, source.error
    if new:
        target._add(list(new))
    if ended:
        target._end(outcome, error)


def stream_call(call: Call, timeout: float | None = None) -> Iterator[Piece]:
    """``p.stream()``: the call's pieces in order, from any thread (see :class:`PieceFeed`)."""
    feed = feed_of_call(call)
    pieces = feed.pieces(timeout, _console.wait, call.agent)
    try:
        yield from pieces
    except KeyboardInterrupt:
        raise CallInterrupted(
            f"stopped reading the pieces of agent {call.agent!r} on {call.link.address}; the call goes "
            "on. To stop it: placeholder.cancel()"
        ) from None
    finally:
        pieces.close()


def astream_call(call: Call) -> AsyncIterator[Piece]:
    """``async for chunk in p``: the call's pieces, awaited on the running loop."""
    return feed_of_call(call).apieces()
