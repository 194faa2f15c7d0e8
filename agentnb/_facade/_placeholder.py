"""``Placeholder``: the message a distributed agent's call returns at once.

A placeholder is a :class:`Msg` whose fields are not there yet: reading one
(``content``, ``name``, ...) blocks until the reply arrives; so do
``.result()`` and ``await``. ``repr``, ``done()`` and ``state`` never block
and never touch the network. Passed to another distributed agent, a
placeholder travels as a reference and that agent's server fetches the value
from the producing server. The call itself is owned by the runtime
(:class:`agentnb._runtime._calls.Call`); a placeholder is its face.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

from .._core._errors import CallInterrupted
from .._core._message import FIELDS, Msg, _preview
from .._runtime._calls import CANCELLED, DONE, ERROR, Call
from .._runtime._session import get_session
from .._runtime._stream import astream_call, stream_call
from ._html import placeholder_html

#: What each state means, in the words the stop button's message uses.
MEANING = {
    "sending": "on its way to its server",
    "queued": "waiting in the agent's queue",
    "running": "running",
}
#: How long the stop button's message waits to learn where an interrupted call is.
INTERRUPT_LOOKUP_S = 0.5


def _field(name: str) -> property:
    def get(self: Placeholder) -> Any:
        return getattr(self.result(), name)

    return property(get, doc=f"The reply's ``{name}``; blocks until the reply arrives.")


class Placeholder(Msg):
    """A message that is not there yet: the pending reply of a distributed agent."""

    name = _field("name")  # type: ignore[assignment]
    content = _field("content")
    role = _field("role")  # type: ignore[assignment]
    url = _field("url")  # type: ignore[assignment]
    metadata = _field("metadata")
    id = _field("id")  # type: ignore[assignment]
    timestamp = _field("timestamp")  # type: ignore[assignment]

    def __init__(self, call: Call) -> None:
        # Msg.__init__ is not called: every field is read from the reply.
        self._call = call

    @property
    def call(self) -> Call:
        """The runtime's call this placeholder stands for (read-only)."""
        return self._call

    def __del__(self) -> None:
        # Nobody here can read the reply any more: the server may forget it (once the
        # calls that take it as input are done with it). Cheaper than a weakref.finalize.
        call = self.__dict__.get("_call")
        if call is not None:
            call.drop()

    @property
    def task_id(self) -> str:
        """The server's id of this call ("" until the server acknowledged it)."""
        return self._call.task_id

    @property
    def agent_name(self) -> str:
        return self._call.agent

    @property
    def address(self) -> str:
        return self._call.link.address

    def result(self, timeout: float | None = None) -> Any:
        """The reply; waits at most ``timeout`` seconds (None: as long as the call runs).

        Raises:
            RemoteError: the remote ``reply`` raised.
            CallCancelledError: the call was withdrawn before it started.
            CallTimeoutError: no reply within ``timeout``; the call goes on.
            ServerUnavailableError: the server died or cannot be reached.
            CallInterrupted: the wait was stopped (Ctrl-C, the stop button); the call goes on.
        """
        try:
            return self._call.result(timeout)
        except CallInterrupted:
            raise CallInterrupted(self._interrupted()) from None

    def _interrupted(self) -> str:
        """What the stop button says: where the call is now, and how to withdraw it."""
        call = self._call
        if not call.acked and not call.finished:  # a reader was sending it: its server answers soon
            call.acked_or_wait(INTERRUPT_LOOKUP_S)
        state = self.state
        where = f"agent {self.agent_name!r} on {self.address}"
        if state not in MEANING:  # it finished meanwhile
            return f"stopped waiting for {where}; the call has finished meanwhile ({state}): read it again"
        if state == "running":
            withdraw = (
                f"A running call cannot be withdrawn: %agentnb stop {self.agent_name} (or "
                "agentnb.shutdown()) stops the agent; agent.cancel() withdraws the calls queued behind it"
            )
        else:
            withdraw = "To withdraw it: placeholder.cancel(); every queued call of the agent: agent.cancel()"
        return f"stopped waiting for {where}; the call goes on there ({MEANING[state]}). {withdraw}"

    def _resolved(self) -> Any:
        return self.result()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._call.wait_async().__await__()

    def done(self) -> bool:
        """True once the reply (or an error) is there; never blocks."""
        return self._call.done()

    @property
    def state(self) -> str:
        """ "sending", "queued", "running", "streaming", "done", "error" or "cancelled"; never blocks."""
        return self._call.state_now()

    def cancel(self) -> bool:
        """Withdraw the call if it has not started, or stop a streaming reply at its next piece
        (and a reply waiting for input, or in a debugger); True if so.

        Any other call that started (or finished) cannot be withdrawn: ``cancel()``
        returns False and says why in one line (a running reply goes on; to
        stop it, stop its agent: ``%agentnb stop NAME`` or ``agentnb.shutdown()``).
        """
        call = self._call
        withdrawn = call.cancel()
        if not withdrawn:
            get_session().notice(self._not_withdrawn(), None)
        elif call.task_id:
            get_session().console.forget(call.task_id)  # its prompt, if any, is not asked any more
        return withdrawn

    def stream(self, timeout: float | None = None) -> Iterator[str | Msg]:
        """The pieces of a streaming reply, in order, as they come (from any thread); then the
        final message is ``p.content`` / ``p.result()``. A reply that does not stream has none.

        Args:
            timeout: the longest wait for the next piece (None: as long as the call runs).

        Raises:
            RemoteError: the reply failed (after the pieces it made).
            CallTimeoutError: no piece within ``timeout``; the call goes on.
        """
        return stream_call(self._call, timeout)

    def __aiter__(self) -> AsyncIterator[str | Msg]:
        """``async for chunk in p``: the pieces, awaited without blocking the running loop."""
        return astream_call(self._call)

    def _not_withdrawn(self) -> str:
        state, name = self.state, self.agent_name
        if state in (DONE, ERROR, CANCELLED):
            return f"agentnb: cancel() found nothing to withdraw: the call to {name!r} has finished ({state})"
        return (
            f"agentnb: cancel() cannot withdraw the call to {name!r}: it has started ({state}) and goes on; "
            f"to stop it, stop the agent (%agentnb stop {name}, or agentnb.shutdown())"
        )

    def to_dict(self) -> dict[str, Any]:
        return self.result().to_dict()

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__  # type: ignore[assignment]

    def _repr_html_(self) -> str:
        call, shown, error = self._call, None, None
        if call.resolved:
            if call.error is not None:
                error = str(call.error)
            else:
                reply = call.outcome()
                shown = _preview(reply.content if isinstance(reply, Msg) else reply, 200)
        return placeholder_html(self.agent_name, self.state, self.task_id, shown, error)

    def __repr__(self) -> str:
        state = self.state
        if state == DONE:
            reply = self._call.outcome()
            if isinstance(reply, Msg):
                return (
                    f"<Placeholder {self.agent_name!r} done: {reply.name!r} said {_preview(reply.content)}>"
                )
        task = f"task {self.task_id[:8]}" if self.task_id else MEANING["sending"]
        return f"<Placeholder {self.agent_name!r} {state} ({task})>"


assert set(FIELDS) <= set(vars(Placeholder)), "every Msg field must block on a placeholder"
