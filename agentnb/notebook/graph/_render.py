"""Drawing the dataflow model: graphviz layout when the shape changes, fast recolouring otherwise.

Laying a graph out is expensive (DESIGN.md measured 45 ms for 100 nodes and
up to 40 s for a random 1,000-node graph with ``dot``) and recolouring a
drawn SVG is cheap (0.7 ms there; ~3 ms for 1,000 agents here), so
:class:`GraphRenderer` runs graphviz only when the shape changed (a node or
edge appeared or went). Labels never trigger a layout: edges get fixed label
slots from the start (:mod:`agentnb.notebook.graph._dot`), and the
recolouring template (:mod:`agentnb.notebook.graph._template`) fills them in.

Graphviz runs as a subprocess with a timeout (``graphviz.pipe()`` has none);
the engine fits the graph's size and density. Without graphviz, or when
layout failed, the view is an HTML table of agents and edges that says why
(and how to install it). The drawing always fits the output area's width
(:func:`agentnb.notebook.graph._html.fit`).
"""

from __future__ import annotations

import html
import time
from typing import Any

from ..._core._errors import GraphvizError, GraphvizMissingError
from ._critical import TimeReport, agent_sentence
from ._dot import RenderOptions, dot_source, run_graphviz
from ._html import EMPTY, caption, fit, legend, notes, table_html, time_summary, wrap
from ._template import Template
from ._views import Snapshot

__all__ = [
    "EMPTY",
    "GraphRenderer",
    "GraphvizError",
    "GraphvizMissingError",
    "RenderOptions",
    "dot_source",
    "run_graphviz",
]

INSTALL_HINT = (
    "install graphviz (apt-get install graphviz, conda install -c conda-forge graphviz "
    "or brew install graphviz), then call agentnb.graph() again"
)
INSTALL = (
    "graphviz's <code>dot</code> program was not found on PATH, so the graph is shown as a table: "
    f"{html.escape(INSTALL_HINT)}."
)
#: A drawing this much wider than tall (or taller than wide) is laid out again with neato.
STRETCHED = 4.0


class GraphRenderer:
    """Turns snapshots into the widget's HTML; lays out again only when the shape changed.

    Not thread-safe: one renderer per widget, used by one thread at a time.

    Attributes:
        layouts: how many times graphviz ran (timed out or failed runs included).
        layout_id: which drawing is current (changes with every successful layout).
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
        self.layout_id = 0  # counts drawings laid out (a recolour keeps it)
        self.notes = ""  # the HTML under the drawing (caption, legend, where the time went)
        self._template: Template | None = None
        self._failure: GraphvizError | None = None
        self._signature: tuple[Any, ...] | None = None

    def needs_layout(self, snap: Snapshot) -> bool:
        """Whether drawing ``snap`` runs graphviz (its shape differs from the current drawing's)."""
        return bool(snap.nodes) and self._signature_of(snap) != self._signature

    def render(self, snap: Snapshot, report: TimeReport | None = None) -> str:
        """The HTML for a snapshot: a recoloured drawing, a new layout, or the table.

        Args:
            snap: what to draw.
            report: where the last run's time went: its critical path is
                drawn thick, its sentences go below the drawing.
        """
        if not snap.nodes:
            return EMPTY
        self._prepare(snap)
        if self._template is None:
            return table_html(snap, self.problem)
        labels = self.options.show_labels(snap)
        extra = [f"laid out by {self.engine} in {self.layout_seconds * 1000:.0f} ms"]
        if not labels and self.options.labels is None:
            extra.append(f"labels hidden (over {self.options.label_limit} edges; hover an edge)")
        elif not labels:
            extra.append("labels off (hover an edge)")
        body = fit(self._fill(snap, report), self._template.size, self.options.max_height)
        self.notes = notes(caption(snap, extra), legend(labels, report is not None), time_summary(report))
        return wrap(body, self.notes)

    def take_changes(self) -> dict[str, list[Any]]:
        """What the renders since the last call recoloured (see :meth:`Template.take_changes`)."""
        return self._template.take_changes() if self._template is not None else {}

    def svg(self, snap: Snapshot, report: TimeReport | None = None) -> str:
        """The drawing as a standalone SVG document (at its natural size).

        Raises:
            GraphvizError: graphviz is missing, failed or ran out of time.
        """
        self._prepare(snap)
        if self._template is None:
            failure = self._failure or GraphvizError("nothing to draw")
            raise type(failure)(*failure.args)
        width, height = self._template.size
        body = self._fill(snap, report).replace(
            'width="100%" height="100%"', f'width="{width:.0f}px" height="{height:.0f}px"', 1
        )
        return self._template.prolog + body

    def _fill(self, snap: Snapshot, report: TimeReport | None) -> str:
        assert self._template is not None
        if report is None:
            return self._template.fill(snap, self.options)
        tips = {a.name: agent_sentence(a) for a in report.agents}
        return self._template.fill(snap, self.options, (report.nodes, report.edges), tips)

    def _signature_of(self, snap: Snapshot) -> tuple[Any, ...]:
        return (snap.shape_version, self.options.show_labels(snap))

    def _prepare(self, snap: Snapshot) -> None:
        signature = self._signature_of(snap)
        if signature != self._signature:
            self._layout(snap, self.options.show_labels(snap))
            self._signature = signature

    def _run(self, snap: Snapshot, labels: bool, engine: str) -> Template:
        start = time.perf_counter()
        try:
            source = dot_source(snap, self.options, labels, engine, tips=False)
            svg = run_graphviz(source, engine, self.options.timeout)
        except GraphvizMissingError:
            raise
        except GraphvizError:
            self.layouts += 1
            self.graphviz_seconds += time.perf_counter() - start
            raise
        self.layouts += 1
        self.layout_seconds = time.perf_counter() - start
        self.graphviz_seconds += self.layout_seconds
        return Template(svg, snap)

    def _layout(self, snap: Snapshot, labels: bool) -> None:
        self._template, self.engine, problems = None, "", []
        for engine in self.options.engines(snap):
            try:
                template = self._run(snap, labels, engine)
            except GraphvizMissingError as exc:
                self._failure = GraphvizMissingError(f"{exc}: {INSTALL_HINT}")
                problems = [INSTALL]
                break
            except GraphvizError as exc:
                self._failure = exc
                problems.append(html.escape(str(exc)))
                continue
            seconds = self.layout_seconds
            if engine == "dot" and self.options.engine == "auto" and _stretched(template, len(snap.nodes)):
                try:  # one long row (a ring, a chain): neato folds it into the box
                    template, engine = self._run(snap, labels, "neato"), "neato"
                    self.layout_seconds += seconds
                except GraphvizError:
                    pass
            self._template, self.engine, self.problem, self._failure = template, engine, "", None
            self.layout_id += 1
            return
        hint = ". Showing a table instead; try <code>agentnb.graph(last=200)</code>."
        self.problem = "; ".join(problems) + ("" if problems == [INSTALL] else hint)


def _stretched(template: Template, nodes: int) -> bool:
    width, height = template.size
    return nodes >= 12 and min(width, height) > 0 and max(width / height, height / width) > STRETCHED
