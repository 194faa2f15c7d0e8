"""Turning the notebook layer on inside a Jupyter kernel (once per session).

The first use of agentnb in a kernel (a name taken from ``agentnb``, or
``%load_ext agentnb``) calls :func:`switch_on`, which:

* routes remote output to the cell that made the call: each call remembers
  its cell's parent header, and printed lines from that call are written with
  that parent (ipykernel >= 7 sends background-thread output to the *latest*
  cell otherwise);
* holds the end of a cell until the calls it made finished and the feeds of
  their servers have shown what was printed so far, so a cell's remote output
  is in the cell before it goes idle. How long depends on who runs the cell:
  a person (JupyterLab, Notebook, VS Code: the execute request allows stdin)
  gets the prompt back after at most ``OUTPUT_SYNC_S`` (placeholders return at
  once, and later output still lands in the cell, live); a headless run
  (nbclient, nbconvert, papermill: no stdin) waits up to ``HEADLESS_WAIT_S``
  (``AGENTNB_HEADLESS_WAIT`` seconds) for the cell's calls, since it moves on
  and saves the notebook as it is: what a call prints after that is not in
  the saved notebook;
* keeps a spare server started ahead, so ``to_dist()`` in a cell is fast;
* asks remote prompts (a reply's ``input()``, ``breakpoint()``, ``%agentnb
  debug``) in the cell whose thread waits for a placeholder, through the
  kernel's stdin, and shows streaming replies' text growing in their cells;
* makes ``asyncio.run(main())`` work in a cell: the kernel's loop is already
  running, so asyncio is made reentrant with ``nest_asyncio2`` (the maintained
  fork; the original package is archived and, under ipykernel 7.4, silently
  dropped the cells queued behind such a cell).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import nest_asyncio2

from .._core._events import Event
from .._runtime._console import serve_in_cells
from .._runtime._session import Session, get_session, prefixed
from ._stream_view import install as install_stream_views
from .graph._graph import install_event_log

log = logging.getLogger("agentnb")

#: The longest a cell's end waits for its calls to finish and their output to arrive, for a person.
OUTPUT_SYNC_S = 1.0
#: The same for a headless run (nbclient, nbconvert, papermill), which saves what the cell showed.
HEADLESS_WAIT_S = 60.0
HEADLESS_WAIT_ENV = "AGENTNB_HEADLESS_WAIT"


def _shell() -> Any:
    if "ipykernel" not in sys.modules:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and hasattr(shell, "set_thread_parent") else None


class CellOutput:
    """Event listener: remote output, prefixed by the agent's name, in the calling cell."""

    def __init__(self, shell: Any, session: Session) -> None:
        self._shell = shell
        self._session = session

    def __call__(self, event: Event) -> None:
        if event.kind != "output":
            return
        self.write(prefixed(event), self._session.origins.get(event.task_id))

    def write(self, text: str, parent: Any) -> None:
        if parent is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        tokens = self._shell.set_thread_parent(parent)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        finally:
            self._shell.reset_thread_parent(tokens)


def switch_on(session: Session | None = None) -> bool:
    """Turn the notebook layer on if this process is a Jupyter kernel; idempotent."""
    shell = _shell()
    if shell is None:
        return False
    session = session or get_session()
    cell_output = CellOutput(shell, session)

    def notice(text: str, origin: Any = None) -> None:
        cell_output.write(text + "\n", origin)

    if not session.use_notebook(shell.get_parent, cell_output, notice):
        return True  # on already
    install_event_log(session)  # so a graph() made after some calls still shows them
    # remote prompts (input(), debuggers) are asked in the cell that waits; streams grow in place
    session.console.notice = lambda text, task_id: notice(text, session.origins.get(task_id))
    serve_in_cells(session.console)
    install_stream_views(shell, session)
    shell.events.register("post_run_cell", lambda result: _sync_output(session, shell))
    nest_asyncio2.apply()
    return True


def headless(shell: Any) -> bool:
    """Whether the cell running now came from a headless client (nbclient, nbconvert, papermill).

    Their execute requests allow no stdin (nobody is there to type);
    JupyterLab's, Notebook's and VS Code's do.
    """
    try:
        parent = shell.get_parent() or {}
    except Exception:  # noqa: BLE001 - no parent: not a cell from a client
        return False
    content = parent.get("content") or {}
    return parent.get("header", {}).get("msg_type") == "execute_request" and not content.get(
        "allow_stdin", True
    )


def cell_wait(shell: Any) -> float:
    """How long the end of the running cell may wait for its calls (see the module doc)."""
    if not headless(shell):
        return OUTPUT_SYNC_S
    try:
        return max(0.0, float(os.environ.get(HEADLESS_WAIT_ENV, HEADLESS_WAIT_S)))
    except ValueError:
        log.warning(
            "agentnb: %s must be a number of seconds; waiting %g s", HEADLESS_WAIT_ENV, HEADLESS_WAIT_S
        )
        return HEADLESS_WAIT_S


def _sync_output(session: Session, shell: Any) -> None:
    calls = session.take_recent_calls()
    if not calls:
        return
    wait = cell_wait(shell)
    try:
        session.run(session.sync_output(calls, wait), wait + OUTPUT_SYNC_S * 3)
    except Exception:  # noqa: BLE001 - never fail a cell for this
        log.debug("agentnb: syncing the output of a cell failed", exc_info=True)
