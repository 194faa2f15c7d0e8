"""The dataflow model behind ``agentnb.graph()``: agents as nodes, messages as edges.

Plain Python (no widget, no IPython), fed with :class:`agentnb.Event` objects
from the driver session's listeners (so one model sees one session: the
servers this driver follows), and testable from recorded event sequences.

* A **call** is one task: queued, running, then done or error.
* A **message** is one input of a call. A call to X that consumed placeholders
  carries one message from each placeholder's producing agent to X (its
  preview is that producer's reply); a call whose input came straight from
  its caller (one or more ``Msg``, or no input at all) carries one message
  caller -> X (``caller`` is ``"driver"`` or the calling agent). A message's
  state is the state of the call that consumes it.
* An **edge** groups the messages between two agents (``group=True``, with a
  count), or is one message (``group=False``). Its state is the state of its
  latest message.
* A **node** is an agent (or the driver) that an edge touches or that has a
  call in progress. Its state: running if any of its calls runs, else queued
  if any waits, else the outcome of its last call (done or error), else idle.

A "gone" event (from the driver: a server's feed ended because the server
stopped, or its calls failed because it was unreachable too long) fails
every call there that had not finished: it never will, so its agent stops
showing as running and the run can be summed up.

Events from different servers arrive in any order (a consumer's "queued" may
come before its producer's), and replays repeat them: applying an event is
idempotent and order-independent per task (states only move forward).

Versions: ``version`` changes with anything visible; ``shape_version`` only
when a node or edge appears or disappears; ``label_version`` when an edge
gains or loses a label. A renderer lays the graph out again only when the
shape (or label presence) changed, and recolours otherwise.

Thread safety: :meth:`GraphModel.apply` runs on the driver's loop thread;
:meth:`GraphModel.snapshot` returns an immutable view for any other thread.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import asdict, replace
from typing import Any

from ..._core._events import GONE, Event, InputRef
from ._html import plural
from ._labels import edge_label
from ._records import RANK as _RANK
from ._records import Call as _Call
from ._records import Edge as _Edge
from ._records import Message as _Message
from ._records import Node as _Node
from ._render import GraphRenderer, RenderOptions, dot_source
from ._views import DRIVER, MARKS, STATES, CallView, EdgeView, MessageView, ModelOptions, NodeView, Snapshot

__all__ = [
    "DRIVER",
    "CallView",
    "STATES",
    "EdgeView",
    "GraphModel",
    "MessageView",
    "ModelOptions",
    "NodeView",
    "Snapshot",
]


#: What a call that never finished because its server stopped says (hover text, previews).
STOPPED = "stopped: its server stopped before it finished"
#: How a "gone" event from a server unreachable too long begins (its preview says why).
UNREACHABLE = "unreachable: "
#: Messages waiting for a producer known only by its call key wait under this prefix and the key.
_KEY = "key:"


class GraphModel:
    """Agents and the messages between them, built from call lifecycle events."""

    def __init__(self, options: ModelOptions | None = None) -> None:
        self.options = options or ModelOptions()
        self._scope_size = self.options.scope()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._waiting: OrderedDict[str, list[_Message]] = OrderedDict()  # producer task -> its messages
        #: call key -> task id, from "queued" events: an input may name its producer by key
        self._keys: OrderedDict[str, str] = OrderedDict()
        self._nodes: dict[str, _Node] = {}
        self._edges: dict[Hashable, _Edge] = {}
        self._scope: deque[_Message] = deque()
        self._log: deque[_Message] = deque(maxlen=self.options.keep)
        self._seq = 0
        self.version = self.shape_version = self.label_version = 0

    # -- feeding -----------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Merge one event; True if anything visible changed. Cheap; call from any thread."""
        if event.kind == GONE:
            return self._gone(event)
        if event.kind in MARKS:
            return self._mark(event)
        if event.kind not in _RANK or not event.task_id:
            return False
        with self._lock:
            call = self._apply(event)
            if call is None:
                return False
            self._touch(call)
            self.version += 1
            self._changed.notify_all()
            return True

    def extend(self, events: Iterable[Event]) -> bool:
        """Merge many events (a recording, a replay); True if anything changed."""
        changed = False
        for event in events:
            changed = self.apply(event) or changed
        return changed

    def _apply(self, event: Event) -> _Call | None:
        """Merge an event into its call; the call if anything changed, else None."""
        call = self._calls.get(event.task_id)
        if call is None:
            call = self._calls[event.task_id] = _Call(event.task_id, event.agent, event.address)
            node = self._node(event.agent)
            if event.timestamp >= node.marked_at:  # (a late event from a lost server is not where it is)
                node.address = event.address
            if len(self._calls) > self.options.calls:
                self._calls.popitem(last=False)
        if event.kind == "queued":
            if call.known:
                return None  # a repeat (a replayed feed)
            call.known = True
            call.caller, call.input_preview = event.caller or DRIVER, event.preview
            call.queued_at = event.timestamp
            if not call.state:
                self._move(call, "queued")
            if event.call_key:
                self._keyed(call, event.call_key)
            self._add_messages(call, event.inputs, event.direct_inputs)
            return call
        if event.kind == "running":  # its time counts even when it arrives after the outcome
            moved, late = self._move(call, "running"), call.started_at is None
            call.started_at = event.timestamp if late else call.started_at
            return call if moved or late else None
        if event.kind == "streaming":  # running, and its reply's pieces flow
            return call if self._move(call, "streaming") else None
        if not self._move(call, event.kind):
            return None
        self._finish(call, event)
        return call

    def _mark(self, event: Event) -> bool:
        """A pool lost an agent's server, or respawned the agent on another (its label says so)."""
        with self._lock:
            node = self._node(event.agent)
            if (node.mark, node.mark_note, node.address) == (event.kind, event.preview, event.address):
                return False
            node.mark, node.mark_note, node.address = event.kind, event.preview, event.address
            node.marked_at = event.timestamp
            node.cached = None
            self.version += 1
            self.shape_version += 1  # a new label: laid out again
            self._changed.notify_all()
            return True

    def _gone(self, event: Event) -> bool:
        """A server stopped: its calls that had not finished failed then."""
        with self._lock:
            stopped = [
                c
                for c in self._calls.values()
                if c.address == event.address and c.state in ("", "queued", "running")
            ]
            for call in stopped:
                self._move(call, "error")
                preview = event.preview if event.preview.startswith(UNREACHABLE) else STOPPED
                self._finish(call, replace(event, kind="error", preview=preview))
                self._touch(call)
            if stopped:
                self.version += 1
                self._changed.notify_all()
            return bool(stopped)

    def _touch(self, call: _Call) -> None:
        """Drop the cached views a change to this call may have made stale."""
        call.cached = None
        self._node(call.agent).cached = None
        for msg in call.messages:
            if msg.edge is not None:
                msg.edge.cached = None

    def _move(self, call: _Call, state: str) -> bool:
        """Move a call forward to ``state`` (never back); update its node and edges."""
        old = call.state
        if old and _RANK[state] <= _RANK[old]:
            return False
        call.state = state
        node = self._node(call.agent)
        if old:
            node.counts[old] -= 1
        node.counts[state] += 1
        for msg in call.messages:  # none yet for a new call
            if msg.edge is not None:
                msg.edge.counts[old] -= 1
                msg.edge.counts[state] += 1
        self._presence(node)
        return True

    def _finish(self, call: _Call, event: Event) -> None:
        node = self._node(call.agent)
        call.finished_at = event.timestamp
        node.last = event.kind
        if event.kind == "done":
            call.reply = node.last_reply = event.preview
            call.message_id = event.message_id
        else:
            call.error = node.last_error = event.preview
        for msg in self._waiting.pop(call.task_id, ()):
            self._carry(msg, call)

    def _carry(self, msg: _Message, producer: _Call) -> None:
        """The message now carries its producer's outcome (reply preview, id, time)."""
        msg.preview = producer.reply if producer.state == "done" else f"error: {producer.error}"
        msg.message_id, msg.ready_at = producer.message_id, producer.finished_at
        if msg.edge is not None:
            msg.edge.cached = None
            if msg.edge.latest is msg:
                self._relabel(msg.edge)

    def _keyed(self, producer: _Call, key: str) -> None:
        """The call named by ``key`` is ``producer``: messages that waited for it by key wait
        for (or carry) its task now."""
        self._keys[key] = producer.task_id
        if len(self._keys) > self.options.calls:
            self._keys.popitem(last=False)
        for msg in self._waiting.pop(_KEY + key, ()):
            msg.source_task = producer.task_id
            if producer.state in ("done", "error"):
                self._carry(msg, producer)
            else:
                self._waiting.setdefault(producer.task_id, []).append(msg)

    def _add_messages(self, call: _Call, inputs: tuple[InputRef, ...], direct: int) -> None:
        sources = [(ref.agent, ref.task_id or self._by_key(ref.call_key)) for ref in inputs]
        if direct or not inputs:  # messages straight from the caller, or no input at all
            sources.append((call.caller, ""))
        for source, source_task in sources:
            self._seq += 1
            msg = _Message(self._seq, source, call, "" if source_task.startswith(_KEY) else source_task)
            if not source_task:
                msg.preview, msg.ready_at = call.input_preview, call.queued_at
            else:
                producer = self._calls.get(source_task)
                if producer is not None and producer.state in ("done", "error"):
                    self._carry(msg, producer)
                else:
                    self._waiting.setdefault(source_task, []).append(msg)
                    if len(self._waiting) > self.options.calls:
                        self._waiting.popitem(last=False)
            call.messages.append(msg)
            self._log.append(msg)
            self._enter_scope(msg)

    def _by_key(self, key: str) -> str:
        """The task of the call named by ``key`` if known, else a name to wait for it by."""
        if not key:
            return ""
        return self._keys.get(key) or _KEY + key

    # -- scope: edges and nodes ------------------------------------------------

    def _enter_scope(self, msg: _Message) -> None:
        key: tuple[Any, ...] = (msg.source, msg.target)
        if not self.options.group:
            key += (msg.seq,)
        edge = self._edges.get(key)
        if edge is None:
            edge = self._edges[key] = _Edge(key, msg.source, msg.target)
            self.shape_version += 1
            for name in (msg.source, msg.target):
                node = self._node(name)
                node.edges += 1
                self._presence(node)
        edge.count += 1
        edge.cached = None
        edge.counts[msg.call.state or "queued"] += 1
        edge.latest, msg.edge = msg, edge
        self._relabel(edge)
        size = self._scope_size
        if size is not None:
            self._scope.append(msg)
            while len(self._scope) > size:
                self._leave_scope(self._scope.popleft())

    def _leave_scope(self, msg: _Message) -> None:
        edge, msg.edge = msg.edge, None
        if edge is None:
            return
        edge.count -= 1
        edge.cached = None
        edge.counts[msg.call.state or "queued"] -= 1
        if edge.count:
            return
        del self._edges[edge.key]
        self.shape_version += 1
        for name in (edge.source, edge.target):
            node = self._node(name)
            node.edges -= 1
            self._presence(node)

    def _relabel(self, edge: _Edge) -> None:
        assert edge.latest is not None
        labelled = bool(edge_label(edge.latest.preview, edge.count))
        if labelled != edge.labelled:
            edge.labelled = labelled
            self.label_version += 1

    def _node(self, name: str) -> _Node:
        node = self._nodes.get(name)
        if node is None:
            node = self._nodes[name] = _Node(name)
        return node

    def _presence(self, node: _Node) -> None:
        counts = node.counts
        present = node.edges > 0 or counts["queued"] + counts["running"] + counts["streaming"] > 0
        if present != node.present:
            node.present = present
            self.shape_version += 1

    # -- reading -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """An immutable view of what the graph shows now."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        nodes = tuple(n.view() for n in self._nodes.values() if n.present)
        edges = tuple(e.view() for e in self._edges.values())
        note = ""
        if self._scope_size is not None and self._seq > len(self._scope):
            note = f"showing the last {len(self._scope)} of them (graph(last=None) shows all)"
        return Snapshot(nodes, edges, self.version, self.shape_version, self.label_version, self._seq, note)

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float) -> Snapshot:
        """Block until ``predicate(snapshot)`` holds (checked at each change).

        Raises:
            TimeoutError: it did not hold within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(snap := self._snapshot()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the graph did not reach the expected state in {timeout} s: {snap}")
                self._changed.wait(remaining)
            return snap

    def calls(self, last: int | None = None) -> list[CallView]:
        """The calls remembered (the last ``last`` of them), oldest queued first."""
        with self._lock:
            if last is None:
                calls = list(self._calls.values())
            else:  # from the newest back: cheap however many calls are remembered
                calls = list(itertools.islice(reversed(self._calls.values()), last))[::-1]
            return [c.view() for c in calls if c.known or c.state]

    def messages(self) -> list[MessageView]:
        """The last ``keep`` messages, oldest first (in and out of scope)."""
        with self._lock:
            return [m.view() for m in self._log]

    def as_dict(self, messages: bool = False) -> dict[str, Any]:
        """The graph as plain data: nodes, edges (and the kept messages)."""
        snap = self.snapshot()
        out: dict[str, Any] = {
            "version": snap.version,
            "shape_version": snap.shape_version,
            "nodes": [dict(asdict(n), calls=n.calls) for n in snap.nodes],
            "edges": [asdict(e) for e in snap.edges],
        }
        if messages:
            out["messages"] = [asdict(m) for m in self.messages()]
        return out

    def to_json(self, messages: bool = False, **dumps: Any) -> str:
        """:meth:`as_dict` as JSON text."""
        return json.dumps(self.as_dict(messages), **dumps)

    def to_dot(self, **render: Any) -> str:
        """The graph as graphviz DOT source (``render``: :class:`RenderOptions` fields)."""
        return dot_source(self.snapshot(), RenderOptions(**render))

    def to_svg(self, **render: Any) -> str:
        """The graph laid out as SVG by graphviz, in this thread (raises GraphvizError without it)."""
        return GraphRenderer(RenderOptions(**render)).svg(self.snapshot())

    def clear(self) -> None:
        """Forget everything (the next snapshot is empty, messages count from 0; versions count on)."""
        with self._lock:
            self._calls.clear()
            self._waiting.clear()
            self._nodes.clear()
            self._edges.clear()
            self._scope.clear()
            self._log.clear()
            self._seq = 0
            self.version += 1
            self.shape_version += 1
            self._changed.notify_all()

    def __repr__(self) -> str:
        with self._lock:
            agents = sum(n.present and name != DRIVER for name, n in self._nodes.items())
            edges, messages = len(self._edges), self._seq
        return (
            f"<GraphModel {plural(agents, 'agent')}, {plural(edges, 'edge')}, {plural(messages, 'message')}>"
        )
