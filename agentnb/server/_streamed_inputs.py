"""Agents that read their inputs' streams as they come (``stream_inputs = True``).

Normally a call waits, outside its agent's mailbox, until every placeholder
it takes is resolved to its final message. An agent whose class sets
``stream_inputs = True`` is called as soon as its turn comes instead: each
placeholder input arrives as a :class:`StreamedInput`, a message whose
:meth:`~StreamedInput.stream` yields the producer's pieces as the producer
makes them (read from the producing server with ``StreamResult``, the task
id being the capability), and whose fields (``content``, ...) wait for the
final message, exactly as a placeholder's do. A producer that fails makes
the fields (and the end of the stream) raise its RemoteError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._core._errors import CallTimeoutError
from .._core._message import FIELDS, Msg
from .._proto import agentnb_pb2 as pb
from .._runtime._codec import decode_msg, input_label
from .._runtime._stream import Piece, PieceFeed
from ._mailbox import Inputs

if TYPE_CHECKING:
    from ._resolve import Resolver


def _field(name: str) -> property:
    def get(self: StreamedInput) -> Any:
        return getattr(self.result(), name)

    return property(get, doc=f"The final message's ``{name}``; waits until it is there.")


class StreamedInput(Msg):
    """A placeholder input of an agent that reads streams: pieces as they come, then the message."""

    name = _field("name")  # type: ignore[assignment]
    content = _field("content")
    role = _field("role")  # type: ignore[assignment]
    url = _field("url")  # type: ignore[assignment]
    metadata = _field("metadata")
    id = _field("id")  # type: ignore[assignment]
    timestamp = _field("timestamp")  # type: ignore[assignment]

    def __init__(self, resolver: Resolver, ref: pb.TaskRef) -> None:
        # Msg.__init__ is not called: every field is read from the final message.
        self._resolver = resolver
        self._ref = ref
        self.agent_name = ref.agent
        self._final = Inputs([None], 1)
        self._ready = threading.Event()
        self._final.when_ready(self._ready.set)
        resolver.watch_ref(ref, self._final)
        self._feed: PieceFeed | None = None
        self._lock = threading.Lock()

    def result(self, timeout: float | None = None) -> Msg:
        """The final message; waits at most ``timeout`` seconds (None: as long as it takes).

        Raises:
            RemoteError: the producer failed, or its reply could not be read.
            CallTimeoutError: not there within ``timeout``.
        """
        if not self._ready.wait(timeout):
            raise CallTimeoutError(f"the reply of agent {self.agent_name!r} was not there within {timeout} s")
        if self._final.error is not None:
            raise self._final.error
        value = self._final.values[0]
        assert value is not None
        return value

    def _resolved(self) -> Any:
        return self.result()

    def done(self) -> bool:
        return self._ready.is_set()

    def stream(self, timeout: float | None = None) -> Iterator[Piece]:
        """The producer's pieces in order, as it makes them (none if its reply does not stream).

        Args:
            timeout: the longest wait for the next piece (None: as long as the producer runs).

        Raises:
            RemoteError: the producer failed (after the pieces it made).
        """
        with self._lock:
            if self._feed is None:
                self._feed = self._open()
        return self._feed.pieces(timeout, _wait, self.agent_name)

    def _open(self) -> PieceFeed:
        resolver, ref = self._resolver, self._ref
        address = ref.address or resolver.address
        feed = PieceFeed(ref.agent, address)
        feed.start(
            resolver.loop, lambda: resolver.client(address), ref.task_id, resolver.reconnect,
            call_key="" if ref.task_id else ref.call_key,
        )  # fmt: skip
        return feed

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = "done" if self._ready.is_set() else "streaming"
        return f"<StreamedInput from {self.agent_name!r} {state}>"


def _wait(register: Any, timeout: float | None) -> bool:
    done = threading.Event()
    register(done.set)
    return done.wait(timeout)


def streamed_inputs(resolver: Resolver, agent: str, request: pb.CallRequest) -> Inputs | None:
    """The inputs of a call to an agent that reads streams, ready at once (None: it takes none)."""
    if request.method:
        return None
    items = request.inputs
    if not any(item.WhichOneof("kind") == "ref" for item in items):
        return None
    values: list[Msg | None] = []
    for i, item in enumerate(items):
        if item.WhichOneof("kind") == "ref":
            values.append(StreamedInput(resolver, item.ref))
        else:
            values.append(decode_msg(item.message, input_label(i, len(items), agent)))
    return Inputs(values, 0)


assert set(FIELDS) <= set(vars(StreamedInput)), "every Msg field must wait on a streamed input"
