"""Streaming replies on a server: their pieces, kept with their result and read as they come.

A ``reply`` that returns a generator streams (see :mod:`agentnb._core._pieces`).
Its worker thread runs the generator (:func:`drive`): each piece is
serialized once, as a ``Piece`` message, into the task's :class:`PieceLog`,
which lives on the task's result-store entry and goes with it. Readers
(``StreamResult``: the driver, the cell's display, servers of agents that
read the stream as it comes) take the pieces from any number on, in order,
and then the outcome. The bounds of whole replies hold for pieces too: all
of a call's pieces together at most ``Limits.max_message_bytes``, and once
the reply is done they count towards the store's ``result_bytes``.

While it streams, the task publishes a STREAMING event at most every
``EVENT_EVERY`` seconds (how many pieces so far, and the end of its text),
for the graph and the notebook; not one per piece.

Stopping (``placeholder.cancel()``): a reply told to stop stops at its next
piece: its generator is closed (``GeneratorExit`` inside it) and the call
fails with CallCancelled, its pieces so far kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from .._core._errors import MessageTooLargeError, RemoteError
from .._core._message import Msg
from .._core._pieces import Pieces
from .._proto import agentnb_pb2 as pb
from .._runtime import _wire as wire
from .._runtime._codec import fill_msg, preview
from ._events import Kind
from ._store import MAX_WAIT_S, Entry, check_task_id

if TYPE_CHECKING:
    from ._events import EventBus
    from ._store import ResultStore

#: A streaming task publishes at most one STREAMING event per this many seconds.
EVENT_EVERY = 0.05
#: What a piece costs besides its bytes (the list slot and the bytes object).
PIECE_OVERHEAD = 40
#: Pieces in one StreamResult response are cut at about this many bytes.
BATCH_BYTES = 1024 * 1024
#: The end of a stream's text that its STREAMING events carry.
TAIL = 60

_attach = threading.Lock()  # making a task's log (its reader and its reply may both)


class PieceLog:
    """The pieces of one task, serialized, and who to tell when more come or it must stop."""

    __slots__ = ("pieces", "bytes", "stopping", "streaming", "_listeners", "_lock")

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.bytes = 0
        self.stopping = False  # told to stop at its next piece (or prompt)
        self.streaming = False  # its reply is a stream (a reader may have made the log first)
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def append(self, piece: bytes) -> None:
        with self._lock:
            self.pieces.append(piece)
            self.bytes += len(piece) + PIECE_OVERHEAD
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener()

    def since(self, first: int, max_bytes: int = BATCH_BYTES) -> list[bytes]:
        """Pieces from number ``first`` on, at most about ``max_bytes`` of them (at least one)."""
        with self._lock:
            out: list[bytes] = []
            size = 0
            for piece in self.pieces[first:]:
                if out and size + len(piece) > max_bytes:
                    break
                out.append(piece)
                size += len(piece)
            return out

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on each new piece and on stop; returns the remover."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def stop(self) -> None:
        with self._lock:
            self.stopping = True
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener()


def _remaining(context: Any) -> float:
    remaining = context.time_remaining()
    return MAX_WAIT_S if remaining is None else max(0.0, remaining)


def _by_key(store: ResultStore, key: str, wait: float, context: Any) -> Entry:
    """The entry of the call with this key, waiting at most ``wait`` seconds for it to arrive."""
    found: list[Entry] = []
    arrived = threading.Event()

    def arrive(entry: Entry) -> None:
        found.append(entry)
        arrived.set()

    remove = store.on_key(key, arrive)
    try:
        context.add_callback(arrived.set)  # the reader went: stop waiting
        arrived.wait(wait)
    finally:
        remove()
    if not found:
        raise Refused(
            grpc.StatusCode.NOT_FOUND,
            f"no call with key {key} arrived at this server within {wait:.0f} s",
            "unknown_key",
        )
    return found[0]


def log_of(entry: Entry) -> PieceLog:
    """The task's piece log, made on first use (by its reader or its reply)."""
    log = entry.stream
    if log is None:
        with _attach:
            log = entry.stream
            if log is None:
                log = entry.stream = PieceLog()
    return log


def stop(entry: Entry) -> bool:
    """Tell a running task to stop at its next piece; True if it streams now."""
    log = log_of(entry)
    log.stop()
    return log.streaming


# -- the reply side ------------------------------------------------------------------


def drive(
    stream: Generator[Any, None, Any], agent: str, entry: Entry, bus: EventBus, address: str, limit: int
) -> Msg:
    """Run a streaming reply to its end, keeping its pieces; returns its final message.

    Args:
        stream: the generator ``reply`` returned.
        agent: the agent's name.
        entry: the task's result-store entry (its pieces are kept on it).
        bus: the server's event feed.
        address: the server's address (for errors).
        limit: the most bytes all of its pieces may take (``Limits.max_message_bytes``).

    Raises:
        RemoteError: it was stopped (CallCancelled).
        MessageTooLargeError: its pieces together passed ``max_message_bytes``.
        TypeError: it yielded something other than a str or a Msg.
    """
    log = log_of(entry)
    log.streaming = True
    pieces = Pieces(agent)
    task_id = entry.task_id
    tail, published = "", 0.0
    where = f"a piece of the reply of agent {agent!r}"
    while True:
        if log.stopping:
            stream.close()
            raise RemoteError(
                agent, address, "CallCancelled",
                f"the streaming reply was stopped after {pieces.count} pieces (placeholder.cancel())",
            )  # fmt: skip
        try:
            piece = pieces.check(next(stream))
        except StopIteration as end:
            return pieces.final(end.value)
        except BaseException:
            stream.close()
            raise
        data = _encode(piece, limit, where)
        if log.bytes + len(data) + PIECE_OVERHEAD > limit:
            stream.close()
            raise MessageTooLargeError(
                f"the pieces of the streaming reply of agent {agent!r} passed {limit:,} bytes together "
                f"after {pieces.count - 1} pieces; stream less, or raise Limits(max_message_bytes=...)"
            )
        log.append(data)
        if bus.recording:
            tail = (tail + (piece if isinstance(piece, str) else " " + preview(piece.content, TAIL)))[-TAIL:]
            now = time.monotonic()
            if now - published >= EVENT_EVERY:
                published = now
                bus.publish(
                    Kind.STREAMING, task_id, agent, preview=preview(tail, TAIL), chunk=pieces.count,
                    message_id=entry.key,
                )  # fmt: skip


def _encode(piece: str | Msg, limit: int, where: str) -> bytes:
    """A ``Piece`` message, serialized."""
    if isinstance(piece, str):
        return wire.text(1, piece)
    message = pb.Message()
    fill_msg(message, piece, limit, where)
    return wire.field(2, message.SerializeToString())


# -- the reader side (StreamResult) ------------------------------------------------------


class StreamSlots:
    """Concurrent StreamResult streams per peer, bounded (``Limits.waits_per_peer``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def enter(self, peer: str) -> bool:
        with self._lock:
            count = self._counts.get(peer, 0)
            if count >= self._limit:
                return False
            self._counts[peer] = count + 1
            return True

    def leave(self, peer: str) -> None:
        with self._lock:
            count = self._counts.get(peer, 1) - 1
            if count:
                self._counts[peer] = count
            else:
                self._counts.pop(peer, None)


class Refused(Exception):
    """A StreamResult refused: its gRPC status, message and reason."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(code, message, reason)
        self.code, self.message, self.reason = code, message, reason


def stream_result(
    store: ResultStore,
    slots: StreamSlots,
    server_id: str,
    request: pb.StreamResultRequest,
    context: Any,
    key_wait: float = 15.0,
) -> Iterator[bytes]:
    """The StreamResultResponses of one reader, framed by hand around the stored pieces.

    A reader that names the task by its call's key (``call_key``) waits at most
    ``key_wait`` seconds for that call to arrive.

    Raises:
        StoreError: the task id is malformed, unknown, expired or released.
        Refused: too many streams of this peer, the caller's deadline passed, or no call
            with the key arrived in time.
    """
    if request.call_key and not request.task_id:
        entry = _by_key(store, request.call_key, min(key_wait, _remaining(context)), context)
    else:
        check_task_id(request.task_id)
        entry = store.entry(request.task_id)
    peer = context.peer()
    if not slots.enter(peer):
        raise Refused(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "this client already reads as many streams here as it may (Limits.waits_per_peer); "
            "finish reading some first",
            "waits",
        )
    wake = threading.Event()
    log = log_of(entry)
    removers = [log.listen(wake.set)]
    try:
        removers.append(store.on_done(entry.task_id, lambda _: wake.set()))
        context.add_callback(wake.set)
        remaining = context.time_remaining()
        deadline = time.monotonic() + (MAX_WAIT_S if remaining is None else min(remaining, MAX_WAIT_S))
        tail = wire.text(4, server_id)
        cursor = request.from_piece
        while context.is_active():
            wake.clear()
            done = entry.done  # read first: every piece is in the log before the task is done
            pieces = log.since(cursor)
            if pieces:
                head = b"\x08" + wire.varint(cursor) if cursor else b""
                yield head + b"".join(wire.field(2, p) for p in pieces) + tail
                cursor += len(pieces)
            elif done:
                yield wire.field(3, entry.wire) + tail
                return
            elif not wake.wait(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                raise Refused(grpc.StatusCode.DEADLINE_EXCEEDED, "the stream has no new piece yet")
    finally:
        for remove in removers:
            remove()
        slots.leave(peer)
