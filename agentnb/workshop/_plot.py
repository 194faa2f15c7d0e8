"""Small SVG charts for the workshop, drawn by hand: no plotting library needed.

* :func:`guess_plot`: every guess of every round of the guessing game, with
  each round's average and target.
* :func:`timeline`: when each agent's calls waited and ran (a Gantt chart), from
  the dataflow graph's messages; overlapping bars ran at the same time.

Both return an :class:`Svg`, which a notebook shows as a picture and
:meth:`Svg.save` writes to a file. The same data always gives the same SVG.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLORS = {
    "random": "#8c8c8c",
    "level-1": "#1f77b4",
    "level-2": "#2ca02c",
    "follower": "#ff7f0e",
    "stubborn": "#9467bd",
}
FONT = 'font-family="sans-serif" font-size="12"'


class Svg:
    """An SVG picture: shown by notebooks, saved with :meth:`save`."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_svg_(self) -> str:
        return self.text

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.text, encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return f"<Svg {len(self.text)} characters>"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _jitter(name: str, width: float) -> float:
    """A stable horizontal offset per player, so dots of one round do not sit on one line."""
    return (int(hashlib.sha256(name.encode()).hexdigest()[:6], 16) / 0xFFFFFF - 0.5) * width


def guess_plot(verdicts: Sequence[dict[str, Any]], width: int = 640, height: int = 360) -> Svg:
    """Every guess per round (dots coloured by the player's style), the average and the target."""
    left, right, top, bottom = 48, 150, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(verdicts), 1)

    def x(i: float) -> float:
        return left + (i + 0.5) * plot_w / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v / 100)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">Guesses per round (2/3 of the average wins)</text>',
    ]
    for v in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>'
        )
    for i, verdict in enumerate(verdicts):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">'
            f"round {verdict['round']}</text>"
        )
        styles = verdict.get("styles", {})
        for name, guess in sorted(verdict["guesses"].items()):
            color = COLORS.get(styles.get(name, ""), "#444")
            cx = x(i) + _jitter(name, plot_w / n * 0.6)
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{y(guess):.1f}" r="2.5" fill="{color}" '
                f'fill-opacity="0.7"><title>{_esc(name)}: {guess}</title></circle>'
            )
    for key, color, dash in (("average", "#444", "4 3"), ("target", "#d62728", "")):
        points = " ".join(f"{x(i):.1f},{y(v[key]):.1f}" for i, v in enumerate(verdicts))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-dasharray="{dash}"/>'
        )
    legend = [(k, c, "circle") for k, c in COLORS.items()] + [
        ("average", "#444", "line"),
        ("target (2/3)", "#d62728", "line"),
    ]
    for row, (label, color, shape) in enumerate(legend):
        ly = top + 10 + row * 18
        lx = width - right + 16
        mark = (
            f'<circle cx="{lx}" cy="{ly - 4}" r="4" fill="{color}"/>'
            if shape == "circle"
            else f'<line x1="{lx - 6}" x2="{lx + 6}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
            'stroke-width="2"/>'
        )
        parts.append(f'{mark}<text x="{lx + 12}" y="{ly}">{_esc(label)}</text>')
    parts.append("</svg>")
    return Svg("\n".join(parts))


@dataclass(frozen=True)
class Span:
    """One call on the timeline: its agent, and when it was queued, started and finished."""

    agent: str
    task_id: str
    queued: float
    started: float
    finished: float


def spans(messages: Iterable[Any]) -> list[Span]:
    """The finished calls among the graph's messages (``g.model.messages()``), once each, by start."""
    calls: dict[str, Span] = {}
    for m in messages:
        if m.task_id not in calls and None not in (m.queued_at, m.started_at, m.finished_at):
            calls[m.task_id] = Span(m.target, m.task_id, m.queued_at, m.started_at, m.finished_at)
    return sorted(calls.values(), key=lambda s: (s.started, s.agent))


def max_parallel(calls: Sequence[Span]) -> int:
    """The most calls that ran at the same moment."""
    edges = sorted([(s.started, 1) for s in calls] + [(s.finished, -1) for s in calls])
    running = best = 0
    for _, step in edges:
        running += step
        best = max(best, running)
    return best


def timeline(calls: Sequence[Span], width: int = 640) -> Svg:
    """A Gantt chart: one row per agent; light bars wait for inputs or a turn, dark bars run."""
    agents = sorted({s.agent for s in calls}, key=lambda a: min(s.queued for s in calls if s.agent == a))
    left, right, top, row_h = 70, 20, 30, 22
    height = top + row_h * len(agents) + 36
    t0 = min((s.queued for s in calls), default=0.0)
    span = max((s.finished for s in calls), default=1.0) - t0 or 1.0

    def x(t: float) -> float:
        return left + (t - t0) / span * (width - left - right)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">When each call waited (light) and ran (dark); '
        f"at most {max_parallel(calls)} at once</text>",
    ]
    for row, agent in enumerate(agents):
        y = top + row * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{_esc(agent)}</text>')
        for s in (s for s in calls if s.agent == agent):
            parts.append(
                f'<rect x="{x(s.queued):.1f}" y="{y + 3}" width="{max(x(s.started) - x(s.queued), 0.5):.1f}" '
                f'height="{row_h - 6}" fill="#c6dbef"/><rect x="{x(s.started):.1f}" y="{y + 3}" '
                f'width="{max(x(s.finished) - x(s.started), 1):.1f}" height="{row_h - 6}" fill="#3182bd">'
                f"<title>{_esc(agent)}: waited {s.started - s.queued:.3f} s, "
                f"ran {s.finished - s.started:.3f} s</title></rect>"
            )
    axis_y = top + row_h * len(agents) + 4
    for i in range(5):
        t = span * i / 4
        parts.append(f'<text x="{x(t0 + t):.1f}" y="{axis_y + 14}" text-anchor="middle">{t:.2f} s</text>')
    parts.append("</svg>")
    return Svg("\n".join(parts))
