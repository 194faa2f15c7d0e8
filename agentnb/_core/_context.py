"""Which agent the current thread is running ``reply`` for (set on servers).

Used to name the caller when a reply calls another distributed agent, and to
route printed output to the task that produced it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskContext:
    """A reply in progress: its agent, task id, where its printed text goes, who
    answers its ``input()`` (the server's console) and its result-store entry
    (which says when it must stop); the last two are None outside a server."""

    agent: str
    task_id: str
    emit: Callable[[str], None]
    console: Any = None
    entry: Any = None


_local = threading.local()


def current_task() -> TaskContext | None:
    """The task this thread is running, or None outside a reply."""
    return getattr(_local, "task", None)


def set_current_task(task: TaskContext | None) -> None:
    _local.task = task
