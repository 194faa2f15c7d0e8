"""The graph's immutable views and options: what a snapshot of the dataflow model holds.

Plain data for renderers and exports, safe to read from any thread (see
:mod:`agentnb.notebook.graph._model` for what nodes, edges and messages mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DRIVER = "driver"
STATES = ("queued", "running", "streaming", "done", "error")
#: What a pool of servers says about an agent (events of these kinds carry no task).
MARKS = ("lost", "respawned")


@dataclass(frozen=True)
class ModelOptions:
    """What the model keeps and how it groups.

    Attributes:
        last: show only the last N messages (None: all of them).
        group: one edge per (source, target) pair with a count; False draws
            every message as its own edge (then ``last`` defaults to 100).
        keep: messages kept for export (:meth:`GraphModel.as_dict`).
        calls: calls remembered (their states, previews and timings).
    """

    last: int | None = None
    group: bool = True
    keep: int = 10_000
    calls: int = 100_000

    def scope(self) -> int | None:
        return self.last if self.last is not None or self.group else 100


@dataclass(frozen=True)
class MessageView:
    """One message (a call's input), as of a snapshot.

    ``state`` is the consuming call's; ``preview`` and ``message_id`` are the
    producer's reply (for a placeholder input; ``"error: ..."`` if it failed)
    or the caller's direct input (no id: events do not carry it). Times are
    the servers' ``time.time()``: ``ready_at`` when the content existed (the
    producer finished, or the call was queued), then the consuming call's
    ``queued_at``, ``started_at`` and ``finished_at``.
    """

    source: str
    target: str
    task_id: str
    source_task: str
    state: str
    preview: str
    message_id: str
    ready_at: float | None
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    error: str


@dataclass(frozen=True)
class NodeView:
    """One agent (or the driver), as of a snapshot."""

    name: str
    state: str
    address: str
    queued: int
    running: int
    done: int
    errors: int
    last_reply: str
    last_error: str
    members: int = 1  # agents in this node (more than one when agents are grouped)
    mark: str = ""  # "lost" (its server is gone) or "respawned" (rebuilt elsewhere) by a pool
    mark_note: str = ""  # why

    @property
    def calls(self) -> int:
        return self.queued + self.running + self.done + self.errors


@dataclass(frozen=True)
class EdgeView:
    """One edge, as of a snapshot: ``count`` messages, coloured by the latest."""

    key: tuple[Any, ...]
    source: str
    target: str
    state: str
    count: int
    counts: dict[str, int]
    label: str
    latest: MessageView


@dataclass(frozen=True)
class CallView:
    """One call (task), as of a snapshot: who ran it, when, and which placeholders it consumed.

    ``inputs`` holds ``(producer agent, producer task id)`` per placeholder
    input; times are the servers' ``time.time()`` (None until seen).
    """

    task_id: str
    agent: str
    caller: str
    state: str
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    inputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the model, for renderers on any thread."""

    nodes: tuple[NodeView, ...]
    edges: tuple[EdgeView, ...]
    version: int
    shape_version: int
    label_version: int
    messages: int
    note: str = ""  # what a reduced view leaves out (grouping), for the caption
