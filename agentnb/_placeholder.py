"""``Placeholder``: the message a distributed agent's call returns at once.

Reading a message field (``content``, ``name``, ...) blocks until the reply
arrives; so do ``.result()`` and ``await``. ``repr``, ``done()`` and
``state`` never block and never touch the network. Passed to another
distributed agent, a placeholder travels as a reference and that agent's
server fetches the value from the producing server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ._errors import AgentnbError, CallTimeoutError, RemoteError, ServerUnavailableError
from ._message import FIELDS, Msg, _preview

if TYPE_CHECKING:
    from ._dist import DistributedAgent


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

    def __init__(self, agent: DistributedAgent, request: Any) -> None:
        # Msg.__init__ is not called: every field is read from the reply.
        self._agent = agent
        self._request = request
        self._task_id = request.task_id
        self._ack: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._prev: concurrent.futures.Future[None] | None = None  # the call before, to this agent
        self._lock = threading.Lock()
        self._sent = False
        self._fetch: concurrent.futures.Future[Msg] | None = None

    @property
    def task_id(self) -> str:
        return self._task_id

    @property
    def agent_name(self) -> str:
        return self._agent.name

    @property
    def address(self) -> str:
        return self._agent.address

    def _ref(self) -> tuple[str, str, str]:
        return self._agent.address, self._task_id, self._agent.name

    def _claim_send(self) -> bool:
        """Whoever claims first sends the call: the loop, or a reader (see :meth:`result`)."""
        with self._lock:
            if self._sent:
                return False
            self._sent = True
            return True

    def _fetching(self) -> concurrent.futures.Future[Msg]:
        with self._lock:
            if self._fetch is None:
                session = self._agent._session
                self._fetch = session.loop.submit(self._agent.fetch(self._task_id, self._ack))
            return self._fetch

    def _send_and_wait(self, timeout: float | None) -> None:
        """One round trip: send the call from this thread and get the outcome with it.

        Taken when the reply is read before the loop sent the call, and every
        earlier call to this agent was acknowledged (so order is kept).
        """
        prev = self._prev
        session = self._agent._session
        if (prev is not None and not prev.done()) or session.loop.in_loop_thread() or not self._claim_send():
            return
        chunk = self._agent._options.timeouts.fetch_chunk
        wait = chunk if timeout is None else min(timeout, chunk)
        try:
            outcome = self._agent.call_and_wait(self._request, wait)
        except ServerUnavailableError as exc:
            self._ack.set_exception(exc)
            self._settle(exc=session.loop.run(self._agent.explain(exc), 10))
            return
        except AgentnbError as exc:
            self._ack.set_exception(exc)
            self._settle(exc=exc)
            return
        except BaseException:
            self._ack.set_result(None)  # it may have arrived; a later read fetches it
            raise
        self._ack.set_result(None)
        if isinstance(outcome, RemoteError):
            self._settle(exc=outcome)
        elif outcome is not None:
            self._settle(outcome)

    def _settle(self, reply: Msg | None = None, exc: BaseException | None = None) -> None:
        future: concurrent.futures.Future[Msg] = concurrent.futures.Future()
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(reply)  # type: ignore[arg-type]
        with self._lock:
            if self._fetch is None:
                self._fetch = future

    def result(self, timeout: float | None = None) -> Msg:
        """The reply; waits at most ``timeout`` seconds (None: as long as the call runs).

        Raises:
            RemoteError: the remote ``reply`` raised.
            CallTimeoutError: no reply within ``timeout``; the call goes on.
            ServerUnavailableError: the server died or cannot be reached.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._fetch is None and not self._sent:
            self._send_and_wait(timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return self._fetching().result(remaining)
        except concurrent.futures.TimeoutError:
            if self._fetching().done():
                raise
            raise CallTimeoutError(
                f"agent {self.agent_name!r} on {self.address}: no reply within {timeout} s; "
                "the call goes on, read the placeholder again to keep waiting"
            ) from None

    def __await__(self) -> Generator[Any, None, Msg]:
        return asyncio.wrap_future(self._fetching()).__await__()

    def done(self) -> bool:
        """True once the reply (or an error) is there; never blocks."""
        return self.state in ("done", "error")

    @property
    def state(self) -> str:
        """ "sending", "queued", "running", "done" or "error"; never blocks."""
        fetch = self._fetch
        if fetch is not None and fetch.done():
            return "error" if fetch.exception() is not None else "done"
        if self._ack.done() and self._ack.exception() is not None:
            return "error"
        known = self._agent._session.states.get(self._task_id)
        if known is not None:
            return known
        return "queued" if self._ack.done() else "sending"

    def to_dict(self) -> dict[str, Any]:
        return self.result().to_dict()

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__  # type: ignore[assignment]

    def _repr_html_(self) -> str:
        from .notebook._reprs import placeholder_html

        return placeholder_html(self)

    def __repr__(self) -> str:
        state = self.state
        fetch = self._fetch
        if state == "done" and fetch is not None and fetch.done():
            reply = fetch.result()
            return f"<Placeholder {self.agent_name!r} done: {reply.name!r} said {_preview(reply.content)}>"
        return f"<Placeholder {self.agent_name!r} {state} (task {self._task_id[:8]})>"


assert set(FIELDS) <= set(vars(Placeholder)), "every Msg field must block on a placeholder"
