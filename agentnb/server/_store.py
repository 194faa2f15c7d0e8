"""The bounded result store of a server.

A result stays readable by every holder of its placeholder until it expires
(``Limits.result_ttl``) or the store needs room (``Limits.max_results``; the
oldest finished results go first). Ids of evicted results are remembered for a
while longer so a late reader is told "expired" rather than "unknown".
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from .._proto import agentnb_pb2 as pb

#: How long a fetch waits for a task id that has not been registered yet (a
#: call and a fetch of its result can race on different connections).
REGISTRATION_GRACE = 10.0


class StoreError(Exception):
    """Raised with a gRPC-ready reason: 'expired', 'unknown_task', 'duplicate' or 'full'."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message)
        self.reason = reason
        self.message = message


@dataclass
class Entry:
    agent: str
    future: asyncio.Future[pb.FetchResultResponse]
    done_at: float = field(default=0.0)


class ResultStore:
    def __init__(self, max_results: int, ttl: float) -> None:
        self._max = max_results
        self._ttl = ttl
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._evicted: OrderedDict[str, str] = OrderedDict()  # task id -> agent
        self._waiting: dict[str, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def register(self, task_id: str, agent: str) -> Entry:
        if task_id in self._entries or task_id in self._evicted:
            raise StoreError("duplicate", f"task id {task_id} is already in use")
        self._make_room()
        entry = Entry(agent, asyncio.get_running_loop().create_future())
        self._entries[task_id] = entry
        waiter = self._waiting.pop(task_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return entry

    def finish(self, entry: Entry, outcome: pb.FetchResultResponse) -> None:
        if not entry.future.done():
            entry.future.set_result(outcome)
        entry.done_at = time.monotonic()

    async def wait(self, task_id: str) -> pb.FetchResultResponse:
        """Wait for a task's outcome; the caller's deadline bounds the wait."""
        entry = self._entries.get(task_id)
        if entry is None:
            self._raise_if_evicted(task_id)
            waiter = self._waiting.setdefault(task_id, asyncio.get_running_loop().create_future())
            try:
                await asyncio.wait_for(asyncio.shield(waiter), REGISTRATION_GRACE)
            except asyncio.TimeoutError:
                self._waiting.pop(task_id, None)
                raise StoreError(
                    "unknown_task",
                    f"no task {task_id} on this server (it never existed, or expired long ago)",
                ) from None
            entry = self._entries.get(task_id)
            if entry is None:
                self._raise_if_evicted(task_id)
                raise StoreError("unknown_task", f"no task {task_id} on this server")
        return await asyncio.shield(entry.future)

    def _raise_if_evicted(self, task_id: str) -> None:
        agent = self._evicted.get(task_id)
        if agent is not None:
            raise StoreError(
                "expired",
                f"the result of agent {agent!r} (task {task_id}) has expired from the "
                f"server's result store (kept {self._ttl:.0f} s, at most {self._max:,} "
                "results); read results sooner or raise Limits(result_ttl=..., max_results=...)",
            )

    def _make_room(self) -> None:
        now = time.monotonic()
        excess = len(self._entries) - self._max + 1
        victims: list[tuple[str, Entry]] = []
        for task_id, entry in self._entries.items():
            expired = entry.done_at and now - entry.done_at > self._ttl
            if entry.done_at and (expired or len(victims) < excess):
                victims.append((task_id, entry))
            elif len(victims) >= excess:
                break
        for task_id, entry in victims:
            self._evict(task_id, entry)
        if len(self._entries) >= self._max:
            raise StoreError(
                "full",
                f"the result store holds {self._max:,} unfinished calls; wait for some "
                "to finish or raise Limits(max_results=...)",
            )

    def _evict(self, task_id: str, entry: Entry) -> None:
        del self._entries[task_id]
        self._evicted[task_id] = entry.agent
        while len(self._evicted) > 4 * self._max:
            self._evicted.popitem(last=False)
