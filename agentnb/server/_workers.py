"""An elastic thread pool: jobs never wait behind threads stuck in user code.

A reply is user code that may block for a long time (a model call, a hung
socket). With a fixed pool, as many hung replies as threads would stop every
other agent of the server. Here the pool keeps up to ``core`` threads for
bursts of short jobs, and a watchdog adds a thread whenever jobs wait and no
job finished for ``STALL_S`` seconds (every running one is slow or stuck),
up to ``max_threads``; a burst of short jobs never grows the pool. Threads
idle for ``idle_s`` seconds exit, down to ``core``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("agentnb.server")

#: A job that waited this long means every thread is busy with something slow.
STALL_S = 0.05

_Job = tuple[Callable[..., Any], tuple[Any, ...], "concurrent.futures.Future[Any] | None", float]


class ElasticPool(concurrent.futures.Executor):
    """``submit`` (returns a future) and ``run`` (fire and forget) on threads made as needed."""

    def __init__(self, name: str, max_threads: int, core: int = 8, idle_s: float = 30.0) -> None:
        if max_threads < 1:
            raise ValueError(
                f"{name}: the most threads (Limits.workers) must be at least 1, got {max_threads}"
            )
        self._name = name
        self._max = max_threads
        self._core = max(1, min(core, self._max))
        self._idle_s = idle_s
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0
        self._closed = False
        self._watchdog: threading.Thread | None = None
        self._backlog = threading.Event()  # jobs wait with no idle thread: the watchdog looks
        self._finished = 0  # jobs finished, for the watchdog to see progress
        self._warned = False

    @property
    def threads(self) -> int:
        return self._threads

    def run(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a pool thread; an exception is logged."""
        self._put((fn, args, None, time.monotonic()))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if kwargs:
            self._put((lambda: fn(*args, **kwargs), (), future, time.monotonic()))
        else:
            self._put((fn, args, future, time.monotonic()))
        return future

    def _put(self, job: _Job) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError(f"the {self._name} pool is shut down")
            self._jobs.append(job)
            if self._idle >= len(self._jobs):
                self._cond.notify()
                return
            if self._threads < self._core:
                self._start()
                return
            self._backlog.set()
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name=f"{self._name}-watchdog", daemon=True
                )
                self._watchdog.start()

    def _start(self) -> None:
        """Add a thread (call with the lock held)."""
        self._threads += 1
        threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True).start()

    def _watch(self) -> None:
        seen = -1
        while True:
            self._backlog.wait()
            time.sleep(STALL_S)  # the watchdog's own pace while jobs wait
            with self._cond:
                if self._closed:
                    return
                if not self._jobs:
                    self._backlog.clear()
                    seen = -1
                    continue
                stuck = self._finished == seen  # nothing finished since the last look
                seen = self._finished
                if stuck and self._idle == 0 and time.monotonic() - self._jobs[0][3] > STALL_S:
                    if self._threads < self._max:
                        self._start()
                    elif not self._warned:
                        self._warned = True
                        log.warning(
                            "%s: all %d threads are busy (hung replies?); new jobs wait for one",
                            self._name, self._max,
                        )  # fmt: skip

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    if self._closed:
                        self._threads -= 1
                        return
                    self._idle += 1
                    woke = self._cond.wait(self._idle_s)
                    self._idle -= 1
                    if not woke and not self._jobs and self._threads > self._core:
                        self._threads -= 1
                        return
                fn, args, future, _ = self._jobs.popleft()
            if future is None:
                try:
                    fn(*args)
                except BaseException:  # noqa: BLE001 - a job must not kill its thread
                    log.exception("%s: a job failed", self._name)
            elif future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the future
                    future.set_exception(exc)
            self._finished += 1  # (a lost update under a race only delays the watchdog a tick)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cond:
            self._closed = True
            self._backlog.set()
            if cancel_futures:
                for _, _, future, _ in self._jobs:
                    if future is not None:
                        future.cancel()
                self._jobs.clear()
            self._cond.notify_all()
