"""Text printed (or logged to stderr) by a reply becomes OUTPUT events of its task.

:func:`install` replaces ``sys.stdout`` and ``sys.stderr`` once per process
with :class:`TaskOutput`. Writes from a thread that is running a reply are
split into lines and handed to that task's ``emit``; writes from anywhere else
go to the stream that was there before (the server log, or a notebook cell).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from .._core._context import current_task
from .._proto import agentnb_pb2 as pb
from ._events import split_text


class TaskPrints:
    """What one task printed, as numbered chunks.

    Each chunk is published at once (an OUTPUT event carrying its number, for
    live display) and the first ``budget`` bytes are also kept for the task's
    outcome, so a reader shows everything the reply printed before it
    returned, before its result, each chunk once.
    """

    __slots__ = ("_publish", "_budget", "_kept", "_cut", "_next", "_lock")

    def __init__(self, publish: Callable[[int, str], None], budget: int) -> None:
        self._publish = publish
        self._budget = budget
        self._kept: list[pb.OutputChunk] = []
        self._cut = 0
        self._next = 0
        self._lock = threading.Lock()

    def emit(self, text: str) -> None:
        for piece in split_text(text):
            with self._lock:  # numbers and publishing in one order
                number = self._next
                self._next += 1
                if len(piece) <= self._budget:
                    self._budget -= len(piece)
                    self._kept.append(pb.OutputChunk(chunk=number, text=piece))
                else:
                    self._budget = 0
                    self._cut += len(piece)
                self._publish(number, piece)

    def fill(self, outcome: pb.Outcome) -> pb.Outcome:
        """Put the kept chunks (and how much was cut) into an outcome."""
        with self._lock:
            outcome.output.extend(self._kept)
            outcome.output_cut = self._cut
        return outcome


class TaskOutput(io.TextIOBase):
    def __init__(self, real: TextIO) -> None:
        self._real = real
        self._local = threading.local()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8")

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        task = current_task()
        if task is None:
            return self._real.write(text)
        buffered = getattr(self._local, "buffer", "") + text
        *lines, rest = buffered.split("\n")
        self._local.buffer = rest
        if lines:
            task.emit("\n".join(lines) + "\n")
        return len(text)

    def flush_task(self) -> None:
        """Hand over what the current task wrote without a final newline."""
        task, rest = current_task(), getattr(self._local, "buffer", "")
        self._local.buffer = ""
        if task is not None and rest:
            task.emit(rest)

    def take_partial(self) -> str:
        """Take what the current thread wrote after its last newline (``input()``'s prompt)."""
        rest = getattr(self._local, "buffer", "")
        self._local.buffer = ""
        return rest

    def flush(self) -> None:
        self._real.flush()

    def fileno(self) -> int:
        return self._real.fileno()


_lock = threading.Lock()


def install() -> None:
    """Make this process's stdout/stderr task-aware (idempotent)."""
    with _lock:
        if not isinstance(sys.stdout, TaskOutput):
            sys.stdout = TaskOutput(sys.stdout)
        if not isinstance(sys.stderr, TaskOutput):
            sys.stderr = TaskOutput(sys.stderr)


def take_partial() -> str:
    """What this thread's reply printed on its current line, not shown yet (a prompt)."""
    stream = sys.stdout
    return stream.take_partial() if isinstance(stream, TaskOutput) else ""


def flush_task() -> None:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, TaskOutput):
            stream.flush_task()


class TaskLogHandler(logging.Handler):
    """Log records made while running a reply become that task's output."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        task = current_task()
        if task is not None:
            try:
                task.emit(self.format(record) + "\n")
            except Exception:  # noqa: BLE001 - logging must never raise
                self.handleError(record)


def _not_in_task(record: logging.LogRecord) -> bool:
    return current_task() is None


def install_logging(exclusive: bool) -> None:
    """Route replies' log records to their task (idempotent).

    Args:
        exclusive: this process is a server (``python -m agentnb.server``): keep
            replies' records out of its own log, they go to the caller instead.
    """
    root = logging.getLogger()
    with _lock:
        if any(isinstance(h, TaskLogHandler) for h in root.handlers):
            return
        if exclusive:
            for handler in root.handlers:
                handler.addFilter(_not_in_task)
        root.addHandler(TaskLogHandler())
