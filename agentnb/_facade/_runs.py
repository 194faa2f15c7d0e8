"""Named runs: the calls made inside ``with agentnb.run(name):``, so that a graph shows just them.

A notebook's lesson makes some calls, its exercises more. A graph that
follows everything ends on whatever ran last; a graph of a *run* shows the
calls the lesson's text talks about, however many cells come after::

    g = agentnb.graph(run="lesson")      # follows the run named "lesson"
    with agentnb.run("lesson"):          # the calls made in this block are the run
        a = A(); b = B(a); f = F([a, b])

* Entering ``run(name)`` starts a new run of that name: graphs that follow the
  name start over with it (run the cell again: the graph shows the new run).
* A call belongs to the run that is current where it is made (this thread,
  or this asyncio task: a context variable); reading its reply later, outside
  the block, changes nothing.
* Calls are known by the task ids their servers give them; a run tells its
  followers each one as it is acknowledged. Calls that agents make from their
  own ``reply`` are not the run's (the driver does not make them).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable

from .._runtime._calls import Call

#: Told each task id of the run, as its server acknowledges the call.
Joined = Callable[[str], None]
#: Told each new run of a name it follows.
Started = Callable[["Run"], None]

_current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("agentnb_run", default=None)
_lock = threading.Lock()
#: The latest run of each name, and who follows each name (kept across re-imports).
_latest: dict[str, Run] = globals().get("_latest", {})
_followers: dict[str, list[Started]] = globals().get("_followers", {})


class Run:
    """A named run: the calls made inside its ``with`` block (see the module doc).

    Attributes:
        name: its name.
        started_at: when its block was entered (``time.time()``; 0 before).
        ended_at: when its block was left (None while it is open).
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a run needs a name (a non-empty string), got {name!r}")
        self.name = name
        self.started_at = 0.0
        self.ended_at: float | None = None
        self._lock = threading.Lock()
        self._tasks: list[str] = []
        self._unacked = 0
        self._listeners: list[Joined] = []
        self._token: contextvars.Token[Run | None] | None = None

    # -- the block -------------------------------------------------------------

    def __enter__(self) -> Run:
        if self._token is not None or self.started_at:
            raise RuntimeError(f"run {self.name!r} was entered already: make a new one, agentnb.run(name)")
        self.started_at = time.time()
        with _lock:
            _latest[self.name] = self
            followers = list(_followers.get(self.name, ()))
        for started in followers:
            started(self)
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        self.ended_at = time.time()

    # -- its calls -------------------------------------------------------------

    def note(self, call: Call) -> None:
        """``call`` was made inside the block: it joins once its server acknowledges it."""
        with self._lock:
            self._unacked += 1
        call.when_acked(lambda: self._joined(call.task_id))

    def _joined(self, task_id: str) -> None:
        with self._lock:
            self._unacked -= 1
            if task_id:
                self._tasks.append(task_id)
            listeners = list(self._listeners)
        for listener in listeners:
            if task_id:
                listener(task_id)

    def task_ids(self) -> list[str]:
        """The task ids of its calls acknowledged so far, in that order."""
        with self._lock:
            return list(self._tasks)

    @property
    def settled(self) -> bool:
        """Its block is closed and every call made in it was acknowledged (or failed before)."""
        with self._lock:
            return self.ended_at is not None and self._unacked == 0

    def subscribe(self, joined: Joined) -> Callable[[], None]:
        """Tell ``joined`` each task id acknowledged from now on; returns the unsubscribe."""
        with self._lock:
            self._listeners.append(joined)

        def unsubscribe() -> None:
            with self._lock:
                if joined in self._listeners:
                    self._listeners.remove(joined)

        return unsubscribe

    def __repr__(self) -> str:
        state = "not started" if not self.started_at else "open" if self.ended_at is None else "closed"
        return f"<agentnb run {self.name!r} ({state}, {len(self._tasks)} calls)>"


def run(name: str = "run") -> Run:
    """A named run for a ``with`` block: the calls made inside are the run (see the module doc).

    ``agentnb.graph(run=name)`` shows the latest run of that name, and says where its time went.

    Args:
        name: the run's name; entering a run of a name used before starts that name over.

    Returns:
        The run; enter it with ``with``.
    """
    return Run(name)


def note_call(call: Call) -> None:
    """A call was made: it belongs to the run current here, if any (a cheap look-up)."""
    current = _current.get()
    if current is not None:
        current.note(call)


def latest(name: str) -> Run | None:
    """The latest run of ``name`` that was entered (None before any)."""
    with _lock:
        return _latest.get(name)


def follow(name: str, started: Started) -> Callable[[], None]:
    """Tell ``started`` every new run of ``name`` from now on; returns the unfollow."""
    with _lock:
        _followers.setdefault(name, []).append(started)

    def unfollow() -> None:
        with _lock:
            mine = _followers.get(name, [])
            if started in mine:
                mine.remove(started)
            if not mine:
                _followers.pop(name, None)

    return unfollow
