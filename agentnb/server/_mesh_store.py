"""The results of mesh calls: one store entry per call, one reply per agent inside it.

A mesh call on a server makes one entry in the result store, under a task id
whose last 8 hex digits are zeros (``CALL_SUFFIX``). The reply of the
server's k-th agent of the mesh (counting from 0) is readable under the same
id with k + 1 in those 8 digits: an *item id*. So every reader of single
results (a driver's watch, a server resolving a forwarded placeholder,
``FetchResult``) reads one agent's reply the way it reads any task, and
``FetchItems`` streams them all. The call's id (96 random bits) is the
capability: whoever holds it, or one of its item ids, may read the call's
replies on that server.

The entry finishes (its own outcome is a small summary) once every item is
there; the items count towards the store's byte budget from then on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .._proto import agentnb_pb2 as pb
from ._store import Entry, item_id

ItemCallback = Callable[["ItemView"], None]


class ItemView:
    """One reply of a mesh call, as a store entry's readers see an entry (made when read)."""

    __slots__ = ("task_id", "agent", "done", "is_reply", "wire", "size", "read")

    def __init__(self, task_id: str, agent: str, wire: bytes) -> None:
        self.task_id = task_id
        self.agent = agent
        self.done = True
        self.wire = wire
        self.size = len(wire) if isinstance(wire, bytes) else 0
        self.is_reply = True
        self.read = True

    @property
    def outcome(self) -> pb.Outcome:
        return pb.Outcome.FromString(self.wire)


class MeshEntry(Entry):
    """A mesh call's entry: its items (serialized outcomes), filled as the agents reply."""

    mesh = True
    __slots__ = ("items", "left", "failed", "item_bytes", "watchers", "progress", "lock", "local")

    def __init__(self, task_id: str, agent: str, count: int) -> None:
        super().__init__(task_id, agent)
        self.items: list[Any] = [None] * count  # serialized outcomes (in-process calls: replies)
        self.left = count
        self.failed = 0
        self.item_bytes = 0
        self.watchers: dict[int, list[ItemCallback]] | None = None  # readers of single items
        self.progress: list[threading.Event] | None = None  # FetchItems streams waiting for more
        self.lock = threading.Lock()
        self.local = False  # an in-process call's: its replies are Python objects, read only here

    def put(self, k: int, wire: Any, failed: bool = False, size: int | None = None) -> bool:
        """Item ``k``'s outcome (serialized; or, for an in-process call, the reply as it is,
        about ``size`` bytes); True if it was the last one missing."""
        with self.lock:
            if self.items[k] is not None:
                return False
            self.items[k] = wire
            self.left -= 1
            self.item_bytes += len(wire) if size is None else size
            if failed:
                self.failed += 1
            callbacks = self.watchers.pop(k, None) if self.watchers else None
            progress = self.progress
            last = self.left == 0
        if callbacks:
            view = ItemView(item_id(self.task_id, k), self.agent, wire)
            for callback in callbacks:
                callback(view)
        for event in progress or ():
            event.set()
        return last

    def view(self, k: int) -> ItemView | None:
        """Item ``k`` if it is there."""
        wire = self.items[k]
        return None if wire is None else ItemView(item_id(self.task_id, k), self.agent, wire)

    def on_item(self, k: int, callback: ItemCallback) -> Callable[[], None] | None:
        """Call ``callback`` once item ``k`` is there; returns a remover, or None if it was
        there already (then the callback ran)."""
        with self.lock:
            wire = self.items[k]
            if wire is None:
                if self.watchers is None:
                    self.watchers = {}
                self.watchers.setdefault(k, []).append(callback)
                return lambda: self._forget(k, callback)
        callback(ItemView(item_id(self.task_id, k), self.agent, wire))
        return None

    def _forget(self, k: int, callback: ItemCallback) -> None:
        with self.lock:
            waiting = (self.watchers or {}).get(k)
            if waiting is not None and callback in waiting:
                waiting.remove(callback)

    def ready(self, start: int) -> int:
        """How many items from ``start`` on are there, one after the other."""
        items, end = self.items, start
        while end < len(items) and items[end] is not None:
            end += 1
        return end - start

    def follow(self, event: threading.Event) -> None:
        """Set ``event`` whenever an item arrives (until :meth:`unfollow`)."""
        with self.lock:
            self.progress = [*(self.progress or ()), event]

    def unfollow(self, event: threading.Event) -> None:
        with self.lock:
            self.progress = [e for e in self.progress or () if e is not event] or None
