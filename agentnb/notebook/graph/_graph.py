"""``agentnb.graph()``: the live dataflow graph widget of this session, and its event log.

The event log is a cheap session listener that keeps the last events, so a
graph made after some calls still shows them (a new graph replays the log,
then follows the session live; events seen twice count once). It is
installed by the first ``graph()``; the notebook layer may install it
earlier with :func:`install_event_log` so that the very first graph shows
the calls made before it, too.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._core._events import Event
from ..._runtime._session import Session, get_session
from ._group import BY
from ._model import GraphModel, ModelOptions
from ._render import GraphRenderer, RenderOptions

if TYPE_CHECKING:
    from ._widget import LiveGraph

_WIDGET_OPTIONS: dict[str, Any] = {
    "rate": 10.0,
    "settle": 1.0,
    "replay": True,
    "by": "auto",
    "max_agents": 100,
    "run": None,
}


class EventLog:
    """The session's last ``size`` call events (output events excepted), oldest first."""

    agentnb_event_log = True  # a marker that survives re-imports of this module

    def __init__(self, size: int = 20_000) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind != "output":
            with self._lock:
                self._events.append(event)

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)


def install_event_log(session: Session | None = None) -> EventLog:
    """The session's event log, registered as a listener on first use (idempotent)."""
    session = session or get_session()
    for listener in list(session.listeners):
        if getattr(listener, "agentnb_event_log", False):
            return listener  # type: ignore[return-value]
    log = EventLog()
    session.subscribe(log)
    return log


# Graphs by the notebook cell that made them: re-running the cell replaces its graph.
_by_cell: dict[str, LiveGraph] = globals().get("_by_cell", {})


def _cell_id() -> str | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    parent = shell.get_parent() if shell is not None and hasattr(shell, "get_parent") else None
    return (parent or {}).get("metadata", {}).get("cellId") or None


def _split(options: dict[str, Any]) -> tuple[ModelOptions, RenderOptions, dict[str, Any]]:
    fields = {
        "model": {f.name for f in dataclasses.fields(ModelOptions)},
        "render": {f.name for f in dataclasses.fields(RenderOptions)},
    }
    unknown = set(options) - fields["model"] - fields["render"] - set(_WIDGET_OPTIONS)
    if unknown:
        known = ", ".join(sorted(fields["model"] | fields["render"] | set(_WIDGET_OPTIONS)))
        raise TypeError(f"graph() got unknown option(s) {', '.join(sorted(unknown))}; options: {known}")
    model = ModelOptions(**{k: v for k, v in options.items() if k in fields["model"]})
    render = RenderOptions(**{k: v for k, v in options.items() if k in fields["render"]})
    widget = {k: options.get(k, v) for k, v in _WIDGET_OPTIONS.items()}
    if widget["by"] not in BY:
        raise ValueError(f"graph(by={widget['by']!r}): by is one of {', '.join(BY)}")
    return model, render, widget


def _classes(session: Session) -> Callable[[str], str | None]:
    """The class of each agent this session made, by name (for grouping by class)."""

    def class_of(name: str) -> str | None:
        for agent in session.registry.agents():
            if agent.name == name:
                return str(agent.class_name)
        return None

    return class_of


def _run_name(run: Any) -> str | None:
    if run is None or isinstance(run, str):
        return run
    name = getattr(run, "name", None)  # an agentnb.Run
    if isinstance(name, str):
        return name
    raise TypeError(f"graph(run=...) takes a run's name or an agentnb.run(...), got {type(run).__name__}")


def graph(**options: Any) -> LiveGraph:
    """The live dataflow graph of this session's calls, as an ipywidgets widget.

    Agents are nodes, messages are edges, coloured by state (grey queued,
    blue running, green done, red error) and updated while calls run. The
    drawing fits the output area (Fit, zoom buttons, Ctrl + wheel, drag to
    pan); edge labels say what the latest message holds; hover for the full
    message and timings. After a run, its critical path is drawn thick and
    the widget says where the time went; the Timeline button shows one lane
    per agent (running and waiting). ``g.stop()`` stops following the
    session (the last drawing stays); ``g.model`` exports the graph
    (``to_json()``, ``to_dot()``, ``to_svg()``); ``g.where_the_time_went()``
    returns the last run's report.

    Args:
        **options: any of
            ``last`` (show only the last N messages), ``group`` (one edge per
            pair of agents with a count; default True), ``by`` ("auto":
            agents one by one up to ``max_agents`` (default 100), grouped by
            class beyond; or "agent", "class", "server"), ``keep`` (messages
            kept for export), ``labels`` (True / False / None: only up to
            ``label_limit`` edges), ``label_chars``, ``engine`` ("auto",
            "dot", "neato", "sfdp"), ``dot_limit``, ``neato_limit``,
            ``timeout`` (seconds per graphviz run), ``rankdir``,
            ``max_height`` (pixels), ``run`` (a name, or an ``agentnb.run(...)``:
            show only the calls made inside ``with agentnb.run(name):``, the
            latest such run, and say where its time went as a whole; a new
            run of the name starts the graph over), ``rate`` (updates per second, default
            10), ``settle`` (seconds of quiet before the saved notebook's
            static picture is refreshed, default 1; it is also refreshed at
            the end of every cell), ``replay`` (start with the calls already
            seen; default True).

    Returns:
        The widget (an anywidget). Re-running the notebook cell that made it replaces it.
    """
    from ._widget import LiveGraph

    model_options, render_options, widget_options = _split(options)
    session = get_session()
    event_log = install_event_log(session)
    cell = _cell_id()
    if cell is not None and (old := _by_cell.pop(cell, None)) is not None:
        old.close()
    widget = LiveGraph(
        GraphModel(model_options),
        GraphRenderer(render_options),
        session,
        rate=widget_options["rate"],
        settle=widget_options["settle"],
        by=widget_options["by"],
        max_agents=widget_options["max_agents"],
        class_of=_classes(session),
        run=_run_name(widget_options["run"]),
    )
    if widget_options["replay"] or widget.scope is not None:  # after the widget listens: nothing
        for event in event_log.events():  # falls between the two (a run's calls are shown whole)
            widget.offer(event)
    widget.changed()
    if cell is not None:
        _by_cell[cell] = widget
    return widget
