"""Mailboxes: each agent runs one job at a time, in arrival order (the actor guarantee).

A job waits for its inputs (placeholders being resolved) without holding a
thread: the mailbox parks and resumes when they are ready. Jobs run in
arrival order while their inputs' servers are healthy; a job whose input's
server falls into trouble (refused, broken, silent: see ``_runtime._watch``)
is set aside, so the agent answers its other calls meanwhile, and runs (or
fails, with the error naming that server) when the input arrives or its
wait runs out. An idle agent's
job can run in the thread that posted it (``inline``): that is how a call
whose caller waits for the reply costs no thread hop at all.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .._core._errors import RemoteError
from .._core._message import Msg

if TYPE_CHECKING:
    from ._output import TaskPrints
    from ._store import Entry


class Inputs:
    """The inputs of one job, some of which may still be on their way."""

    __slots__ = ("values", "error", "doubted", "_pending", "_waiter", "_aside", "_lock")

    def __init__(self, values: list[Any], pending: int) -> None:
        self.values = values
        self.error: RemoteError | None = None
        self.doubted = False  # an input's server fell into trouble while it was awaited
        self._pending = pending
        self._waiter: Callable[[], None] | None = None
        self._aside: Callable[[], None] | None = None
        self._lock = threading.Lock() if pending else None

    @property
    def ready(self) -> bool:
        return self._pending == 0 or self.error is not None

    def resolve(self, index: int, value: Msg | list[Msg] | RemoteError | None) -> None:
        """One input arrived (or failed; a list: the replies of a mesh call); runs the waiter
        when the last one does."""
        assert self._lock is not None
        with self._lock:
            if isinstance(value, RemoteError):
                if self.error is None:
                    self.error = value
            else:
                self.values[index] = value
            self._pending -= 1
            waiter = self._waiter if self.ready else None
            if waiter is not None:
                self._waiter = self._aside = None
        if waiter is not None:
            waiter()

    def doubt(self) -> None:
        """An awaited input's server is in trouble: a mailbox parked on these inputs moves on."""
        if self._lock is None:
            return
        with self._lock:
            if self.ready or self.doubted:
                return
            self.doubted = True
            aside, self._aside = self._aside, None
            if aside is not None:
                self._waiter = None
        if aside is not None:
            aside()

    def park(self, resume: Callable[[], None], aside: Callable[[], None]) -> bool:
        """Wait in a mailbox: ``resume()`` once every input is there, or ``aside()`` (once, and
        then no ``resume``) if an input's server is or falls into trouble first. False: the
        inputs are ready, run the job now."""
        assert self._lock is not None
        with self._lock:
            if self.ready:
                return False
            if not self.doubted:
                self._waiter, self._aside = resume, aside
                return True
        aside()
        return True

    def when_ready(self, waiter: Callable[[], None]) -> None:
        """Run ``waiter`` once every input is there (at once if they are)."""
        if self._lock is not None:
            with self._lock:
                if not self.ready:
                    self._waiter = waiter
                    return
        waiter()


READY = Inputs([], 0)


def flat(values: list[Any]) -> list[Any]:
    """Input values with the replies of mesh calls (lists) spliced in, in order."""
    if not any(type(v) is list for v in values):
        return list(values)
    return [v for value in values for v in (value if type(value) is list else (value,))]


class Job:
    """One mailbox item: building the agent, a call, or an observation."""

    __slots__ = ("kind", "inputs", "shape", "entry", "method", "args", "prints", "cancelled")

    def __init__(
        self,
        kind: str,
        inputs: Inputs = READY,
        shape: str = "none",
        entry: Entry | None = None,
        method: str = "",
        args: Any = None,
        prints: TaskPrints | None = None,
    ) -> None:
        self.kind = kind  # "build", "call" or "observe"
        self.inputs = inputs
        self.shape = shape  # how reply receives the inputs: "none", "one" or "list"
        self.entry = entry
        self.method = method
        self.args = args
        self.prints = prints
        self.cancelled = False

    @property
    def task_id(self) -> str:
        return self.entry.task_id if self.entry is not None else ""


#: Mailboxes share these locks (a lock per agent cost 88 bytes each). A mailbox
#: holds its lock only to queue or take a job, and never takes another's.
_LOCKS = tuple(threading.Lock() for _ in range(256))

#: Runs one job of an owner's mailbox: ``run(owner, job)``.
Runner = Callable[[Any, Job], None]
Spawner = Callable[..., None]


class Mailbox:
    """Runs one job at a time in order; holds no thread while idle or waiting for inputs."""

    __slots__ = ("_owner", "_run", "_spawn", "_lock", "_queue", "_busy", "current")

    def __init__(self, owner: Any, run: Runner, spawn: Spawner) -> None:
        # ``run`` and ``spawn`` are shared by every mailbox of a server (a closure per
        # agent cost a few hundred bytes each; a server may host 100,000 agents)
        self._owner = owner
        self._run = run
        self._spawn = spawn  # run(fn, *args) on a worker thread
        self._lock = _LOCKS[id(self) >> 4 & (len(_LOCKS) - 1)]  # held briefly, never two at once
        self._queue: deque[Job] | None = None
        self._busy = False
        self.current: Job | None = None

    @property
    def queued(self) -> int:
        return len(self._queue or ())

    @property
    def busy(self) -> bool:
        """A job runs or waits (a glance: it may change at once)."""
        return self._busy

    def post(self, job: Job, inline: bool = False) -> None:
        """Queue ``job``; with ``inline``, run it in this thread if the agent is idle and it is ready."""
        with self._lock:
            if self._busy:
                if self._queue is None:
                    self._queue = deque()
                self._queue.append(job)
                return
            self._busy = True
        if inline and job.inputs.ready:
            self._execute(job)
            following = self._pop()
            if following is not None:
                self._spawn(self._drain, following)
        else:
            self._spawn(self._drain, job)

    def _drain(self, job: Job | None) -> None:
        while job is not None:
            if not job.inputs.ready:
                if job.inputs.park(partial(self._spawn, self._drain, job), partial(self._set_aside, job)):
                    return
                continue
            self._execute(job)
            job = self._pop()

    def _set_aside(self, job: Job) -> None:
        """The parked job's input may never come: post it again once it came or failed, and
        run what waits behind it meanwhile."""
        job.inputs.when_ready(partial(self.post, job))
        following = self._pop()
        if following is not None:
            self._spawn(self._drain, following)

    def _execute(self, job: Job) -> None:
        self.current = job
        try:
            self._run(self._owner, job)
        finally:
            self.current = None

    def _pop(self) -> Job | None:
        with self._lock:
            while self._queue:
                job = self._queue.popleft()
                if not job.cancelled:
                    return job
            self._queue = None
            self._busy = False
            return None

    def withdraw(self, wanted: Callable[[Job], bool]) -> list[Job]:
        """Take queued jobs that have not started out of the mailbox."""
        with self._lock:
            taken = [job for job in self._queue or () if not job.cancelled and wanted(job)]
            for job in taken:
                job.cancelled = True
            return taken
