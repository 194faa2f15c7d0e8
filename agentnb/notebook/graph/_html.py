"""The HTML around a drawing: the fitting box, caption, legend, "where the time went", the table view.

Everything here is plain HTML with inline styles, so it reads the same in the
live widget, in a saved notebook's static copy and in exported HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from ._critical import TimeReport
from ._dot import STYLE
from ._views import DRIVER, Snapshot

_SMALL = "font:11px sans-serif;color:#757575"


def fit(svg: str, size: tuple[float, float], max_height: int) -> str:
    """A box that shows the whole drawing: as wide as the output area (never wider than natural).

    The SVG inside has width and height 100% and keeps its ``viewBox``, so it
    scales to the box; the box keeps the drawing's aspect ratio up to
    ``max_height`` pixels.
    """
    width, height = size
    if width <= 0 or height <= 0:
        return svg
    box = (
        f"width:100%;max-width:{width:.0f}px;aspect-ratio:{width:.0f} / {height:.0f};"
        f"max-height:{max_height}px;margin:0 auto"
    )
    return f'<div class="agentnb-fit" style="{box}">{svg}</div>'


def caption(snap: Snapshot, extra: Iterable[str] = ()) -> str:
    """One line that sums the graph up (the driver is not an agent, so it is not counted)."""
    return (
        f'<div class="agentnb-graph-caption" style="{_SMALL}">{html.escape(caption_text(snap, extra))}</div>'
    )


def caption_text(snap: Snapshot, extra: Iterable[str] = ()) -> str:
    """:func:`caption` as plain text."""
    agents = sum(n.members for n in snap.nodes if n.name != DRIVER)
    running = sum(n.running for n in snap.nodes)
    failed = sum(e.counts.get("error", 0) for e in snap.edges)
    parts = [plural(agents, "agent"), plural(len(snap.edges), "edge"), plural(snap.messages, "message")]
    parts += [f"{running} running"] if running else []
    parts += [f"{failed} failed"] if failed else []
    parts += [snap.note] if snap.note else []
    parts += list(extra)
    return " · ".join(parts)


def plural(count: int, word: str) -> str:
    """``1 agent``, ``2 agents``, ``1,000 messages``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _swatch(state: str) -> str:
    stroke, fill = STYLE[state]
    return (
        f'<span style="display:inline-block;width:10px;height:10px;border:1.5px solid {stroke};'
        f'background:{fill};border-radius:2px;vertical-align:-1px;margin:0 3px 0 8px"></span>{state}'
    )


def legend(labels: bool, critical: bool) -> str:
    """What colours, labels, counts and the thick outline mean."""
    states = "".join(_swatch(s) for s in ("queued", "running", "streaming", "done", "error"))
    words = [
        "edge label: what the latest message holds (text as is, {keys} of a dict, [n items] of a list)"
        + ("; “N msgs”: how many messages that edge carried" if labels else ""),
        "hover a node or edge for full messages and timings",
    ]
    if critical:
        words.insert(
            0, "thick outline: the critical path (the chain of calls that set how long the run took)"
        )
    return (
        f'<div class="agentnb-graph-legend" style="{_SMALL}">{states}'
        f'<div style="margin-top:2px">{html.escape("; ".join(words))}.</div></div>'
    )


def time_summary(report: TimeReport | None) -> str:
    """Where the time went, in sentences ("" before a run has finished)."""
    if report is None:
        return ""
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in report.sentences()[1:])
    head = html.escape(report.sentences()[0])
    return (
        '<div class="agentnb-graph-time" style="font:12px sans-serif;color:#424242;margin-top:4px">'
        f"<b>Where the time went.</b> {head}"
        f'<ul style="margin:2px 0 0 0;padding-left:18px">{lines}</ul></div>'
    )


def notes(*parts: str) -> str:
    """The block under a drawing (``.agentnb-notes``): replaced whole when the browser patches a recolour."""
    return f'<div class="agentnb-notes">{"".join(parts)}</div>'


def wrap(body: str, *below: str) -> str:
    """The widget's HTML: the root ``.agentnb-graph`` element around the drawing and its notes."""
    return f'<div class="agentnb-graph">{body}{"".join(below)}</div>'


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
        caption(snap),
    )


EMPTY = wrap('<i style="font-size:90%">No calls yet: the graph fills in as agents are called.</i>')

#: Hides a widget output that cannot show (a reopened notebook: "model not found") when the
#: static copy follows it. Used only inside the static copy, which is trusted HTML in a notebook
#: JupyterLab saved itself; the live widget hides the static copy in turn (see _graph_front).
_HIDE_DEAD_WIDGET = (
    "<style>.jp-OutputArea-child:has(+ .jp-OutputArea-child .agentnb-static)"
    ":not(:has(.agentnb-live)){display:none}</style>"
)


def static_html(graph: str, timeline: str, uid: str = "") -> str:
    """The saved notebook's picture: the graph and, folded, the timeline; no widget manager needed.

    ``uid`` marks it as the copy of one live graph (its page finds it by that mark).
    """
    folded = (
        '<details style="margin-top:4px">'
        '<summary style="font:12px sans-serif;cursor:pointer">Timeline</summary>'
        f"{timeline}</details>"
        if timeline
        else ""
    )
    mark = f' data-agentnb-graph="{uid}"' if uid else ""
    return f'{_HIDE_DEAD_WIDGET}<div class="agentnb-static"{mark}>{graph}{folded}</div>'
