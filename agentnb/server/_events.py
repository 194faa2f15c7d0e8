"""The server's event feed: call lifecycle events and printed output, per subscriber."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from .._proto import agentnb_pb2 as pb

Kind = pb.Event.Kind

#: (seq, kind, task_id, agent, caller, inputs, timestamp, preview, text, message_id, direct_inputs)
_Raw = tuple[int, Any, str, str, str, tuple[pb.TaskRef, ...], float, str, str, str, int]

#: A subscriber gets at most one batch per this many seconds: one write for
#: many events under load, and still well inside the graph's 50 ms budget.
BATCH_WINDOW = 0.01


class EventBus:
    """Numbers events, keeps the last ``history`` for late subscribers, fans out.

    Events are made only while someone subscribes (a driver follows every
    server it uses, unless it runs with ``AGENTNB_TRACE=0``).

    A slow subscriber never blocks the server: its queue is bounded, the oldest
    events are dropped, and its next batch says how many it missed.
    """

    def __init__(self, server_id: str, history: int = 10_000, queue: int = 10_000) -> None:
        self.server_id = server_id
        self._seq = 0
        self._history: deque[_Raw] = deque(maxlen=history)
        self._queue_size = queue
        self._subscribers: set[_Subscriber] = set()

    def publish(
        self,
        kind: pb.Event.Kind,
        task_id: str,
        agent: str,
        *,
        caller: str = "",
        inputs: Iterable[pb.TaskRef] = (),
        preview: str = "",
        text: str = "",
        message_id: str = "",
        direct_inputs: int = 0,
    ) -> None:
        if not self._subscribers:
            return  # nobody traces this server: events cost nothing
        self._seq += 1
        # a plain tuple now; the proto is built when a batch goes out, off the call's path
        event: _Raw = (
            self._seq, kind, task_id, agent, caller, tuple(inputs), time.time(), preview, text, message_id,
            direct_inputs,
        )  # fmt: skip
        self._history.append(event)
        for sub in self._subscribers:
            sub.put(event)

    def close(self) -> None:
        """End every subscription (the server is stopping)."""
        for sub in self._subscribers:
            sub.close()

    async def subscribe(self, since_seq: int) -> AsyncIterator[pb.EventBatch]:
        sub = _Subscriber(self._queue_size)
        for event in self._history:
            if event[0] > since_seq:
                sub.put(event)
        self._subscribers.add(sub)
        try:
            while (batch := await sub.next_batch(self.server_id)) is not None:
                yield batch
        finally:
            self._subscribers.discard(sub)


class _Subscriber:
    def __init__(self, size: int) -> None:
        self._queue: deque[_Raw] = deque()
        self._size = size
        self._dropped = 0
        self._ready = asyncio.Event()
        self._closed = False

    def put(self, event: _Raw) -> None:
        if len(self._queue) >= self._size:
            self._queue.popleft()
            self._dropped += 1
        self._queue.append(event)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def next_batch(self, server_id: str) -> pb.EventBatch | None:
        while not self._queue:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        if not self._closed:
            await asyncio.sleep(BATCH_WINDOW)  # let a burst gather into one write
        batch = pb.EventBatch(events=[_proto(e, server_id) for e in self._queue], dropped=self._dropped)
        self._queue.clear()
        self._dropped = 0
        return batch


def _proto(raw: _Raw, server_id: str) -> pb.Event:
    seq, kind, task_id, agent, caller, inputs, timestamp, preview, text, message_id, direct = raw
    return pb.Event(
        seq=seq, kind=kind, task_id=task_id, agent=agent, caller=caller, inputs=inputs,
        timestamp=timestamp, preview=preview, text=text, server_id=server_id, message_id=message_id,
        direct_inputs=direct,
    )  # fmt: skip
