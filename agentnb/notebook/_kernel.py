"""Turning the notebook layer on inside a Jupyter kernel (once per session).

* Remote output lands in the cell that made the call: each call remembers its
  cell's parent header, and printed lines from that call are written with that
  parent (ipykernel >= 7 sends background-thread output to the *latest* cell
  otherwise).
* A spare server is kept started ahead, so ``to_dist()`` in a cell is fast.
* ``asyncio.run(main())`` works in a cell: the kernel's loop is already running,
  so asyncio is made reentrant with ``nest_asyncio2`` (the maintained fork;
  the original package is archived and, under ipykernel 7.4, silently dropped
  the cells queued behind such a cell).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from .._events import Event
from .._runtime._session import Session, print_output

log = logging.getLogger("agentnb")


def _shell() -> Any:
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
        text = "".join(f"[{event.agent}] {line}\n" for line in event.text.rstrip("\n").split("\n"))
        parent = self._session.origins.get(event.task_id)
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


def activate(session: Session) -> bool:
    """Install cell output routing and reentrant asyncio; idempotent. False outside a kernel."""
    if session.origin_hook is not None:
        return True
    shell = _shell()
    if shell is None:
        return False
    session.origin_hook = shell.get_parent
    listeners = session.listeners
    listeners[:] = [CellOutput(shell, session) if x is print_output else x for x in listeners]
    session.keep_spare = True  # the next to_dist() in a cell takes a server started ahead
    from ._graph import install_event_log

    install_event_log(session)  # so a graph() made after some calls still shows them
    enable_nested_asyncio()
    return True


def enable_nested_asyncio() -> None:
    """Let ``asyncio.run()`` run inside a cell (whose event loop is already running)."""
    import nest_asyncio2

    nest_asyncio2.apply()
    log.debug("asyncio made reentrant with nest_asyncio2")
