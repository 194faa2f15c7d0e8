"""The guessing game's chart, as SVG drawn by hand: no plotting library needed.

:func:`guess_plot` draws every guess of every round, coloured by the
player's style, with each round's average and target. It returns an
:class:`Svg`, which a notebook shows as a picture and :meth:`Svg.save`
writes to a file. The same verdicts always give the same SVG. (When calls
waited and ran is the graph's own timeline: ``agentnb.graph()``.)
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
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
    lines = {"average": ("#444", "4 3"), "target": ("#d62728", "")}  # the legend draws them alike
    for key, (color, dash) in lines.items():
        points = " ".join(f"{x(i):.1f},{y(v[key]):.1f}" for i, v in enumerate(verdicts))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-dasharray="{dash}"/>'
        )
    legend = [(k, c, "") for k, c in COLORS.items()] + [
        ("average", *lines["average"]),
        ("target (2/3)", *lines["target"]),
    ]
    for row, (label, color, dash) in enumerate(legend):
        ly = top + 10 + row * 18
        lx = width - right + 16
        mark = (
            f'<circle cx="{lx}" cy="{ly - 4}" r="4" fill="{color}"/>'
            if label in COLORS
            else f'<line x1="{lx - 8}" x2="{lx + 8}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
            f'stroke-width="2" stroke-dasharray="{dash}"/>'
        )
        parts.append(f'{mark}<text x="{lx + 12}" y="{ly}">{_esc(label)}</text>')
    parts.append("</svg>")
    return Svg("\n".join(parts))
