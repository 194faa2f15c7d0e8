"""A graph of one named run: the events of the run's calls reach the model, no others.

``agentnb.graph(run="lesson")`` follows the latest run of that name (see
:mod:`agentnb._facade._runs`). The driver learns which calls are the run's
when their servers acknowledge them, and a server's events about a call may
come before that (a call read at once is sent and answered in one round
trip), so events of calls not known yet are held back (a bounded number)
until the run says whose they are, or until the run is settled (its block
closed, every call acknowledged): then they are not the run's.

A new run of the name starts the graph over.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from ..._core._events import GONE, Event
from ..._facade._runs import Run, follow, latest
from ._model import GraphModel

#: At most this many events of calls not known yet are held back (the oldest go first).
HELD = 50_000


class RunScope:
    """Feeds a model with the events of the latest run of ``name`` only.

    Args:
        name: the run's name.
        model: the model to feed (cleared when a new run of the name starts).
        changed: called after the model changed outside :meth:`offer` (a joined call, a new run).
    """

    def __init__(self, name: str, model: GraphModel, changed: Callable[[], None]) -> None:
        self.name = name
        self._model = model
        self._changed = changed
        self._lock = threading.RLock()
        self._run: Run | None = None
        self._members: set[str] = set()
        self._held: OrderedDict[str, list[Event]] = OrderedDict()
        self._count = 0  # events held
        self._leave: Callable[[], None] | None = None
        self._unfollow = follow(name, self._started)
        run = latest(name)
        if run is not None:
            self._use(run)

    @property
    def run(self) -> Run | None:
        """The run shown (None before a run of the name started)."""
        return self._run

    def offer(self, event: Event) -> bool:
        """An event from the session: applied if it is about the run; True if the model changed."""
        with self._lock:
            if event.kind == GONE:
                return self._model.apply(event)
            if event.task_id in self._members:
                return self._model.apply(event)
            run = self._run
            if run is None or not event.task_id or run.settled:
                self._drop_held(run)
                return False
            self._held.setdefault(event.task_id, []).append(event)
            self._count += 1
            while self._count > HELD and self._held:
                _, dropped = self._held.popitem(last=False)
                self._count -= len(dropped)
            return False

    def _drop_held(self, run: Run | None) -> None:
        if self._held and (run is None or run.settled):
            self._held.clear()
            self._count = 0

    def _started(self, run: Run) -> None:
        """A new run of the name: show it instead (from nothing)."""
        self._use(run)
        self._changed()

    def _use(self, run: Run) -> None:
        with self._lock:
            if self._leave is not None:
                self._leave()
            self._run = run
            self._members = set()
            self._held.clear()
            self._count = 0
            self._model.clear()
            self._leave = run.subscribe(self._joined)
            for task_id in run.task_ids():  # acknowledged before this graph followed it
                self._members.add(task_id)

    def _joined(self, task_id: str) -> None:
        with self._lock:
            self._members.add(task_id)
            held = self._held.pop(task_id, [])
            self._count -= len(held)
            changed = self._model.extend(held)
        if changed:
            self._changed()

    def close(self) -> None:
        """Stop following the name (and the run)."""
        with self._lock:
            self._unfollow()
            if self._leave is not None:
                self._leave()
                self._leave = None
            self._held.clear()
            self._count = 0
