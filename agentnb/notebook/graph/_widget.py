"""The live graph widget: an anywidget redrawn by a render thread, with a static copy for saved notebooks.

How it updates:

* A session listener (on the driver's loop thread) merges each event into the
  :class:`~agentnb.notebook.graph._model.GraphModel` (microseconds) and wakes
  the render thread; it never renders.
* The render thread coalesces: however many events arrived, it draws the
  latest snapshot once, at most ``rate`` times a second (slower when a draw
  is expensive: at most a quarter of the kernel's time goes to drawing and
  sending). graphviz runs in a subprocess from this thread, so a layout never
  blocks the kernel.
* Nothing is sent while idle: the thread sleeps until the next event, and the
  widget's traits are set only when the drawing changed.

Saved notebooks: displaying the widget makes two outputs. The first holds the
widget view (and an empty ``text/plain``); the second, a static copy
(``text/html``: the graph, the timeline and where the time went) updated
through its display id. The live view hides the static copy; in a notebook
reopened without the kernel the static copy hides the widget output that
cannot show ("model not found") and is what people see, as it is in
nbconvert exports and nbviewer. The static copy is refreshed after events
have been quiet for ``settle`` seconds, and at the end of every cell (an
IPython ``post_run_cell`` hook), so a notebook executed headless (nbclient,
nbconvert, CI) saves its final state.

Works with ipywidgets 7.7+ and 8 (through anywidget).

DOM contract (tests/test_browser_graph.py reads the page through it; keep it):

* The live widget's element has class ``agentnb-live``; its graph's HTML has a
  root element with CSS class ``agentnb-graph``, which contains graphviz's
  ``<svg>`` inside a ``.agentnb-fit`` box that fits the output area (without
  graphviz: a table, and a note on how to install it; before any call: a
  short note). The static copy's root has class ``agentnb-static`` and holds
  the same ``.agentnb-graph`` element.
* Each agent is graphviz's default node group ``<g class="node ...">`` whose
  ``<title>`` text is the agent's name (or its group's, when grouped); the
  driver's node is titled ``driver``.
* Each edge is graphviz's default ``<g class="edge ...">`` whose ``<title>``
  text is ``SRC->DST`` (in the SVG source it reads ``SRC&#45;&gt;DST``).
* Each edge and node group's class list also contains
  ``agentnb-state-<state>`` (queued, running, done or error for edges: the
  state of the latest message's consuming call; for nodes also ``idle``).
  After a run, the groups on its critical path also have ``agentnb-critical``.
* Recolouring (every update that is not a new layout) rewrites these class
  lists, colours and label texts in place; group ids (``agentnb_n<i>``,
  ``agentnb_e<i>``), titles and coordinates stay as laid out.
* Hovering shows tooltips (SVG ``<a xlink:title>`` inside each group); below
  the drawing, ``.agentnb-graph-caption`` sums the graph up,
  ``.agentnb-graph-legend`` explains it, and after a run
  ``.agentnb-graph-time`` says where the time went.
* The timeline is a ``.agentnb-timeline`` element (see
  :mod:`agentnb.notebook.graph._timeline`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anywidget
import traitlets

from ..._runtime._output import Listener
from ..._runtime._session import Session
from ._critical import TimeReport, report
from ._front import CSS, ESM
from ._group import group, group_of
from ._html import EMPTY, caption_text, static_html
from ._model import GraphModel, Snapshot
from ._pump import Pump
from ._render import GraphRenderer
from ._scope import RunScope
from ._timeline import timeline_html

log = logging.getLogger("agentnb")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: A patch of more elements than this is sent as a whole drawing instead.
PATCH_LIMIT = 400
#: While calls run, the timeline is redrawn at most this often (seconds); after a run, at once.
TIMELINE_EVERY = 1.0
#: Displayed graphs that keep a static copy, refreshed at the end of each cell.
DISPLAYED: weakref.WeakSet[LiveGraph] = globals().get("DISPLAYED") or weakref.WeakSet()


def _unfinished(snap: Snapshot) -> bool:
    return any(n.queued or n.running for n in snap.nodes)


def _newer_than(version: int) -> Callable[[Snapshot], bool]:
    return lambda snap: snap.version != version


class LiveGraph(anywidget.AnyWidget):  # type: ignore[misc]
    """The live dataflow graph of a session, as a widget (zoom, pan, a timeline view).

    Attributes:
        model: the :class:`GraphModel` it draws (``model.to_json()``,
            ``model.to_dot()``, ``model.to_svg()`` export it).
        renderer: the :class:`GraphRenderer` (layout counts and timings).
        value: the graph's HTML, as the browser shows it.
        timeline: the timeline's HTML.
    """

    _esm = traitlets.Unicode(ESM).tag(sync=True)
    _css = traitlets.Unicode(CSS).tag(sync=True)
    #: The graph's full HTML (kernel side only: the static copy and exports read it).
    value = traitlets.Unicode(EMPTY)
    #: What the browser gets: a full drawing after each layout, then recolour patches against it.
    drawing = traitlets.Unicode(EMPTY).tag(sync=True)
    drawing_seq = traitlets.Int(0).tag(sync=True)
    patch = traitlets.Dict().tag(sync=True)
    timeline = traitlets.Unicode("").tag(sync=True)
    #: The static copy's latest bundle, for the page to keep the notebook's copy up to date.
    saved = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        model: GraphModel,
        renderer: GraphRenderer,
        session: Session | None = None,
        rate: float = 10.0,
        settle: float = 1.0,
        *,
        by: str = "agent",
        max_agents: int = 100,
        class_of: Callable[[str], str | None] | None = None,
        run: str | None = None,
    ) -> None:
        super().__init__()
        self._drawn: str = EMPTY  # what ``value`` was last set to
        self.model = model
        self.renderer = renderer
        self._session = session
        self._by, self._max_agents = by, max_agents
        self._class_of = class_of or (lambda name: None)
        self._display_ids: list[str] = []
        self._uid = uuid.uuid4().hex  # marks this graph's static copy in the notebook
        self._static = ""
        self._shown = -1
        self._report: TimeReport | None = None
        self._draw_lock = threading.Lock()
        self._drawn_cv = threading.Condition()
        self._listener: Listener = self._listen
        self._timeline_at = float("-inf")
        self._layout_sent = -1  # the renderer's layout the browser has as a whole drawing
        self._patched: dict[str, list[Any]] = {}  # recoloured since that drawing
        self._pump = Pump(self._draw, self._settled, rate, settle)
        self._stopped = False
        #: With ``run``: only the calls of the latest run of that name (``with agentnb.run(name):``).
        self.scope = RunScope(run, model, self._pump.wake) if run is not None else None
        self._unsubscribe = session.subscribe(self._listener) if session is not None else None

    # -- updates ---------------------------------------------------------------

    def _listen(self, event: Any) -> None:
        if self.offer(event):
            self._pump.wake()

    def offer(self, event: Any) -> bool:
        """Merge an event into the model (through the run's scope, if the graph shows a run)."""
        return self.scope.offer(event) if self.scope is not None else self.model.apply(event)

    def changed(self) -> None:
        """Tell the widget its model changed outside the session's listeners (e.g. a replay)."""
        self._pump.wake()

    def _shown_snapshot(self) -> Snapshot:
        snap = group(self.model.snapshot(), self._by, self._class_of, self._max_agents)
        if self.scope is None:
            return snap
        shown = f"the calls of run {self.scope.name!r}"
        return replace(snap, note="; ".join(n for n in (shown, snap.note) if n))

    def _drawn_report(self) -> TimeReport | None:
        """The report's critical path as drawn: in the groups' nodes when agents are grouped."""
        if self._report is None or self._by == "agent":
            return self._report
        return self._report.grouped(
            group_of(self.model.snapshot(), self._by, self._class_of, self._max_agents)
        )

    def _time_report(self) -> TimeReport | None:
        """Where the time went: the graph's run as a whole, or (following everything) the last run."""
        whole = self.scope is not None
        name = self.scope.name if self.scope is not None else ""
        return report(self.model.calls(last=5000), whole=whole, name=name)

    def _draw(self) -> float | None:
        """Draw the model's latest state if it changed.

        Returns:
            The CPU seconds this thread spent on it (graphviz's subprocess and
            time lost to other processes not counted), or None if nothing changed.
        """
        with self._draw_lock:
            snap = self._shown_snapshot()
            if snap.version == self._shown:
                return None
            start = time.thread_time()  # CPU time: graphviz's subprocess and other processes' load excluded
            self._report = None if _unfinished(snap) else self._time_report()
            value = self.renderer.render(snap, self._drawn_report())
            if value != self._drawn:
                self._send_drawing(value)
                self.value = self._drawn = value
            now = time.monotonic()
            if self._report is not None or now - self._timeline_at >= TIMELINE_EVERY:
                self._timeline_at = now  # mid-run, the timeline is redrawn about once a second
                timeline = timeline_html(self.model.calls(last=300), self._report)
                if timeline != self.timeline:
                    self.timeline = timeline
            with self._drawn_cv:
                self._shown = snap.version
                self._drawn_cv.notify_all()
            return time.thread_time() - start

    def _send_drawing(self, value: str) -> None:
        """Send the browser a drawing: the whole HTML after a layout, else what was recoloured.

        A patch holds every element recoloured since the last whole drawing
        (so a view opened late still catches up); past ``PATCH_LIMIT``
        elements the whole drawing goes again.
        """
        changes = self.renderer.take_changes()
        relaid = self.renderer.layout_id != self._layout_sent or self.renderer.engine == ""
        self._patched.update(changes)
        with self.hold_sync():
            if relaid or len(self._patched) > PATCH_LIMIT:
                self._layout_sent, self._patched = self.renderer.layout_id, {}
                self.drawing = value
                self.drawing_seq += 1
                self.patch = {"base": self.drawing_seq, "changes": {}, "notes": ""}
            else:
                self.patch = {
                    "base": self.drawing_seq,
                    "changes": dict(self._patched),
                    "notes": self.renderer.notes,
                }

    def _settled(self) -> None:
        """Quiet again: fold the patches into one whole drawing, and refresh the static copy."""
        if self._patched:
            with self._draw_lock:
                self._layout_sent = -1  # the next send is a whole drawing
                self._send_drawing(self._drawn)
        self._refresh_static()

    def _bundle(self) -> dict[str, Any]:
        text = f"agentnb graph: {caption_text(self._shown_snapshot())}"
        if self._report is not None:
            text += "\n" + "\n".join(self._report.sentences())
        return {"text/plain": text, "text/html": static_html(self._drawn, self.timeline, self._uid)}

    def _refresh_static(self, force: bool = False) -> None:
        """Put the current drawing into the saved notebook's copy (if it changed)."""
        value = self._drawn + self.timeline
        if not self._display_ids or (value == self._static and not force):
            return
        from IPython.display import update_display

        bundle = self._bundle()
        for display_id in self._display_ids:
            update_display(bundle, raw=True, display_id=display_id)
        self.saved = {"id": self._uid, "bundle": bundle}  # a reloaded page writes it into the notebook
        self._static = value

    def save_point(self, quiet: float = 0.1, limit: float = 1.0) -> None:
        """Bring the static copy up to date now (the end of a cell; blocks for at most ``limit`` s).

        Events of calls that just finished may still be on their way (each
        server's feed batches them for ~10 ms): while calls are unfinished it
        waits until none is, or until no event came for ``quiet`` seconds.
        A drawing that needs a new layout is made by the render thread.
        """
        if not self._display_ids or self._stopped:
            return
        deadline = time.monotonic() + limit
        snap = self.model.snapshot()
        while _unfinished(snap) and (left := deadline - time.monotonic()) > 0:
            try:
                snap = self.model.wait_for(_newer_than(snap.version), min(quiet, left))
            except TimeoutError:
                break
        shown = self._shown_snapshot()
        if shown.version != self._shown:
            if self.renderer.needs_layout(shown):
                self._pump.wake(urgent=True)
                with self._drawn_cv:
                    left = max(deadline - time.monotonic(), 0.0)
                    target = shown.version
                    self._drawn_cv.wait_for(lambda: self._shown >= target, left)
            else:
                self._draw()
        self._refresh_static()

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        handle_displayed = getattr(self, "_handle_displayed", None)
        if handle_displayed is not None:
            handle_displayed(**kwargs)
        view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
        display({"text/plain": "", WIDGET_VIEW: view}, raw=True)
        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        self._static = self._drawn + self.timeline
        bundle = self._bundle()
        display(bundle, raw=True, display_id=display_id)
        self.saved = {"id": self._uid, "bundle": bundle}
        DISPLAYED.add(self)
        install_cell_hook()

    # -- public ----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The model's current state (see :class:`Snapshot`)."""
        return self.model.snapshot()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 30.0) -> Snapshot:
        """Block until ``predicate(snapshot)`` holds for the model (raises TimeoutError)."""
        return self.model.wait_for(predicate, timeout)

    def where_the_time_went(self) -> TimeReport | None:
        """The last finished run: critical path and each agent's running vs waiting time (None mid-run).

        A graph of a named run (``graph(run=...)``) sums that run up as a whole.
        """
        return self._time_report()

    def svg(self) -> str:
        """The current drawing as a standalone SVG document (laid out again only if the shape changed).

        Raises:
            GraphvizError: graphviz is missing, failed or ran out of time.
        """
        with self._draw_lock:
            return self.renderer.svg(self._shown_snapshot(), self._drawn_report())

    def flush(self) -> None:
        """Draw the latest state now, in this thread, and send it to the saved notebook's static copy."""
        self._draw()
        self._refresh_static(force=True)

    def stop(self) -> None:
        """Stop following the session: no listener, no render thread; the last drawing stays."""
        if self._halt():
            self.flush()

    def _halt(self) -> bool:
        if getattr(self, "_stopped", True):  # stopped already, or never fully started
            return False
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.scope is not None:
            self.scope.close()
        self._pump.stop()
        return True

    def close(self) -> None:
        """Stop following the session and close the widget (its views disappear)."""
        self._halt()
        DISPLAYED.discard(self)
        super().close()

    def __repr__(self) -> str:
        state = "stopped" if getattr(self, "_stopped", False) else "live"
        return f"<agentnb graph ({state}): {getattr(self, 'model', None)!r}>"


def _after_cell(*_: Any) -> None:
    for graph in list(DISPLAYED):
        try:
            graph.save_point()
        except Exception:  # noqa: BLE001 - a cell's end must never fail because of the graph
            log.exception("agentnb graph: could not refresh the saved picture")


def install_cell_hook() -> None:
    """Refresh displayed graphs' static copies at the end of every cell (once per kernel)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "_agentnb_graph_hook", False):
        return
    shell.events.register("post_run_cell", _after_cell)
    shell._agentnb_graph_hook = True
