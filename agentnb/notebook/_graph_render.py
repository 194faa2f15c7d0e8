"""Drawing the dataflow model: DOT source, graphviz layout, fast recolouring, a table fallback.

Laying a graph out is expensive (DESIGN.md measured 45 ms for 100 nodes and
up to 40 s for a random 1,000-node graph with ``dot``) and recolouring a
drawn SVG is cheap (0.7 ms there; ~3 ms for 1,000 agents here), so :class:`GraphRenderer` runs
graphviz only when the shape changed (a node or edge appeared or went, or an
edge gained or lost its label). Otherwise it refills a template cut from the
last SVG: each node's and edge's class list, colours, tooltip and label text
are slots; the coordinates stay as laid out.

Graphviz runs as a subprocess with a timeout (``graphviz.pipe()`` has none):
``dot`` for small graphs, ``sfdp`` beyond ``dot_limit`` nodes + edges or when
``dot`` ran out of time. Without graphviz, or when layout failed, the view is
an HTML table of agents and edges that says why (and how to install it).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from .._errors import GraphvizError, GraphvizMissingError
from ._graph_views import EdgeView, NodeView, Snapshot, edge_label

#: (stroke, fill) per state; every colour distinct, so a drawn SVG can be recoloured by value.
STYLE = {
    "idle": ("#757575", "#fafafa"),
    "queued": ("#9e9e9e", "#eeeeee"),
    "running": ("#1e88e5", "#e3f2fd"),
    "done": ("#43a047", "#e8f5e9"),
    "error": ("#e53935", "#ffebee"),
}
_STROKES = {s for s, _ in STYLE.values()}
_FILLS = {f for _, f in STYLE.values()}
LABEL_COLOUR = "#424242"
INSTALL_HINT = (
    "install graphviz (apt-get install graphviz, conda install -c conda-forge graphviz "
    "or brew install graphviz), then call agentnb.graph() again"
)
INSTALL = (
    "graphviz's <code>dot</code> program was not found on PATH, so the graph is shown as a table: "
    f"{html.escape(INSTALL_HINT)}."
)


@dataclass(frozen=True)
class RenderOptions:
    """How the graph is drawn.

    Attributes:
        labels: edge labels on (True), off (False), or only while the graph
            has at most ``label_limit`` edges (None).
        label_limit: see ``labels``.
        label_chars: an edge label shows at most this many characters of the message.
        engine: "dot", "sfdp", or "auto" (dot up to ``dot_limit`` nodes +
            edges, sfdp beyond, and sfdp when dot runs out of time).
        dot_limit: see ``engine``.
        timeout: seconds one graphviz run may take.
        rankdir: dot's direction ("LR" left to right, "TB" top to bottom).
    """

    labels: bool | None = None
    label_limit: int = 60
    label_chars: int = 24
    engine: str = "auto"
    dot_limit: int = 600
    timeout: float = 5.0
    rankdir: str = "LR"

    def show_labels(self, snap: Snapshot) -> bool:
        return self.labels if self.labels is not None else len(snap.edges) <= self.label_limit


# -- DOT -----------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT quoted string (escString escapes such as ``\\N`` kept literal)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _id(name: str) -> str:
    """A DOT quoted ID: only ``"`` is escaped there (the title keeps the name as it is)."""
    return '"' + name.replace('"', '\\"') + '"'


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _clock(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def _span(start: float | None, end: float | None) -> str:
    return f"{end - start:.3f} s" if start is not None and end is not None else "-"


def node_tooltip(n: NodeView) -> str:
    lines = [f"{n.name}: {n.state}" + (f" on {n.address}" if n.address else "")]
    if n.calls:
        lines.append(f"calls: {n.done} done, {n.errors} failed, {n.running} running, {n.queued} queued")
    if n.last_reply:
        lines.append(f"last reply: {n.last_reply}")
    if n.last_error:
        lines.append(f"last error: {n.last_error}")
    return "\n".join(lines)


def edge_tooltip(e: EdgeView) -> str:
    m = e.latest
    counts = ", ".join(f"{k} {v}" for k, v in e.counts.items() if v)
    lines = [f"{e.source} -> {e.target}: {e.count} message{'s' if e.count != 1 else ''} ({counts})"]
    lines.append(f"latest: {m.preview or '(no content)'}")
    ids = f"task {m.task_id[:12]}" + (f", message {m.message_id[:12]}" if m.message_id else "")
    lines.append(f"{m.state}: {ids}")
    lines.append(
        f"ready {_clock(m.ready_at)}, queued {_clock(m.queued_at)}, "
        f"waited {_span(m.queued_at, m.started_at)}, ran {_span(m.started_at, m.finished_at)}"
    )
    if m.error:
        lines.append(f"error: {m.error}")
    return "\n".join(lines)


def dot_source(snap: Snapshot, options: RenderOptions, labels: bool | None = None) -> str:
    """DOT for a snapshot: ids ``agentnb_n<i>`` / ``agentnb_e<i>``, state classes, colours, tooltips."""
    labels = options.show_labels(snap) if labels is None else labels
    out = [
        "digraph agentnb {",
        f'graph [rankdir={options.rankdir}, bgcolor="transparent", nodesep=0.25, ranksep=0.45, '
        'overlap=prism, fontname="Helvetica,Arial,sans-serif"];',
        'node [shape=box, style="rounded,filled", fontname="Helvetica,Arial,sans-serif", fontsize=11, '
        'height=0.3, margin="0.12,0.04"];',
        f'edge [fontname="Helvetica,Arial,sans-serif", fontsize=9, arrowsize=0.7, '
        f'fontcolor="{LABEL_COLOUR}"];',
    ]
    for i, n in enumerate(snap.nodes):
        stroke, fill = STYLE[n.state]
        shape = ", shape=ellipse" if n.name == "driver" else ""
        out.append(
            f'{_id(n.name)} [id="agentnb_n{i}", class="agentnb-state-{n.state}", label={_q(n.name)}, '
            f'color="{stroke}", fillcolor="{fill}", tooltip={_q(node_tooltip(n))}{shape}];'
        )
    for i, e in enumerate(snap.edges):
        label = edge_label(_short(e.latest.preview, options.label_chars), e.count) if labels else ""
        text = f", label={_q(label)}" if label else ""
        out.append(
            f'{_id(e.source)} -> {_id(e.target)} [id="agentnb_e{i}", class="agentnb-state-{e.state}", '
            f'color="{STYLE[e.state][0]}", tooltip={_q(edge_tooltip(e))}{text}];'
        )
    out.append("}")
    return "\n".join(out)


def run_graphviz(source: str, engine: str = "dot", timeout: float = 5.0) -> str:
    """Lay DOT out as SVG in a graphviz subprocess, killed after ``timeout`` seconds."""
    exe = shutil.which(engine)
    if exe is None:
        raise GraphvizMissingError(f"graphviz's {engine!r} program is not on PATH")
    try:
        proc = subprocess.run(
            [exe, "-Tsvg"], input=source.encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphvizError(f"{engine} took longer than {timeout:g} s to lay the graph out") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip()[-300:]
        raise GraphvizError(f"{engine} failed (exit code {proc.returncode}): {tail}")
    return proc.stdout.decode()


# -- recolouring ---------------------------------------------------------------

_GROUP = re.compile(r'<g id="agentnb_([ne])(\d+)" class="[^"]*">')
_INNER = re.compile(r'(fill|stroke)="(#[0-9a-f]{6})"|xlink:title="[^"]*"|(<text[^>]*>)[^<]*(?=</text>)')


class _Template:
    """A laid-out SVG cut into literal parts and slots (class, stroke, fill, tip, label).

    Filling it recomputes only the elements whose view changed since the last fill.
    """

    def __init__(self, svg: str, snap: Snapshot) -> None:
        start = svg.find("<svg")
        self.prolog, svg = svg[:start], svg[start:]
        self.nodes = [n.name for n in snap.nodes]
        self.edges = [e.key for e in snap.edges]
        self.parts: list[str] = []
        self.slots: dict[tuple[str, int], list[tuple[int, str]]] = {}  # element -> (part index, field)
        self._seen: dict[tuple[str, int], NodeView | EdgeView] = {}  # element -> view last filled in
        groups = list(_GROUP.finditer(svg))
        pos = 0
        for i, m in enumerate(groups):
            kind, index = m.group(1), int(m.group(2))
            self.parts.append(svg[pos : m.start()] + f'<g id="agentnb_{kind}{index}" class="')
            self._slot(kind, index, "class", '">')
            end = groups[i + 1].start() if i + 1 < len(groups) else len(svg)
            pos = self._cut(svg, m.end(), end, kind, index)
        self.parts.append(svg[pos:])

    def _slot(self, kind: str, index: int, field: str, then: str) -> None:
        self.slots.setdefault((kind, index), []).append((len(self.parts), field))
        self.parts.extend(("", then))

    def _cut(self, svg: str, pos: int, end: int, kind: str, index: int) -> int:
        for m in _INNER.finditer(svg, pos, end):
            attr, colour, text_tag = m.group(1), m.group(2), m.group(3)
            if attr and not (colour in _STROKES or (kind == "n" and colour in _FILLS)):
                continue
            self.parts.append(svg[pos : m.start()])
            if attr:
                field = "stroke" if colour in _STROKES else "fill"
                self.parts.append(f'{attr}="')
                self._slot(kind, index, field, '"')
            elif text_tag:
                if kind == "n":
                    self.parts[-1] += m.group(0)  # a node's name never changes
                else:
                    self.parts.append(text_tag)
                    self._slot(kind, index, "label", "")
            else:
                self.parts.append('xlink:title="')
                self._slot(kind, index, "tip", '"')
            pos = m.end()
        return pos

    def fill(self, snap: Snapshot, options: RenderOptions) -> str:
        nodes = {n.name: n for n in snap.nodes}
        edges = {e.key: e for e in snap.edges}
        for i, name in enumerate(self.nodes):
            self._put(("n", i), nodes[name], options)
        for i, key in enumerate(self.edges):
            self._put(("e", i), edges[key], options)
        return "".join(self.parts)

    def _put(self, element: tuple[str, int], view: NodeView | EdgeView, options: RenderOptions) -> None:
        seen = self._seen.get(element)
        if seen is view or seen == view:  # the model hands out the same view until it changes
            return
        self._seen[element] = view
        if isinstance(view, NodeView):
            stroke, fill = STYLE[view.state]
            values = {"class": f"node agentnb-state-{view.state}", "stroke": stroke, "fill": fill,
                      "tip": _attr(node_tooltip(view))}  # fmt: skip
        else:
            label = edge_label(_short(view.latest.preview, options.label_chars), view.count)
            values = {"class": f"edge agentnb-state-{view.state}", "stroke": STYLE[view.state][0],
                      "tip": _attr(edge_tooltip(view)), "label": html.escape(label, quote=False)}  # fmt: skip
        parts = self.parts
        for at, field in self.slots.get(element, ()):
            parts[at] = values[field]


def _attr(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "&#10;")


# -- the views ------------------------------------------------------------------------------


def _caption(snap: Snapshot, extra: str) -> str:
    running = sum(n.running for n in snap.nodes)
    failed = sum(e.counts.get("error", 0) for e in snap.edges)
    text = f"{len(snap.nodes)} agents · {len(snap.edges)} edges · {snap.messages} messages"
    text += f" · {running} running" if running else ""
    text += f" · {failed} failed" if failed else ""
    return (
        '<div class="agentnb-graph-caption" style="font:11px sans-serif;color:#757575">'
        f"{html.escape(text + extra)}</div>"
    )


def wrap(body: str, caption: str = "") -> str:
    """The widget's HTML: the root ``.agentnb-graph`` element around the drawing."""
    return f'<div class="agentnb-graph" style="overflow:auto;max-height:720px">{body}{caption}</div>'


def table_html(snap: Snapshot, note: str) -> str:
    """The readable view without graphviz: agents and edges with their states."""

    def badge(state: str) -> str:
        stroke, fill = STYLE.get(state, STYLE["idle"])
        return f'<span style="background:{fill};border:1px solid {stroke};padding:0 4px">{state}</span>'

    e = html.escape
    agents = "".join(
        f'<tr class="agentnb-node agentnb-state-{n.state}"><td><b>{e(n.name)}</b></td>'
        f"<td>{badge(n.state)}</td>"
        f"<td>{n.calls}</td><td>{n.done}</td><td>{n.errors}</td><td><code>{e(n.address)}</code></td></tr>"
        for n in snap.nodes
    )
    edges = "".join(
        f'<tr class="agentnb-edge agentnb-state-{x.state}"><td>{e(x.source)} → {e(x.target)}</td>'
        f"<td>{badge(x.state)}</td><td>{x.count}</td><td><code>{e(x.latest.preview)}</code></td></tr>"
        for x in snap.edges
    )
    return wrap(
        f'<p style="font-size:90%">{note}</p>'
        "<table><tr><th>agent</th><th>state</th><th>calls</th><th>done</th><th>failed</th><th>address</th></tr>"
        f"{agents}</table>"
        "<table><tr><th>edge</th><th>state</th><th>messages</th><th>latest message</th></tr>"
        f"{edges}</table>",
        _caption(snap, ""),
    )


EMPTY = wrap('<i style="font-size:90%">No calls yet: the graph fills in as agents are called.</i>')


class GraphRenderer:
    """Turns snapshots into the widget's HTML; lays out again only when the shape changed.

    Not thread-safe: one renderer per widget, used by one thread at a time.

    Attributes:
        layouts: how many times graphviz ran (timed out or failed runs included).
        layout_seconds: how long the last layout took.
        graphviz_seconds: the time spent waiting for graphviz, in total.
        engine: the graphviz program of the current drawing ("" for the table).
        problem: why the table is shown instead of a drawing ("" when drawn).
    """

    def __init__(self, options: RenderOptions | None = None) -> None:
        self.options = options or RenderOptions()
        self.layouts = 0
        self.layout_seconds = self.graphviz_seconds = 0.0
        self.engine = ""
        self.problem = ""
        self._template: _Template | None = None
        self._failure: GraphvizError | None = None
        self._signature: tuple[Any, ...] | None = None

    def render(self, snap: Snapshot) -> str:
        """The HTML for a snapshot: a recoloured drawing, a new layout, or the table."""
        if not snap.nodes:
            return EMPTY
        self._prepare(snap)
        if self._template is None:
            return table_html(snap, self.problem)
        extra = f" · laid out by {self.engine} in {self.layout_seconds * 1000:.0f} ms"
        if not self.options.show_labels(snap):
            extra += f" · labels hidden (over {self.options.label_limit} edges)"
        return wrap(self._template.fill(snap, self.options), _caption(snap, extra))

    def svg(self, snap: Snapshot) -> str:
        """The drawing as a standalone SVG document.

        Raises:
            GraphvizError: graphviz is missing, failed or ran out of time.
        """
        self._prepare(snap)
        if self._template is None:
            failure = self._failure or GraphvizError("nothing to draw")
            raise type(failure)(*failure.args)
        return self._template.prolog + self._template.fill(snap, self.options)

    def _prepare(self, snap: Snapshot) -> None:
        labels = self.options.show_labels(snap)
        signature = (snap.shape_version, snap.label_version if labels else -1, labels)
        if signature != self._signature:
            self._layout(snap, labels)
            self._signature = signature

    def _engines(self, snap: Snapshot) -> list[str]:
        if self.options.engine != "auto":
            return [self.options.engine]
        small = len(snap.nodes) + len(snap.edges) <= self.options.dot_limit
        return ["dot", "sfdp"] if small else ["sfdp"]

    def _layout(self, snap: Snapshot, labels: bool) -> None:
        source = dot_source(snap, self.options, labels)
        self._template, self.engine, problems = None, "", []
        for engine in self._engines(snap):
            start = time.perf_counter()
            try:
                svg = run_graphviz(source, engine, self.options.timeout)
            except GraphvizMissingError as exc:
                self._failure = GraphvizMissingError(f"{exc}: {INSTALL_HINT}")
                problems = [INSTALL]
                break
            except GraphvizError as exc:
                self.layouts += 1
                self.graphviz_seconds += time.perf_counter() - start
                self._failure = exc
                problems.append(html.escape(str(exc)))
                continue
            self.layouts += 1
            self.layout_seconds = time.perf_counter() - start
            self.graphviz_seconds += self.layout_seconds
            self._template, self.engine, self.problem, self._failure = _Template(svg, snap), engine, "", None
            return
        hint = ". Showing a table instead; try <code>agentnb.graph(last=200)</code>."
        self.problem = "; ".join(problems) + ("" if problems == [INSTALL] else hint)
