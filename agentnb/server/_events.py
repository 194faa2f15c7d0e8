"""The server's event feed: call lifecycle events and printed output, as one numbered log.

Events are numbered from 1 and kept in a bounded log (``Limits.event_history``
events and ``Limits.event_history_bytes`` bytes, the oldest going first).
A subscriber is only a cursor into that log: a driver that follows again
after its connection dropped says the last number it saw and gets
everything after it, with no gap and no duplicate, or a count of the events
the log no longer holds. Nothing is queued per subscriber, so a slow or
vanished subscriber never costs the server memory.

The log starts with the server (a driver follows every server it uses,
unless it runs with ``AGENTNB_TRACE=0``: then a server it launches records
nothing until someone subscribes), and keeps recording
while nobody follows, so what happens during a dropped connection is there
when the driver is back.

Output text larger than ``MAX_TEXT`` is split into several events, so no
batch ever exceeds the message limit.

Thread-safe: replies publish from their own threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .._proto import agentnb_pb2 as pb

Kind = pb.Event.Kind

#: (seq, kind, task_id, agent, caller, inputs, timestamp, preview, text, message_id, direct, chunk, size,
#: call_key)
_Raw = tuple[int, Any, str, str, str, tuple[pb.TaskRef, ...], float, str, str, str, int, int, int, str]

#: A subscriber gets at most one batch per this many seconds: one write for
#: many events under load, and still well inside the graph's 50 ms budget.
BATCH_WINDOW = 0.01
#: The most text one OUTPUT event carries.
MAX_TEXT = 64 * 1024
#: The most bytes of events in one batch.
MAX_BATCH_BYTES = 1024 * 1024
_OVERHEAD = 160  # bytes an event costs besides its text


class EventBus:
    def __init__(self, server_id: str, history: int, history_bytes: int, recording: bool = False) -> None:
        self.server_id = server_id
        self._max = history
        self._max_bytes = history_bytes
        self._log: deque[_Raw] = deque()
        self._bytes = 0
        self._seq = 0
        self._lock = threading.Lock()  # the log (publishing takes only this)
        self._cond = threading.Condition(threading.Lock())  # subscribers waiting for more
        self._waiting = 0  # how many wait on _cond (a publisher wakes them only then)
        self._recording = recording
        self._closed = False

    @property
    def seq(self) -> int:
        """The number of the last event published."""
        return self._seq

    @property
    def recording(self) -> bool:
        return self._recording

    def publish(
        self,
        kind: Any,
        task_id: str,
        agent: str,
        *,
        caller: str = "",
        inputs: Iterable[pb.TaskRef] = (),
        preview: str = "",
        text: str = "",
        message_id: str = "",
        direct_inputs: int = 0,
        chunk: int = 0,
        call_key: str = "",
    ) -> None:
        if not self._recording:
            return  # nobody ever followed this server: events cost nothing
        now = time.time()
        refs = tuple(inputs)
        size = _size(task_id, agent, caller, preview, text, refs) + len(call_key)
        log = self._log
        with self._lock:
            self._seq += 1
            log.append((
                self._seq, kind, task_id, agent, caller, refs, now, preview, text, message_id,
                direct_inputs, chunk, size, call_key,
            ))  # fmt: skip
            self._bytes += size
            while len(log) > self._max or self._bytes > self._max_bytes:
                self._bytes -= log.popleft()[12]
        if self._waiting:
            with self._cond:
                self._cond.notify_all()

    def close(self) -> None:
        """End every subscription (the server is stopping)."""
        self._closed = True
        with self._cond:
            self._cond.notify_all()

    def subscribe(self, since_seq: int, server_id: str, is_active: Any) -> Iterator[pb.EventBatch]:
        """Batches of the events after ``since_seq`` (of this instance), then live ones.

        Args:
            since_seq: the last event the subscriber saw (0: none).
            server_id: the instance ``since_seq`` belongs to; another one starts from 0.
            is_active: returns False once the subscriber's RPC has ended.
        """
        self._recording = True
        cursor = since_seq if server_id in ("", self.server_id) else 0
        first = True  # the first batch goes at once, even empty: the subscriber knows it is connected
        while True:
            if not first:
                with self._cond:
                    self._waiting += 1  # before looking: a publisher after this wakes us
                    try:
                        while self._seq <= cursor and not self._closed and is_active():
                            self._cond.wait(1.0)
                    finally:
                        self._waiting -= 1
                    if self._closed or not is_active():
                        return
                time.sleep(BATCH_WINDOW)  # let a burst gather into one write
            first = False
            events, dropped, cursor = self._take(cursor)
            yield pb.EventBatch(
                events=_batch(events, self.server_id), dropped=dropped, server_id=self.server_id
            )

    def _take(self, cursor: int) -> tuple[list[_Raw], int, int]:
        """The events after ``cursor`` (up to a batch's size), how many were lost, the new cursor."""
        with self._lock:
            first = self._log[0][0] if self._log else self._seq + 1
            dropped = max(0, first - cursor - 1)
            start = max(0, cursor + 1 - first)
            out: list[_Raw] = []
            size = 0
            for i in range(start, len(self._log)):
                event = self._log[i]
                size += event[12]
                if out and size > MAX_BATCH_BYTES:
                    break
                out.append(event)
            last = out[-1][0] if out else max(cursor, first - 1)
            return out, dropped, last


def split_text(text: str) -> list[str]:
    """Output text in pieces of at most MAX_TEXT characters."""
    if len(text) <= MAX_TEXT:
        return [text]
    return [text[i : i + MAX_TEXT] for i in range(0, len(text), MAX_TEXT)]


def _size(
    task_id: str, agent: str, caller: str, preview: str, text: str, inputs: tuple[pb.TaskRef, ...]
) -> int:
    """What an event costs: its strings (the caller and inputs come from clients) and some overhead."""
    refs = sum(ref.ByteSize() for ref in inputs) if inputs else 0
    return _OVERHEAD + len(task_id) + len(agent) + len(caller) + len(preview) + len(text) + refs


_QUEUED, _RUNNING, _DONE, _ERROR, _OUTPUT = (
    Kind.QUEUED, Kind.RUNNING, Kind.DONE, Kind.ERROR, Kind.OUTPUT,
)  # fmt: skip


def _batch(events: list[_Raw], server_id: str) -> list[pb.Event]:
    """The events as sent: a call whose QUEUED, RUNNING and DONE (or ERROR) all fall in the
    batch, with no output between, goes as one event (most calls of a busy server do)."""
    first: dict[str, list[_Raw]] = {}  # task -> its QUEUED and RUNNING events here
    whole: set[str] = set()  # tasks whose events merge into their last one
    for raw in events:
        kind, task_id = raw[1], raw[2]
        if kind == _QUEUED:
            first[task_id] = [raw]
        elif kind == _RUNNING and task_id in first:
            first[task_id].append(raw)
        elif kind == _OUTPUT or kind == Kind.INPUT:  # a prompt is never folded away
            first.pop(task_id, None)
        elif kind in (_DONE, _ERROR) and task_id in first:
            whole.add(task_id)
    if not whole:
        return [_proto(raw, server_id) for raw in events]
    out = []
    for raw in events:
        kind, task_id = raw[1], raw[2]
        if task_id not in whole:
            out.append(_proto(raw, server_id))
        elif kind in (_DONE, _ERROR):
            out.append(_merged(raw, first[task_id], server_id))
    return out


def _merged(last: _Raw, earlier: list[_Raw], server_id: str) -> pb.Event:
    event = _proto(last, server_id)
    queued = earlier[0]
    event.caller, event.direct_inputs, event.call_key = queued[4], queued[10], queued[13]
    event.inputs.extend(queued[5])
    event.queued_at, event.input_preview = queued[6], queued[7]
    if len(earlier) > 1:
        event.started_at = earlier[1][6]
    return event


def _proto(raw: _Raw, server_id: str) -> pb.Event:
    seq, kind, task_id, agent, caller, inputs, timestamp, preview, text, message_id, direct, chunk = raw[:12]
    key = raw[13]
    return pb.Event(
        seq=seq, kind=kind, task_id=task_id, agent=agent, caller=caller, inputs=inputs,
        timestamp=timestamp, preview=preview, text=text, server_id=server_id, message_id=message_id,
        direct_inputs=direct, chunk=chunk, call_key=key,
    )  # fmt: skip
