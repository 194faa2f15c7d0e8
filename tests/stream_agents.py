"""Streaming, prompting and failing agents the tests use (importable by kernels and launchers)."""

from __future__ import annotations

import os
import time

from agentnb import AgentBase, Msg


def wait_for_file(path: str, timeout: float = 60) -> bool:
    """A cross-process event for tests: wait until ``path`` exists (the agent's own pace, polled)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Words(AgentBase):
    """Streams ``n`` words, then returns them joined (its final message)."""

    def __init__(self, name: str, n: int = 5, pause: float = 0.0) -> None:
        super().__init__(name)
        self.n, self.pause = n, pause

    def reply(self, x=None):
        words = []
        for i in range(self.n):
            word = f"w{i} "
            words.append(word)
            yield word
            if self.pause:
                time.sleep(self.pause)  # the pace of a model making tokens
        return Msg(self.name, "".join(words).strip(), metadata={"pieces": self.n})


class GatedWords(AgentBase):
    """Streams ``before``, waits until the file ``gate`` exists, streams ``after``; returns nothing
    (its final message is its text, joined). ``pause``: seconds between two pieces."""

    def __init__(
        self, name: str, gate: str, before: tuple = ("one ", "two "), after: tuple = ("three",),
        pause: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(name)
        self.gate, self.before, self.after, self.pause = gate, list(before), list(after), pause

    def reply(self, x=None):
        yield from self._paced(self.before)
        if not wait_for_file(self.gate):
            raise TimeoutError(f"the gate {self.gate} never opened")
        yield from self._paced(self.after)

    def _paced(self, pieces):
        for i, piece in enumerate(pieces):
            if i and self.pause:
                time.sleep(self.pause)  # the pace of a model making tokens
            yield piece


class Endless(AgentBase):
    """Streams numbered pieces until stopped; remembers whether its generator was closed."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.closed_after = -1

    def reply(self, x=None):
        if x is not None and x.content == "closed?":
            return Msg(self.name, self.closed_after)
        return self._stream()

    def _stream(self):
        i = 0
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                yield f"{i} "
                i += 1
                time.sleep(0.005)  # the pace of a model making tokens
        finally:
            self.closed_after = i
        return Msg(self.name, "ran out of time")


class Relay(AgentBase):
    """Reads its input's stream as it comes and streams it on, upper-cased; records, per piece,
    whether the producer had finished when the piece arrived."""

    stream_inputs = True

    def reply(self, x=None):
        early = 0
        for piece in x.stream():
            early += not x.done()
            yield piece.upper()
        final = x.content
        return Msg(self.name, {"final": final, "early": early})


class Asker(AgentBase):
    """Asks for a name with input(), then greets it."""

    def reply(self, x=None):
        print("about to ask")
        name = input("Your name? ")
        return Msg(self.name, f"Hello, {name}!")


class Tokens(AgentBase):
    """Streams ``n`` short pieces as fast as it can (for the benchmark and the budget tests)."""

    def __init__(self, name: str, n: int = 1000, size: int = 8) -> None:
        super().__init__(name)
        self.n, self.size = n, size

    def reply(self, x=None):
        piece = "x" * self.size
        for _ in range(self.n):
            yield piece
        return Msg(self.name, self.n)


class Stops(AgentBase):
    """Stops at breakpoint() in its reply (for the debugger tests)."""

    def reply(self, x=None):
        text = x.content
        breakpoint()
        doubled = text * 2
        return Msg(self.name, doubled)


class Breaks(AgentBase):
    """Raises in its reply, with a local worth printing in a post-mortem debugger."""

    def reply(self, x=None):
        secret = f"{x.content}-42"
        raise ValueError(f"cannot handle {secret!r}")
