"""DOT source for a snapshot, the graphviz subprocess, and which layout engine fits which graph.

A stable layout: when edges have labels, every edge gets a label *slot* of a
fixed width from the start (a placeholder the renderer fills in later). A
reply that arrives and labels its edge therefore never changes the layout:
only a new agent or a new edge does. Labels are dropped (hover text only)
past ``label_limit`` edges.

Engines (DESIGN.md measured them): ``dot`` draws layered dataflow best but
grows slow and very wide on dense or big graphs; ``neato`` lays out a ring or
a dense graph of a few dozen agents compactly; ``sfdp`` handles thousands.
``auto`` picks by size and density, and the renderer switches a drawing that
came out as one long row or column (a 50-agent ring under ``dot``) to neato.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

from ..._core._errors import GraphvizError, GraphvizMissingError
from ._labels import edge_label, short
from ._views import DRIVER, EdgeView, NodeView, Snapshot

#: (stroke, fill) per state; every colour distinct, so a drawn SVG can be recoloured by value.
STYLE = {
    "idle": ("#757575", "#fafafa"),
    "queued": ("#9e9e9e", "#eeeeee"),
    "running": ("#1e88e5", "#e3f2fd"),
    "streaming": ("#8e24aa", "#f3e5f5"),
    "done": ("#43a047", "#e8f5e9"),
    "error": ("#e53935", "#ffebee"),
}
LABEL_COLOUR = "#424242"
FONT = "Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class RenderOptions:
    """How the graph is drawn.

    Attributes:
        labels: edge labels on (True), off (False), or only while the graph
            has at most ``label_limit`` edges (None).
        label_limit: see ``labels``.
        label_chars: an edge label shows at most this many characters of the message.
        engine: "dot", "neato", "sfdp", or "auto" (by size and density, see the module doc).
        dot_limit: "auto" uses dot up to this many nodes + edges.
        neato_limit: "auto" uses neato up to this many nodes, sfdp beyond.
        timeout: seconds one graphviz run may take.
        rankdir: dot's direction ("LR" left to right, "TB" top to bottom).
        max_height: the drawing's height in the notebook, at most (pixels); it always fits the width.
    """

    labels: bool | None = None
    label_limit: int = 60
    label_chars: int = 16
    engine: str = "auto"
    dot_limit: int = 600
    neato_limit: int = 150
    timeout: float = 5.0
    rankdir: str = "LR"
    max_height: int = 560

    def show_labels(self, snap: Snapshot) -> bool:
        return self.labels if self.labels is not None else len(snap.edges) <= self.label_limit

    def engines(self, snap: Snapshot) -> list[str]:
        """The engines to try, in order, for this snapshot."""
        if self.engine != "auto":
            return [self.engine]
        nodes, edges = len(snap.nodes), len(snap.edges)
        if nodes + edges <= self.dot_limit and edges <= 2 * nodes + 2:
            return ["dot", "sfdp"]
        return ["neato", "sfdp"] if nodes <= self.neato_limit else ["sfdp"]


# -- tooltips ------------------------------------------------------------------


def _clock(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def _span(start: float | None, end: float | None) -> str:
    return f"{end - start:.3f} s" if start is not None and end is not None else "-"


def node_tooltip(n: NodeView, extra: str = "") -> str:
    head = f"{n.name}: {n.state}" + (f" ({n.members} agents)" if n.members > 1 else "")
    lines = [head + (f" on {n.address}" if n.address else "")]
    if n.calls:
        lines.append(f"calls: {n.done} done, {n.errors} failed, {n.running} running, {n.queued} queued")
    if n.last_reply:
        lines.append(f"last reply: {n.last_reply}")
    if n.last_error:
        lines.append(f"last error: {n.last_error}")
    if n.mark:
        lines.append(f"{n.mark}: {n.mark_note}" if n.mark_note else n.mark)
    if extra:
        lines.append(extra)
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


def label_text(e: EdgeView, options: RenderOptions) -> str:
    """What an edge's label shows (see :mod:`agentnb.notebook.graph._labels`)."""
    return edge_label(e.latest.preview, e.count, options.label_chars)


# -- DOT -----------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT quoted string (escString escapes such as ``\\N`` kept literal)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _id(name: str) -> str:
    """A DOT quoted ID: only ``"`` is escaped there (the title keeps the name as it is)."""
    return '"' + name.replace('"', '\\"') + '"'


def node_label(n: NodeView) -> str:
    label = f"{n.name}\n{n.members} agents" if n.members > 1 else n.name
    return f"{label}\n({n.mark})" if n.mark else label


def dot_source(
    snap: Snapshot, options: RenderOptions, labels: bool | None = None, engine: str = "dot", tips: bool = True
) -> str:
    """DOT for a snapshot: ids ``agentnb_n<i>`` / ``agentnb_e<i>``, state classes, colours, tooltips.

    With labels, every edge gets a label slot as wide as the longest label
    (filled in by the renderer), so labels never move the layout. Tooltips
    may be placeholders too (``tips=False``: the renderer fills them in, graphviz only has to emit
    their anchors).
    """
    labels = options.show_labels(snap) if labels is None else labels
    slot = "n" * (options.label_chars + 4)  # "<label> · 12 msgs" at most, in a typical width
    # curved edges route around nodes, but cost neato ~1 s at 250 edges: only for small graphs;
    # prism's overlap removal iterates (~1 s for sfdp at 1,000 agents): prism0 removes overlaps once;
    # sfdp's faster force approximation (quadtree=fast) takes 0.6 s instead of 0.8 s there, alike to the eye
    curved = ", splines=true" if len(snap.edges) <= options.label_limit else ""
    spread = {
        "dot": "overlap=prism",
        "neato": f'overlap=prism, sep="+8"{curved}',
    }.get(engine, 'overlap=prism0, sep="+4", quadtree=fast')
    out = [
        "digraph agentnb {",
        f'graph [rankdir={options.rankdir}, bgcolor="transparent", nodesep=0.25, ranksep=0.45, '
        f'{spread}, outputorder=edgesfirst, fontname="{FONT}"];',
        f'node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11, height=0.3, '
        'margin="0.12,0.04"];',
        f'edge [fontname="{FONT}", fontsize=9, arrowsize=0.7, fontcolor="{LABEL_COLOUR}"];',
    ]
    for i, n in enumerate(snap.nodes):
        stroke, fill = STYLE[n.state]
        shape = ", shape=ellipse" if n.name == DRIVER else ""
        shape += ', style="rounded,filled,dashed"' if n.mark == "lost" else ", penwidth=2" if n.mark else ""
        out.append(
            f'{_id(n.name)} [id="agentnb_n{i}", class="agentnb-state-{n.state}", label={_q(node_label(n))}, '
            f'color="{stroke}", fillcolor="{fill}", tooltip={_q(node_tooltip(n) if tips else "-")}{shape}];'
        )
    for i, e in enumerate(snap.edges):
        text = f", label={_q(slot)}" if labels else ""
        out.append(
            f'{_id(e.source)} -> {_id(e.target)} [id="agentnb_e{i}", class="agentnb-state-{e.state}", '
            f'color="{STYLE[e.state][0]}", tooltip={_q(edge_tooltip(e) if tips else "-")}{text}];'
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


__all__ = [
    "FONT",
    "LABEL_COLOUR",
    "STYLE",
    "RenderOptions",
    "dot_source",
    "edge_tooltip",
    "label_text",
    "node_label",
    "node_tooltip",
    "run_graphviz",
    "short",
]
