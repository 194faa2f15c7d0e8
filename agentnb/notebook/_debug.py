"""``%agentnb debug``: a post-mortem debugger on the frames of a remote reply that raised.

As ``%debug`` does for a local exception: after a cell raised a
:class:`~agentnb.RemoteError` (or with a placeholder whose call failed),
the server that ran the reply opens ``pdb`` on the frames it kept of that
call (its last ``Limits.failures_kept`` failures), and its prompts are asked
in this cell (see :mod:`agentnb._runtime._console`) until ``c`` or ``q``.
"""

from __future__ import annotations

import sys
from typing import Any

from .._core._errors import AgentnbError, RemoteError
from .._runtime import _console
from .._runtime._session import get_session


def remote_error(value: Any) -> RemoteError | None:
    """The RemoteError ``value`` is, holds, or was caused by (a placeholder's error too)."""
    call = getattr(value, "_call", None)
    if call is not None:  # a placeholder
        value = call.error
    seen = 0
    while value is not None and seen < 10:
        if isinstance(value, RemoteError):
            return value
        value, seen = value.__cause__ or value.__context__, seen + 1
    return None


def debug(target: Any = None) -> None:
    """Open a post-mortem debugger on a failed remote call, in this cell; returns when it ends.

    Args:
        target: a placeholder (or a RemoteError); None: the last exception of this session.

    Raises:
        ValueError: nothing remote to debug.
        AgentnbError: the server keeps no frames of that call, does not allow debugging, ...
    """
    error = remote_error(target if target is not None else _last_exception())
    if error is None:
        raise ValueError(
            "%agentnb debug: no remote exception to debug; run it after a cell raised a RemoteError "
            "(a distributed agent's reply raised), or name a placeholder whose call failed: "
            "%agentnb debug p"
        )
    if not error.task_id:
        raise ValueError(f"%agentnb debug: the error of agent {error.agent!r} does not say which call raised")
    session = get_session()
    link = next((k for k in session.links() if k.address == error.address and not k.gone), None)
    if link is None:
        raise AgentnbError(
            f"%agentnb debug: this session has no connection to {error.address}, where agent "
            f"{error.agent!r} ran (it needs that server's token)"
        )
    limit = link.limits.answer_wait * 2 + link.timeouts.control
    future = session.loop.submit(link.client.post_mortem(error.task_id, limit))
    try:
        _console.wait(lambda done: future.add_done_callback(lambda _: done()), None, only=error.task_id)
    except KeyboardInterrupt:
        future.cancel()
        raise
    future.result()
    print(f"agentnb: the debugger of agent {error.agent!r} ended")


def _last_exception() -> Any:
    return getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
