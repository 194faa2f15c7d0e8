"""One ``WatchResults`` stream: outcomes of the tasks a watcher named, as they are ready.

A watcher names tasks by id, or by the key their caller gave the call
(``WatchResultsRequest.call_keys``): a consuming server reads a placeholder
whose call may not have reached this server yet. A key no call has brought is
awaited for at most ``key_wait`` seconds (``Timeouts.reconnect``), then fails
with NOT_FOUND; a key counts towards ``Limits.watches_per_stream`` like a task
id, and the store bounds the keys awaited by every stream together. However
the stream ends, everything it waited for is let go.

Outcomes go framed by hand around their stored bytes; the stream sends an
empty response every ``HEARTBEAT_S`` seconds while it waits, so a silent
server means trouble to the watcher.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from .._proto import agentnb_pb2 as pb
from .._runtime import _shm as shm
from .._runtime import _wire as wire
from .._runtime._watch import HEARTBEAT_S
from ._store import Entry, ResultStore, StoreError, check_task_id

#: Results in one WatchResults message are cut at about this many bytes.
BATCH_BYTES = 4 * 1024 * 1024
#: What a watch's slot holds until its remover is known.
_SETTING = None
_ENDED = object()  # what popping a slot gives once the stream let it go


class Refused(Exception):
    """A watch refused: its gRPC status, message and reason (the servicer's Refusal, for one task)."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(code, message, reason)
        self.code, self.message, self.reason = code, message, reason


class WatchStream:
    """The waits of one stream: task ids and call keys, each delivered once."""

    def __init__(
        self,
        store: ResultStore,
        limit: int,
        key_wait: float,
        server_id: str,
        threshold: int,
        status: Callable[[Exception], pb.Status],
    ) -> None:
        self._store = store
        self._limit = limit
        self._key_wait = key_wait
        self._server_id = server_id
        self._threshold = threshold  # outcomes bigger than this go through shared memory (0: never)
        self._status = status  # a StoreError or refusal as a Status
        self._ready: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        #: what waits, by task id or "key:" + key -> its remover (None while being set)
        self._removers: dict[str, Any] = {}
        self._deadlines: dict[str, float] = {}  # "key:" + key -> when it fails, in order
        self.inline = 0  # the watcher's inline_limit (its latest request says)
        self.gather = 0.0  # seconds between responses, at least (its latest request says)

    # -- what the watcher asks -------------------------------------------------------------

    def read(self, requests: Iterator[pb.WatchResultsRequest]) -> None:
        """Take the watcher's requests until it stops sending (in a thread of its own)."""
        try:
            for request in requests:
                self.inline, self.gather = request.inline_limit, min(request.gather_ms, 100) / 1000
                for task_id in request.task_ids:
                    self._watch_id(task_id)
                for key in request.call_keys:
                    self._watch_key(key)
        except Exception:  # noqa: BLE001 - the stream ended under us
            pass
        finally:
            self._ready.put(None)

    def _enter(self, slot: str, name: str, key: str = "") -> bool:
        """Take a slot for a new wait; False if it waits already or the stream is full."""
        with self._lock:
            if slot in self._removers:
                return False
            if len(self._removers) >= self._limit:
                full = f"this stream already watches {self._limit:,} results"
                refused = Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, full, "waits")
                self._ready.put(self._error(name, key, refused))
                return False
            self._removers[slot] = _SETTING
            return True

    def _set(self, slot: str, remove: Any) -> None:
        """Keep a wait's remover, unless the wait ended meanwhile (then let it go now)."""
        with self._lock:
            if slot in self._removers:
                if self._removers[slot] is _SETTING:
                    self._removers[slot] = remove
                return
        remove()

    def _watch_id(self, task_id: str) -> None:
        if not self._enter(task_id, task_id):
            return
        try:
            remove = self._store.on_done(task_id, self._deliver)
        except Exception as exc:  # noqa: BLE001 - it gets its own status
            with self._lock:
                self._removers.pop(task_id, None)
            self._ready.put(self._error(task_id, "", exc))
            return
        self._set(task_id, remove)

    def _deliver(self, entry: Entry) -> None:
        with self._lock:
            if self._removers.pop(entry.task_id, _ENDED) is _ENDED:
                return  # the stream ended
        self._ready.put(task_result(entry, self.inline, self._threshold))

    def _watch_key(self, key: str) -> None:
        slot = "key:" + key
        if not self._enter(slot, "", key):
            return

        def done(entry: Entry) -> None:
            with self._lock:
                if self._removers.pop(slot, _ENDED) is _ENDED:
                    return  # the stream ended
            self._ready.put(task_result(entry, self.inline, self._threshold) + wire.text(4, key))

        def found(entry: Entry) -> None:  # the call came (now, or in the thread that queued it)
            with self._lock:
                self._deadlines.pop(slot, None)
                if slot not in self._removers:
                    return
            try:
                remove = self._store.on_done(entry.task_id, done)
            except StoreError as exc:
                with self._lock:
                    if self._removers.pop(slot, _ENDED) is _ENDED:
                        return
                self._ready.put(self._error(entry.task_id, key, exc))
                return
            with self._lock:
                if slot in self._removers:
                    self._removers[slot] = remove
                    return
            remove()

        try:
            check_task_id(key, "call key")
            with self._lock:
                self._deadlines[slot] = time.monotonic() + self._key_wait
            remove = self._store.on_key(key, found)
        except Exception as exc:  # noqa: BLE001 - it gets its own status
            with self._lock:
                self._removers.pop(slot, None)
                self._deadlines.pop(slot, None)
            self._ready.put(self._error("", key, exc))
            return
        self._set(slot, remove)

    def expire(self) -> None:
        """Fail the keys awaited past their bound (no call with that key came)."""
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._deadlines:
                    return
                slot, deadline = next(iter(self._deadlines.items()))
                if deadline > now:
                    return
                del self._deadlines[slot]
                remove = self._removers.get(slot)
            if remove is None or not remove():
                continue  # the call came meanwhile (``found`` sees to it), or it is being set
            with self._lock:
                if self._removers.pop(slot, _ENDED) is _ENDED:
                    continue
            key = slot[4:]
            self._ready.put(self._error("", key, Refused(
                grpc.StatusCode.NOT_FOUND,
                f"no call with key {key} arrived at this server (instance {self._server_id}) within "
                f"{self._key_wait:.0f} s: its caller never sent it, or sent it elsewhere",
                "unknown_key",
            )))  # fmt: skip

    def _error(self, task_id: str, key: str, exc: Exception) -> bytes:
        if isinstance(exc, Refused):
            status = pb.Status(code=exc.code.value[0], message=exc.message, reason=exc.reason)
        else:
            status = self._status(exc)
        return pb.TaskResult(task_id=task_id, call_key=key, status=status).SerializeToString()

    # -- what goes back --------------------------------------------------------------------

    def responses(self, server_id: bytes) -> Iterator[bytes]:
        """WatchResultsResponses until the watcher stops; then every wait is let go."""
        ready = self._ready
        sent = 0.0  # when the last response with results went
        try:
            while True:
                try:
                    first = ready.get(timeout=HEARTBEAT_S if not self._deadlines else min(HEARTBEAT_S, 0.25))
                except queue.Empty:  # nothing ready: say this server is still here
                    self.expire()
                    yield server_id
                    continue
                if first is None:
                    return
                wait = sent + self.gather - time.monotonic()
                if wait > 0:  # results trickle: gather what comes meanwhile into one response
                    time.sleep(wait)
                batch, size, ended = [first], len(first), False
                while len(batch) < 1000 and size < BATCH_BYTES:
                    try:
                        more = ready.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        ended = True
                        break
                    batch.append(more)
                    size += len(more)
                yield b"".join(wire.field(1, result) for result in batch) + server_id
                sent = time.monotonic()
                if ended:
                    return
                if self._deadlines:
                    self.expire()
        finally:  # however the stream ends, its waiters go
            with self._lock:
                pending = list(self._removers.values())
                self._removers.clear()
                self._deadlines.clear()
            for remove in pending:
                if remove is not None:
                    remove()


def task_result(entry: Any, limit: int, shared: int = 0) -> bytes:
    """A TaskResult: the whole outcome, or (if bigger than ``limit``) all of it but the reply;
    through shared memory if bigger than ``shared`` (a reader of this host)."""
    if limit and entry.size > limit and entry.is_reply:
        outcome = entry.outcome
        stub = pb.Outcome(output=outcome.output, output_cut=outcome.output_cut, withheld=entry.size)
        return wire.text(1, entry.task_id) + wire.field(2, stub.SerializeToString())
    data = shm.outcome_for(entry.wire, True, shared) if shared else entry.wire
    return b"".join((wire.text(1, entry.task_id), wire.header(2, len(data)), data))
