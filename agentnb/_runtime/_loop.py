"""The background event-loop thread of a process, and the one bridge into it.

Everything runs on the loop in an empty ``contextvars`` context, never in a
copy of the caller's: context variables set by whoever scheduled the work (a
notebook cell's output parent, above all) must not stick to the long-lived
tasks of the loop, or remote output would land in whichever cell happened to
start them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A daemon thread running an asyncio loop, started on first use.

    After ``fork`` the child gets a fresh loop: loops and gRPC channels do not
    survive a fork.
    """

    def __init__(self, name: str = "agentnb-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or not self._loop.is_running():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("agentnb's event-loop thread did not start within 10 s")
        self._loop, self._thread, self._pid = loop, thread, os.getpid()

    @property
    def started(self) -> bool:
        return self._loop is not None and self._pid == os.getpid()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread soon (from any thread), in an empty context."""
        if threading.current_thread() is self._thread:  # no need to wake the loop through its pipe
            self.loop.call_soon(fn, *args, context=contextvars.Context())
        else:
            self.loop.call_soon_threadsafe(fn, *args, context=contextvars.Context())

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the loop (in an empty context); returns a thread-safe future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def start() -> None:
            if not future.set_running_or_notify_cancel():
                coro.close()
                return
            task = asyncio.ensure_future(coro)
            task.add_done_callback(lambda t: _copy(t, future))
            future.add_done_callback(
                lambda f: f.cancelled() and task.get_loop().call_soon_threadsafe(task.cancel)
            )

        self.call_soon(start)
        return future

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run a coroutine on the loop and wait for it, at most ``timeout`` seconds."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("agentnb: a blocking call was made from its own event-loop thread")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def call(self, fn: Callable[[], T], timeout: float) -> T:
        """Run a plain function on the loop thread (e.g. to spawn from a long-lived thread)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and loop.is_running() and self._pid == os.getpid():
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)


def _copy(task: asyncio.Future[T], future: concurrent.futures.Future[T]) -> None:
    """Hand a finished task's outcome to a thread-safe future."""
    if future.done():
        return
    if task.cancelled():
        future.cancel()
    elif task.exception() is not None:
        future.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        future.set_result(task.result())
