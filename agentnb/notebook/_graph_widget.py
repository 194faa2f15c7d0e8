"""The live graph widget: an ipywidgets ``HTML`` widget redrawn by a render thread.

How it updates:

* A session listener (on the driver's loop thread) merges each event into the
  :class:`~agentnb.notebook._graph_model.GraphModel` (microseconds) and wakes
  the render thread; it never renders.
* The render thread coalesces: however many events arrived, it draws the
  latest snapshot once, at most ``rate`` times a second (slower when a draw
  is expensive: at most a quarter of the kernel's time goes to drawing and
  sending). graphviz runs in a subprocess from this thread, so a layout never
  blocks the kernel.
* Nothing is sent while idle: the thread sleeps until the next event, and the
  widget's value is set only when the drawing changed.
* The saved notebook keeps a static picture: the widget is displayed as one
  output holding the widget view *and* ``text/html`` with the drawing, and
  once events have been quiet for ``settle`` seconds that output is updated
  through its display id. nbconvert/nbviewer show the ``text/html`` when the
  widget state is not saved.

Works with ipywidgets 7.7+ and 8 (only ``widgets.HTML`` and its ``value``).

DOM contract (tests/test_browser_graph.py reads the page through it; keep it):

* The widget's HTML has a root element with CSS class ``agentnb-graph``,
  which contains graphviz's ``<svg>`` (without graphviz: a table, and a note
  on how to install it; before any call: a short note).
* Each agent is graphviz's default node group ``<g class="node ...">`` whose
  ``<title>`` text is the agent's name; the driver's node is titled ``driver``.
* Each edge is graphviz's default ``<g class="edge ...">`` whose ``<title>``
  text is ``SRC->DST`` (graphviz's default for digraph edges; in the SVG
  source it reads ``SRC&#45;&gt;DST``).
* Each edge group's class list also contains ``agentnb-state-<state>``, the
  state (queued, running, done or error) of the latest message on that edge,
  i.e. of the call that consumes it. Each node group likewise carries
  ``agentnb-state-<state>``: running / queued while one of its calls is,
  else the outcome of its last call (done or error), else ``idle`` (no call
  seen, e.g. the driver).
* Recolouring (every update that is not a new layout) rewrites these class
  lists and the fill/stroke colours in place; group ids (``agentnb_n<i>``,
  ``agentnb_e<i>``), titles and coordinates stay as laid out.
* Hovering shows tooltips (SVG ``<a xlink:title>`` inside each group) with the
  full message preview, ids and timings; below the drawing, an element with
  class ``agentnb-graph-caption`` sums the graph up.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .._runtime._output import Listener
from .._runtime._session import Session
from ._graph_model import GraphModel, Snapshot
from ._graph_render import EMPTY, GraphRenderer

log = logging.getLogger("agentnb")

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class _Pump:
    """A render thread: wakes on changes, draws at most ``rate`` times a second, idles silently."""

    def __init__(
        self, render: Callable[[], float | None], settled: Callable[[], None], rate: float, settle: float
    ) -> None:
        self._render, self._settled = render, settled
        self._interval, self._settle = 1.0 / rate, settle
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentnb-graph", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        next_at = 0.0
        while True:
            self._wake.wait()  # idle: nothing runs, nothing is sent
            delay = next_at - time.monotonic()
            if self._stopping.is_set() or (delay > 0 and self._stopping.wait(delay)):
                return
            self._wake.clear()  # events from here on wake the next round
            cost = self._guard(self._render)
            next_at = time.monotonic() + max(self._interval, 4 * (cost or 0.0))
            if not self._wake.wait(self._settle) and not self._stopping.is_set():
                self._guard(self._settled)

    @staticmethod
    def _guard(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception:  # noqa: BLE001 - the thread must survive a bad draw
            log.exception("agentnb graph: drawing failed")
            return None


class LiveGraph(widgets.HTML):  # type: ignore[misc]
    """The live dataflow graph of a session, as an ipywidgets ``HTML`` widget.

    Attributes:
        model: the :class:`GraphModel` it draws (``model.to_json()``,
            ``model.to_dot()``, ``model.to_svg()`` export it).
        renderer: the :class:`GraphRenderer` (layout counts and timings).
    """

    def __init__(
        self,
        model: GraphModel,
        renderer: GraphRenderer,
        session: Session | None = None,
        rate: float = 10.0,
        settle: float = 1.0,
    ) -> None:
        super().__init__(value=EMPTY)
        self._drawn: str = EMPTY  # what ``value`` was last set to
        self.model = model
        self.renderer = renderer
        self._session = session
        self._display_ids: list[str] = []
        self._static = ""
        self._shown = -1
        self._draw_lock = threading.Lock()
        self._listener: Listener = self._listen
        self._pump = _Pump(self._draw, self._refresh_static, rate, settle)
        self._stopped = False
        if session is not None:
            session.listeners.append(self._listener)

    # -- updates ---------------------------------------------------------------

    def _listen(self, event: Any) -> None:
        if self.model.apply(event):
            self._pump.wake()

    def changed(self) -> None:
        """Tell the widget its model changed outside the session's listeners (e.g. a replay)."""
        self._pump.wake()

    def _draw(self) -> float | None:
        """Draw the model's latest state if it changed.

        Returns:
            The seconds this process spent on it (graphviz's subprocess not
            counted), or None if nothing changed.
        """
        with self._draw_lock:
            snap = self.model.snapshot()
            if snap.version == self._shown:
                return None
            start, graphviz = time.perf_counter(), self.renderer.graphviz_seconds
            value = self.renderer.render(snap)
            if value != self._drawn:
                self.value = self._drawn = value
            self._shown = snap.version
            spent = time.perf_counter() - start
            return max(spent - (self.renderer.graphviz_seconds - graphviz), 0.0)

    def _bundle(self, value: str) -> dict[str, Any]:
        view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
        return {"text/plain": repr(self), "text/html": value, WIDGET_VIEW: view}

    def _refresh_static(self, force: bool = False) -> None:
        """Put the current drawing into the saved notebook's copy (once quiet, if it changed)."""
        value = self._drawn
        if not self._display_ids or (value == self._static and not force):
            return
        from IPython.display import update_display

        for display_id in self._display_ids:
            update_display(self._bundle(value), raw=True, display_id=display_id)
        self._static = value

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        handle_displayed = getattr(self, "_handle_displayed", None)
        if handle_displayed is not None:
            handle_displayed(**kwargs)
        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        self._static = self._drawn
        display(self._bundle(self._static), raw=True, display_id=display_id)

    # -- public ----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The model's current state (see :class:`Snapshot`)."""
        return self.model.snapshot()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float = 30.0) -> Snapshot:
        """Block until ``predicate(snapshot)`` holds for the model (raises TimeoutError)."""
        return self.model.wait_for(predicate, timeout)

    def svg(self) -> str:
        """The current drawing as a standalone SVG document (laid out again only if the shape changed).

        Raises:
            GraphvizError: graphviz is missing, failed or ran out of time.
        """
        with self._draw_lock:
            return self.renderer.svg(self.model.snapshot())

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
        if self._session is not None:
            try:
                self._session.listeners.remove(self._listener)
            except ValueError:
                pass
        self._pump.stop()
        return True

    def close(self) -> None:
        """Stop following the session and close the widget (its views disappear)."""
        self._halt()
        super().close()

    def __repr__(self) -> str:
        state = "stopped" if getattr(self, "_stopped", False) else "live"
        return f"<agentnb graph ({state}): {getattr(self, 'model', None)!r}>"
