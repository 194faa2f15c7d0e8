"""The dataflow model's mutable records (calls, messages, edges, nodes) and the views they hand out.

Private to :mod:`agentnb.notebook.graph._model`, which holds its lock while it
touches them. Each record caches its immutable view until something changes.
"""

from __future__ import annotations

from typing import Any

from ._labels import edge_label
from ._views import STATES, CallView, EdgeView, MessageView, NodeView

RANK = {"queued": 0, "running": 1, "streaming": 2, "done": 3, "error": 3}


class Call:
    __slots__ = (
        "task_id", "agent", "address", "caller", "state", "known", "input_preview",
        "queued_at", "started_at", "finished_at", "reply", "message_id", "error", "messages", "cached",
    )  # fmt: skip

    def __init__(self, task_id: str, agent: str, address: str) -> None:
        self.task_id, self.agent, self.address = task_id, agent, address
        self.caller = ""
        self.state = ""
        self.known = False  # its "queued" event (with caller and inputs) was seen
        self.input_preview = self.reply = self.message_id = self.error = ""
        self.queued_at: float | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.messages: list[Message] = []
        self.cached: CallView | None = None

    def view(self) -> CallView:
        if self.cached is None:
            inputs = tuple((m.source, m.source_task) for m in self.messages if m.source_task)
            self.cached = CallView(self.task_id, self.agent, self.caller or "", self.state or "queued",
                                   self.queued_at, self.started_at, self.finished_at, inputs)  # fmt: skip
        return self.cached


class Message:
    __slots__ = ("seq", "source", "target", "call", "source_task", "preview", "message_id", "ready_at",
                 "edge")  # fmt: skip

    def __init__(self, seq: int, source: str, call: Call, source_task: str) -> None:
        self.seq, self.source, self.target, self.call = seq, source, call.agent, call
        self.source_task = source_task
        self.preview = self.message_id = ""
        self.ready_at: float | None = None
        self.edge: Edge | None = None  # None once out of scope

    def view(self) -> MessageView:
        c = self.call
        return MessageView(self.source, self.target, c.task_id, self.source_task, c.state or "queued",
                           self.preview, self.message_id, self.ready_at, c.queued_at, c.started_at,
                           c.finished_at, c.error)  # fmt: skip


class Edge:
    __slots__ = ("key", "source", "target", "count", "counts", "latest", "labelled", "cached")

    def __init__(self, key: tuple[Any, ...], source: str, target: str) -> None:
        self.key, self.source, self.target = key, source, target
        self.count = 0
        self.counts = dict.fromkeys(STATES, 0)
        self.latest: Message | None = None
        self.labelled = False
        self.cached: EdgeView | None = None  # the view, until something changes

    def view(self) -> EdgeView:
        if self.cached is None:
            m = self.latest
            assert m is not None
            state, label = m.call.state or "queued", edge_label(m.preview, self.count)
            self.cached = EdgeView(self.key, self.source, self.target, state, self.count, dict(self.counts),
                                   label, m.view())  # fmt: skip
        return self.cached


class Node:
    __slots__ = (
        "name",
        "address",
        "counts",
        "last",
        "edges",
        "present",
        "last_reply",
        "last_error",
        "mark",
        "mark_note",
        "marked_at",
        "cached",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.address = ""
        self.counts = dict.fromkeys(STATES, 0)  # queued/running: now; done/error: in total
        self.last = ""
        self.edges = 0
        self.present = False
        self.last_reply = self.last_error = ""
        self.mark = self.mark_note = ""  # what a pool said: "lost" or "respawned", and why
        self.marked_at = 0.0  # when: events of calls made before say nothing of where it is now
        self.cached: NodeView | None = None  # the view, until something changes

    @property
    def state(self) -> str:
        counts = self.counts
        if counts["streaming"] or counts["running"]:
            return "streaming" if counts["streaming"] else "running"
        return "queued" if counts["queued"] else self.last or "idle"

    def view(self) -> NodeView:
        if self.cached is None:
            c = self.counts
            running = c["running"] + c["streaming"]  # a streaming call is running
            self.cached = NodeView(self.name, self.state, self.address, c["queued"], running, c["done"],
                                   c["error"], self.last_reply, self.last_error, 1, self.mark,
                                   self.mark_note)  # fmt: skip
        return self.cached
