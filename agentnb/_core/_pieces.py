"""What a streaming reply produces: pieces, then its final message.

A ``reply`` streams when it is a generator: each value it yields is a piece
(a ``str``, or a :class:`Msg`), and the value it returns is its final
message. A generator that returns nothing ends with a message of its own
name holding its text pieces joined (or, if it yielded messages, the last of
them). A plain ``reply`` that returns a ``Msg`` does not stream.
"""

from __future__ import annotations

import inspect
from typing import Any

from ._message import Msg


def is_stream(value: Any) -> bool:
    """Whether a reply's return value is a stream of pieces (a generator)."""
    return inspect.isgenerator(value)


class Pieces:
    """Collects what a stream yielded, to make its final message when it returns nothing."""

    __slots__ = ("agent", "count", "_texts", "_last")

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.count = 0
        self._texts: list[str] = []
        self._last: Msg | None = None

    def check(self, piece: Any) -> str | Msg:
        """Count a piece and keep what the final message needs; raises TypeError for a bad piece."""
        if isinstance(piece, str):
            self._texts.append(piece)
        elif isinstance(piece, Msg):
            self._last = piece
        else:
            raise TypeError(
                f"reply() of agent {self.agent!r} yielded {type(piece).__name__}; a streaming reply "
                "yields str or Msg pieces and returns (or ends with) its final Msg"
            )
        self.count += 1
        return piece

    def final(self, returned: Any) -> Msg:
        """The final message: what the generator returned, else its text (or last message)."""
        if isinstance(returned, Msg):
            return returned
        if returned is not None:
            raise TypeError(
                f"reply() of agent {self.agent!r} streamed, then returned {type(returned).__name__}; "
                "it must return a Msg (or nothing: its text pieces, joined, become the final message)"
            )
        if self._last is not None and not self._texts:
            return self._last
        return Msg(self.agent, "".join(self._texts))


def drain(stream: Any, agent: str) -> Msg:
    """Run a stream (a generator) to its end here and return its final message (a local call)."""
    pieces = Pieces(agent)
    while True:
        try:
            pieces.check(next(stream))
        except StopIteration as stop:
            return pieces.final(stop.value)
