"""Recolouring a laid-out SVG: the drawing cut into literal parts and slots, refilled per update.

Laying out is expensive and recolouring cheap (DESIGN.md: 0.7 ms), so after a
layout the SVG is cut once: each node's and edge's class list, stroke and
fill attributes, tooltip and label text become slots; coordinates stay as
laid out. A fill recomputes only the elements whose view (or highlight)
changed since the last fill.

The root ``<svg>`` is made to fit its box: ``width``/``height`` 100% with the
laid-out ``viewBox`` kept, so a drawing of any size shows whole in the
output area (its natural size is kept in :attr:`Template.size`).
"""

from __future__ import annotations

import html
import re
from typing import Any

from ._dot import FONT, STYLE, RenderOptions, edge_tooltip, label_text, node_tooltip
from ._views import EdgeView, NodeView, Snapshot

_STROKES = {s for s, _ in STYLE.values()}
_FILLS = {f for _, f in STYLE.values()}
_GROUP = re.compile(r'<g id="agentnb_([ne])(\d+)" class="[^"]*">')
_INNER = re.compile(r'(fill|stroke)="(#[0-9a-f]{6})"|xlink:title="[^"]*"|(<text[^>]*>)[^<]*(?=</text>)')
_SVG_TAG = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
CRITICAL_WIDTH = 3


def _attr(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "&#10;")


class Template:
    """A laid-out SVG cut into literal parts and slots (class, stroke, fill, tip, label).

    Attributes:
        prolog: the XML prolog and doctype before ``<svg``.
        size: the drawing's natural size in CSS pixels (width, height).
        nodes: node names, in the order of their ``agentnb_n<i>`` ids.
        edges: edge keys, in the order of their ``agentnb_e<i>`` ids.
    """

    def __init__(self, svg: str, snap: Snapshot) -> None:
        start = svg.find("<svg")
        self.prolog, svg = svg[:start], svg[start:]
        self.size = (0.0, 0.0)
        # a tenth smaller for 1,000 agents: no graphviz comments, one font for every text (inherited)
        svg = _COMMENT.sub("", svg).replace(f' font-family="{FONT}"', "")
        if (m := _SVG_TAG.match(svg)) is not None:
            self.size = (float(m.group(1)) * 4 / 3, float(m.group(2)) * 4 / 3)  # pt -> px
            fitted = (
                f'<svg width="100%" height="100%" preserveAspectRatio="xMidYMid meet" font-family="{FONT}"'  # noqa: E501
            )
            svg = fitted + svg[m.end() :]
        self.nodes = [n.name for n in snap.nodes]
        self.edges = [e.key for e in snap.edges]
        self.parts: list[str] = []
        self.slots: dict[tuple[str, int], list[tuple[int, str]]] = {}  # element -> (part index, field)
        self._seen: dict[tuple[str, int], tuple[NodeView | EdgeView, bool, str]] = {}
        self.changes: dict[str, list[Any]] = {}
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
            if attr == "stroke":
                self._slot(kind, index, "stroke", "")
            elif attr:  # a node's fill, or an edge's arrowhead (filled with the stroke colour)
                self._slot(kind, index, "fill" if colour in _FILLS and kind == "n" else "arrow", "")
            elif text_tag:
                if kind == "n":
                    self.parts[-1] += m.group(0)  # a node's label never changes
                else:
                    self.parts.append(text_tag)
                    self._slot(kind, index, "label", "")
            else:
                self._slot(kind, index, "tip", "")
            pos = m.end()
        return pos

    def fill(
        self,
        snap: Snapshot,
        options: RenderOptions,
        critical: tuple[frozenset[str], frozenset[tuple[str, str]]] = (frozenset(), frozenset()),
        tips: dict[str, str] | None = None,
    ) -> str:
        """The SVG for ``snap``: states, highlights (``critical`` nodes and edges) and tooltips filled in."""
        nodes = {n.name: n for n in snap.nodes}
        edges = {e.key: e for e in snap.edges}
        hot_nodes, hot_edges = critical
        tips = tips or {}
        seen = self._seen
        for i, name in enumerate(self.nodes):
            n, hot, extra = nodes[name], name in hot_nodes, tips.get(name, "")
            old = seen.get(("n", i))
            if old is None or old[0] is not n or old[1] != hot or old[2] != extra:  # else: unchanged
                self._put(("n", i), n, options, hot, extra)
        for i, key in enumerate(self.edges):
            e = edges[key]
            hot = (e.source, e.target) in hot_edges
            old = seen.get(("e", i))
            if old is None or old[0] is not e or old[1] != hot:
                self._put(("e", i), e, options, hot, "")
        return "".join(self.parts)

    def take_changes(self) -> dict[str, list[Any]]:
        """The elements recoloured since the last call, for the browser to patch in place.

        Returns:
            ``{element id: [kind ("n"/"e"), state, critical, tooltip, label]}``.
        """
        changes, self.changes = self.changes, {}
        return changes

    def _put(
        self,
        element: tuple[str, int],
        view: NodeView | EdgeView,
        options: RenderOptions,
        hot: bool,
        extra: str,
    ) -> None:
        seen = self._seen.get(element)
        if seen is not None and seen[1] == hot and seen[2] == extra and seen[0] == view:
            self._seen[element] = (view, hot, extra)  # an equal view: nothing to redraw
            return
        self._seen[element] = (view, hot, extra)
        stroke = STYLE[view.state][0]
        width = f' stroke-width="{CRITICAL_WIDTH}"' if hot else ""
        critical = " agentnb-critical" if hot else ""
        if isinstance(view, NodeView):
            tip, label = node_tooltip(view, extra), ""
            values = {
                "class": f"node agentnb-state-{view.state}{critical}",
                "stroke": f'stroke="{stroke}"{width}',
                "fill": f'fill="{STYLE[view.state][1]}"',
                "arrow": f'fill="{stroke}"',
                "tip": f'xlink:title="{_attr(tip)}"',
            }
        else:
            tip, label = edge_tooltip(view), label_text(view, options)
            values = {
                "class": f"edge agentnb-state-{view.state}{critical}",
                "stroke": f'stroke="{stroke}"{width}',
                "fill": f'fill="{stroke}"',
                "arrow": f'fill="{stroke}"',
                "tip": f'xlink:title="{_attr(tip)}"',
                "label": html.escape(label, quote=False),
            }
        kind, index = element
        self.changes[f"agentnb_{kind}{index}"] = [kind, view.state, hot, tip, label]
        parts = self.parts
        for at, field in self.slots.get(element, ()):
            parts[at] = values[field]
