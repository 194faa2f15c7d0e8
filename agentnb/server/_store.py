"""The bounded result store of a server.

Every call gets an entry under a task id this store issues: 32 hex digits of
128 random bits, the capability to read that one result. A result stays
readable by every holder of its placeholder until it is released (its driver
says nobody will read it again), expires (``Limits.result_ttl``), or the store
needs room: at most ``Limits.max_results`` entries and ``Limits.result_bytes``
bytes of finished results, the oldest finished going first. Ids of results
that went are remembered a while longer, so a late reader is told why.

Waiting never leaks: a waiter is a callback registered with :meth:`on_done`
and removed by the handle it returns, however the wait ends (its deadline,
the result, or the reader cancelling), and no wait lasts beyond ``MAX_WAIT_S``.

A call may carry a key its caller chose (``CallRequest.call_key``, as random as
a task id): the store finds a task by it too, so a caller can name a call as
another call's input before it knows the task id (``TaskRef.call_key``). A
reader may wait for a key no call has brought yet (:meth:`on_key`); such waits
are few (at most ``max_results`` at once) and each one's owner ends it within a
bound (the reader's stream, the resolver's timer).

Thread-safe: gRPC handler threads, reply threads and the resolver all use it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from .._proto import agentnb_pb2 as pb

TASK_ID = re.compile(r"[0-9a-f]{32}")

Callback = Callable[["Entry"], None]
#: Registers a callback run when a waiter goes away; False if it is gone already.
OnEnd = Callable[[Callable[[], None]], bool]
#: The longest one wait lasts (a reader with no deadline, or an absurd one, polls again).
MAX_WAIT_S = 3600.0


#: The last 8 hex digits of a mesh call's task id; its items' hold their index + 1
#: (see :mod:`._mesh_store`).
CALL_SUFFIX = "0" * 8


def item_id(task_id: str, k: int) -> str:
    """The task id of the ``k``-th reply (from 0) of the mesh call ``task_id``."""
    return f"{task_id[:24]}{k + 1:08x}"


def split_item(task_id: str) -> tuple[str, int] | None:
    """(the mesh call's task id, the item's index) if ``task_id`` can name an item, else None."""
    digits = task_id[24:]
    if len(task_id) != 32 or digits == CALL_SUFFIX:
        return None
    try:
        return task_id[:24] + CALL_SUFFIX, int(digits, 16) - 1
    except ValueError:
        return None


class StoreError(Exception):
    """Raised with a gRPC-ready reason: 'expired', 'released', 'unknown_task', 'bad_id' or 'full'."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message)
        self.reason = reason
        self.message = message


class _Ids:
    """Task ids from the system's random source, fetched many at a time (one system call per 256)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: list[str] = []

    def take(self) -> str:
        with self._lock:
            if not self._pool:
                raw = os.urandom(16 * 256).hex()
                self._pool = [raw[i : i + 32] for i in range(0, len(raw), 32)]
            return self._pool.pop()


def check_task_id(task_id: str, what: str = "task id") -> None:
    """Raise StoreError('bad_id') unless ``task_id`` has the exact form this server issues."""
    if len(task_id) != 32 or not TASK_ID.fullmatch(task_id):
        shown = task_id[:40] + ("…" if len(task_id) > 40 else "")
        raise StoreError("bad_id", f"{shown!r} is not a {what} (32 lower-case hex digits)")


#: Keys of calls whose results went, remembered to say why (a late reader by key).
GONE_KEYS = 20_000

#: A finished result nobody has read yet is not dropped to make room for more
#: results before this many seconds (the store says it is full instead: back
#: pressure, not loss). The byte budget is a hard bound: past it, the oldest
#: finished results go, read or not (only the one that just finished stays).
UNREAD_GRACE = 30.0


class Entry:
    """One task's result, kept only as ``wire``: the outcome serialized once, for every reader.

    The parsed message is not kept (it would double the store's memory); the
    rare reader that needs fields (a resolver, a withheld big reply) parses it.
    """

    mesh = False  # a mesh call's entry (``_mesh_store.MeshEntry``) holds one reply per agent
    __slots__ = (
        "task_id", "agent", "done", "is_reply", "wire", "size", "done_at", "callbacks", "read", "stream",
        "key", "key_reads",
    )  # fmt: skip

    def __init__(self, task_id: str, agent: str) -> None:
        self.task_id = task_id
        self.agent = agent
        self.done = False
        self.is_reply = False
        self.wire = b""
        self.size = 0
        self.done_at = 0.0
        self.callbacks: list[Callback] | None = []
        self.read = False  # its outcome was handed to a reader (a watcher, a fetch)
        self.stream: Any = None  # a streaming reply's pieces (server._stream.PieceLog), kept with it
        self.key = ""  # the call key its caller gave (its STREAMING and INPUT events carry it)
        self.key_reads = False  # the key names the task to readers (CallRequest.key_names_task)

    @property
    def outcome(self) -> pb.Outcome:
        """The outcome, parsed from ``wire`` (only once done)."""
        return pb.Outcome.FromString(self.wire)


class ResultStore:
    def __init__(self, max_results: int, max_bytes: int, ttl: float, server_id: str) -> None:
        self._max = max_results
        self._max_bytes = max_bytes
        self._ttl = ttl
        self._server_id = server_id
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._finished: OrderedDict[str, Entry] = OrderedDict()  # in finishing order
        self._bytes = 0
        # What became of results no longer kept, to explain a late read: the task
        # id as an int (44 bytes, not 81), the agent's name shared with its actor;
        # the oldest forgotten first. Released results (every agent's constructor
        # outcome) are most of them: they need no reason of their own.
        self._released: dict[int, str] = {}  # task -> agent
        self._expired: dict[int, tuple[str, str]] = {}  # task -> (agent, why)
        self._gone: deque[int] = deque()
        self._ids = _Ids()
        self._keyed: dict[str, Entry] = {}  # call key -> its entry, while the entry is kept
        self._gone_keys: dict[int, int] = {}  # call key -> its task (as ints), once it went (the last few)
        self._expected: dict[str, list[Callback]] = {}  # call key not here yet -> who waits for it
        self._expecting = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def issue(self, agent: str, make: Callable[[str], Entry] | None = None) -> Entry:
        """A new entry under a fresh task id; raises StoreError('full') when no room is left.

        ``make(task_id)`` makes a mesh call's entry instead (its id ends in ``CALL_SUFFIX``).
        """
        with self._lock:
            self._make_room()
            if len(self._entries) >= self._max:
                raise StoreError(
                    "full",
                    f"the result store holds {self._max:,} unfinished calls; wait for some to "
                    "finish or raise Limits(max_results=...)",
                )
            task_id = self._ids.take()
            if make is not None:
                task_id = task_id[:24] + CALL_SUFFIX
                entry = self._entries[task_id] = make(task_id)
            else:
                entry = self._entries[task_id] = Entry(task_id, agent)
            return entry

    def finish(self, entry: Entry, outcome: pb.Outcome) -> None:
        """Record an outcome and run the entry's callbacks (outside the lock)."""
        wire = outcome.SerializeToString()
        size = len(wire) + getattr(entry, "item_bytes", 0)  # a mesh call's replies count too
        if entry.stream is not None:
            size += entry.stream.bytes  # a streaming reply's pieces count too
        with self._lock:
            if entry.done:
                return
            entry.done, entry.wire, entry.size, entry.done_at = True, wire, size, time.monotonic()
            entry.is_reply = outcome.WhichOneof("result") == "reply"
            callbacks, entry.callbacks = entry.callbacks or [], None
            entry.read = bool(callbacks)
            if self._entries.get(entry.task_id) is entry:
                self._finished[entry.task_id] = entry
                self._bytes += size
                self._make_room(keep=entry)
        for callback in callbacks:
            callback(entry)

    def entry(self, task_id: str) -> Entry:
        """The entry of a task (raises StoreError if it is unknown or gone)."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                raise self._missing(task_id)
            return entry

    def on_done(self, task_id: str, callback: Callback) -> Callable[[], None]:
        """Call ``callback(entry)`` once the task is done (now, if it is); returns a remover.

        Raises:
            StoreError: the id is malformed, unknown, expired or released.
        """
        check_task_id(task_id)
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                mesh, k = self._item(task_id)
            elif entry.callbacks is not None:
                entry.callbacks.append(callback)
                return lambda: self._remove(entry, callback)
            else:
                entry.read = True
        if entry is None:  # one reply of a mesh call (its callback may run now: outside the lock)
            remove = mesh.on_item(k, callback)  # type: ignore[attr-defined]
            return remove or _nothing
        callback(entry)
        return _nothing

    def _remove(self, entry: Entry, callback: Callback) -> None:
        with self._lock:
            if entry.callbacks is not None:
                try:
                    entry.callbacks.remove(callback)
                except ValueError:
                    pass

    def wait(self, task_id: str, timeout: float | None, on_end: OnEnd | None = None) -> Entry | None:
        """The finished entry, waiting at most ``timeout`` seconds (None if not ready by then).

        Args:
            task_id: the task.
            timeout: seconds; None, or more than ``MAX_WAIT_S``, waits ``MAX_WAIT_S``.
            on_end: registers a callback for when the waiter goes away (gRPC's
                ``context.add_callback``; it returns False if it is gone already):
                the wait ends then, so a cancelled fetch leaves no waiter.
        """
        done = threading.Event()
        remove = self.on_done(task_id, lambda entry: done.set())
        try:
            if on_end is None or on_end(done.set):
                done.wait(MAX_WAIT_S if timeout is None else max(0.0, min(timeout, MAX_WAIT_S)))
        finally:
            remove()
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                mesh, k = self._item(task_id)
                return mesh.view(k)  # type: ignore[attr-defined, no-any-return]
            if not entry.done:
                return None
            entry.read = True
            return entry

    def _item(self, task_id: str) -> tuple[Entry, int]:
        """The mesh call entry and index an item id names (call with the lock; raises StoreError)."""
        parts = split_item(task_id)
        if parts is not None:
            mesh = self._entries.get(parts[0])
            local = getattr(mesh, "local", False)  # an in-process call's replies are never read from here
            if mesh is not None and mesh.mesh and not local and 0 <= parts[1] < len(mesh.items):  # type: ignore[attr-defined]
                return mesh, parts[1]
        raise self._missing(task_id)

    def release(self, task_ids: list[str]) -> None:
        """Forget finished results nobody will read again."""
        with self._lock:
            for task_id in task_ids:
                entry = self._entries.get(task_id)
                if entry is not None and entry.done:
                    self._drop(entry, "released")

    def waiters(self) -> int:
        """Callbacks registered on unfinished entries or awaited keys (for tests and status)."""
        with self._lock:
            return sum(len(e.callbacks or ()) for e in self._entries.values()) + self._expecting

    # -- call keys -------------------------------------------------------------

    def name_key(self, entry: Entry, key: str, readable: bool = False) -> None:
        """Find ``entry`` (just issued) by its caller's call key too (a resend); if ``readable``
        (the caller chose the key as a secret), tell who awaited the key to read the task."""
        with self._lock:
            entry.key, entry.key_reads = key, readable
            if key not in self._keyed and self._entries.get(entry.task_id) is entry:
                self._keyed[key] = entry
            waiting = self._expected.pop(key, None) if readable else None
            if waiting:
                self._expecting -= len(waiting)
        for found in waiting or ():
            found(entry)

    def keyed(self, key: str) -> Entry | None:
        """The entry of the call with this key; None if no such call came (raises StoreError
        if it came and its result went)."""
        with self._lock:
            entry = self._keyed.get(key)
            if entry is None:
                self._check_gone(key)
            return entry

    def on_key(self, key: str, found: Callback) -> Callable[[], bool]:
        """Call ``found(entry)`` once a call with this key is here (now, if it is).

        Returns a remover; it returns True if it ended the wait (``found`` was not
        called and will not be), False if the key came first. The caller of
        ``on_key`` bounds the wait: the store keeps it until the key comes or the
        remover runs.

        Raises:
            StoreError: the key is malformed, its call's result went, or too many
                keys are awaited ('full').
        """
        check_task_id(key, "call key")
        with self._lock:
            entry = self._keyed.get(key)
            if entry is not None and not entry.key_reads:
                entry = None  # a key that only keeps resends apart (maybe guessable) names nothing
            if entry is None:
                self._check_gone(key)
                if self._expecting >= self._max:
                    raise StoreError(
                        "full", f"this server already awaits {self._expecting:,} calls named by key"
                    )
                self._expected.setdefault(key, []).append(found)
                self._expecting += 1
                return lambda: self._unexpect(key, found)
        found(entry)
        return _ended

    def _check_gone(self, key: str) -> None:
        """Raise why the result of the call with this key went, if it came and went lately
        (call with the lock)."""
        task = self._gone_keys.get(int(key, 16)) if TASK_ID.fullmatch(key) else None
        if task is not None:
            raise self._missing(f"{task:032x}")

    def _unexpect(self, key: str, found: Callback) -> bool:
        with self._lock:
            waiting = self._expected.get(key)
            if waiting is None or found not in waiting:
                return False
            waiting.remove(found)
            self._expecting -= 1
            if not waiting:
                del self._expected[key]
            return True

    # -- bounds ----------------------------------------------------------------

    def _make_room(self, keep: Entry | None = None) -> None:
        """Drop the oldest finished results while over a bound (never ``keep``, just finished)."""
        now = time.monotonic()
        while self._finished:
            entry = next(iter(self._finished.values()))  # the oldest finished result
            if entry is keep:
                break
            if self._bytes > self._max_bytes:
                self._drop(entry, "budget")  # a hard bound: memory, not courtesy
            elif len(self._entries) >= self._max:
                if not entry.read and now - entry.done_at < UNREAD_GRACE:
                    break  # still to be read: the store is full rather than lose it
                self._drop(entry, "budget")
            elif now - entry.done_at > self._ttl:
                self._drop(entry, "ttl")
            else:
                break

    def _drop(self, entry: Entry, why: str) -> None:
        del self._entries[entry.task_id]
        del self._finished[entry.task_id]
        self._bytes -= entry.size
        key = int(entry.task_id, 16)
        if why == "released":
            self._released[key] = entry.agent
        else:
            self._expired[key] = (entry.agent, why)
        self._gone.append(key)
        while len(self._gone) > 4 * self._max:
            oldest = self._gone.popleft()
            if self._released.pop(oldest, None) is None:
                self._expired.pop(oldest, None)
        if entry.key and self._keyed.get(entry.key) is entry:
            del self._keyed[entry.key]
        if entry.key_reads:
            self._gone_keys[int(entry.key, 16)] = key
            while len(self._gone_keys) > GONE_KEYS:
                del self._gone_keys[next(iter(self._gone_keys))]

    def _missing(self, task_id: str) -> StoreError:
        parts = split_item(task_id) if TASK_ID.fullmatch(task_id) else None
        base = int(parts[0], 16) if parts is not None else -1
        if parts is not None and (base in self._expired or base in self._released):
            task_id = parts[0]  # a reply of a mesh call that went: say why it went
        key = int(task_id, 16) if TASK_ID.fullmatch(task_id) else -1
        agent = self._released.get(key)
        gone = (agent, "released") if agent is not None else self._expired.get(key)
        if gone is None:
            return StoreError(
                "unknown_task",
                f"no task {task_id} on this server (instance {self._server_id}): it was never "
                "made here, or it was made by an earlier run of this server",
            )
        agent, why = gone
        if why == "released":
            return StoreError(
                "released",
                f"the result of agent {agent!r} (task {task_id}) was released: its caller said "
                "nobody would read it again",
            )
        kept = f"kept {self._ttl:.0f} s" if why == "ttl" else (
            f"at most {self._max:,} results and {self._max_bytes / 2**20:,.0f} MiB"
        )  # fmt: skip
        return StoreError(
            "expired",
            f"the result of agent {agent!r} (task {task_id}) has expired from the server's result "
            f"store ({kept}); read results sooner or raise Limits(result_ttl=..., max_results=..., "
            "result_bytes=...)",
        )


def _nothing() -> None:
    pass


def _ended() -> bool:
    return False
