"""The timeline: a second view of the graph's model, one lane per agent, time left to right.

A call is a thin grey bar while it waits (queued until it starts: for its
inputs, or behind its agent's earlier calls) and a thick bar coloured by state
while it runs; the calls on the critical path are outlined. Hovering a bar
tells the call's times. Plain SVG built here (no graphviz), so it is cheap to
redraw at every update and reads the same in a saved notebook.

DOM: a root ``.agentnb-timeline`` element holding an ``<svg>``; one
``g.agentnb-lane`` per agent (``data-agent`` is its name); one
``rect.agentnb-bar`` per call with ``agentnb-state-<state>`` and, on the
critical path, ``agentnb-critical``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

from ._critical import TimeReport, secs
from ._views import CallView

GUTTER, PLOT, LANE, TOP = 110, 620, 20, 22
_FILL = {
    "queued": "#bdbdbd",
    "running": "#1e88e5",
    "streaming": "#8e24aa",
    "done": "#43a047",
    "error": "#e53935",
}


def _ticks(span: float) -> list[float]:
    """About five round tick positions in ``[0, span]`` seconds."""
    if span <= 0:
        return [0.0]
    raw = span / 5
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if step * m >= raw)
    return [i * step for i in range(int(span / step) + 1)]


def _tick_label(t: float, span: float) -> str:
    return f"{t * 1000:.0f} ms" if span < 2 else f"{t:g} s" if t == int(t) else f"{t:.1f} s"


def timeline_html(
    calls: Sequence[CallView], report: TimeReport | None, now: float | None = None, lanes: int = 40
) -> str:
    """The timeline of ``calls`` (the report's run when there is one) as an HTML block.

    Args:
        calls: the calls to draw (e.g. the model's most recent ones).
        report: where the finished run's time went (its run and critical path), or None.
        now: where unfinished calls end (default: the latest time seen).
        lanes: at most this many agents (the most recently called); the caption says how many are hidden.
    """
    shown = list(report.calls) if report is not None else [c for c in calls if c.queued_at is not None]
    if not shown:
        return '<div class="agentnb-timeline"><i style="font-size:90%">No calls to show yet.</i></div>'
    stamps = [t for c in shown for t in (c.queued_at, c.started_at, c.finished_at) if t is not None]
    start, end = min(stamps), max([*stamps, now or 0.0])
    span = max(end - start, 1e-3)
    order: dict[str, float] = {}
    for c in shown:
        order.setdefault(c.agent, c.queued_at or start)
    agents = sorted(order, key=lambda a: order[a])
    hidden = agents[:-lanes] if len(agents) > lanes else []
    agents = agents[-lanes:]
    row = {a: i for i, a in enumerate(agents)}
    critical = {c.task_id for c in report.path} if report is not None else set()

    def x(t: float) -> float:
        return GUTTER + (t - start) / span * PLOT

    height = TOP + LANE * len(agents) + 6
    out = [
        f'<svg class="agentnb-timeline-svg" viewBox="0 0 {GUTTER + PLOT + 20} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" style="max-width:{GUTTER + PLOT + 20}px" '
        'xmlns="http://www.w3.org/2000/svg" font-family="Helvetica,Arial,sans-serif" font-size="10">'
    ]
    for t in _ticks(span):
        px = x(start + t)
        out.append(f'<line x1="{px:.1f}" y1="{TOP - 4}" x2="{px:.1f}" y2="{height}" stroke="#eeeeee"/>'
                   f'<text x="{px:.1f}" y="{TOP - 8}" text-anchor="middle" fill="#757575">'
                   f"{_tick_label(t, span)}</text>")  # fmt: skip
    for a in agents:
        y = TOP + LANE * row[a]
        out.append(f'<g class="agentnb-lane" data-agent="{html.escape(a)}">'
                   f'<text x="{GUTTER - 6}" y="{y + 13}" text-anchor="end" fill="#424242">'
                   f"{html.escape(a[:18])}</text>")  # fmt: skip
        out.extend(_bars([c for c in shown if c.agent == a], y, x, end, critical))
        out.append("</g>")
    out.append("</svg>")
    note = f" · {len(hidden)} earlier agents not shown" if hidden else ""
    caption = (
        f"Timeline of {'the last run' if report is not None else 'the latest calls'} ({secs(span)}): "
        "one lane per agent; thick bar: running; "
        "thin grey bar: waiting (for inputs, or behind its earlier calls); "
        f"outlined: on the critical path{note}."
    )
    return (
        f'<div class="agentnb-timeline">{"".join(out)}'
        '<div class="agentnb-graph-caption" style="font:11px sans-serif;color:#757575">'
        f"{html.escape(caption)}"
        "</div></div>"
    )


def _bars(
    calls: list[CallView], y: int, scale: Callable[[float], float], end: float, critical: set[str]
) -> list[str]:
    out = []
    for c in calls:
        assert c.queued_at is not None
        started = c.started_at if c.started_at is not None else c.finished_at
        finished = c.finished_at if c.finished_at is not None else end
        wait_end = started if started is not None else end
        tip = html.escape(_tip(c), quote=True)
        if wait_end - c.queued_at > 0:
            x0, x1 = scale(c.queued_at), scale(wait_end)
            out.append(f'<rect class="agentnb-wait" x="{x0:.1f}" y="{y + 8}" width="{max(x1 - x0, 0.5):.1f}" '
                       f'height="3" fill="#bdbdbd"><title>{tip}</title></rect>')  # fmt: skip
        if started is not None:
            x0, x1 = scale(started), scale(finished)
            crit = c.task_id in critical
            cls = f"agentnb-bar agentnb-state-{c.state}" + (" agentnb-critical" if crit else "")
            stroke = ' stroke="#212121" stroke-width="1.5"' if crit else ""
            out.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1.5):.1f}" '
                       f'height="13" rx="2" fill="{_FILL.get(c.state, "#9e9e9e")}"{stroke}>'
                       f"<title>{tip}</title></rect>")  # fmt: skip
    return out


def _tip(c: CallView) -> str:
    lines = [f"{c.agent}: {c.state}" + (f" (called by {c.caller})" if c.caller else "")]
    if c.queued_at is not None and c.started_at is not None:
        lines.append(f"waited {secs(max(c.started_at - c.queued_at, 0.0))} before it started")
    if c.started_at is not None and c.finished_at is not None:
        lines.append(f"ran {secs(c.finished_at - c.started_at)}")
    if c.inputs:
        lines.append("inputs from " + ", ".join(sorted({a for a, _ in c.inputs})))
    return "\n".join(lines)
