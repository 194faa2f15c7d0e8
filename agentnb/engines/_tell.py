"""What a pool tells the user and the graph: notices in the running cell, marks on agents."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable
from typing import Any

from .._core._events import Event
from .._runtime._session import Session

#: A notice names at most this many agents.
NAMED = 8


class Teller:
    """Says things about a pool's agents; called from any thread (an engine's, the renewer's)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def notice(self, text: str) -> None:
        """One line for the user, in the notebook cell running now.

        Said in an empty context: an engine's event loop runs its callbacks in the context of
        the cell that started it, where a kernel would take that old cell for the current one.
        """
        contextvars.Context().run(self._say, text)

    def _say(self, text: str) -> None:
        session = self._session
        session.notice(text, session.origin())

    def mark(self, agent: Any, kind: str, address: str, cause: str) -> None:
        """Tell the session's listeners (the graph) that an agent was "lost" or "respawned"."""
        event = Event(kind, "", agent.name, address, preview=cause, timestamp=time.time())
        session = self._session
        session.loop.call_soon(session.dispatch, event)


def names(agents: Iterable[Any]) -> str:
    """ "agents 'A', 'B' and 3 more": the agents a notice is about."""
    listed = [repr(a.name) for a in agents]
    shown = ", ".join(listed[:NAMED]) + (f" and {len(listed) - NAMED} more" if len(listed) > NAMED else "")
    return f"agent{'s' if len(listed) != 1 else ''} {shown}"
