"""The seed's agents: a conversation partner, and a worker that reports when it ran."""

from __future__ import annotations

import os
import time

from agentnb import AgentBase, Msg

from .._facade._agent import Input


def contents(x: Input) -> list[object]:
    """The contents of an input: [] for None, one item per message otherwise."""
    if x is None:
        return []
    return [m.content for m in (x if isinstance(x, list) else [x])]


class Talker(AgentBase):
    """The seed's conversation: each turn adds one to the number it got; says "exit" at ``last``.

    Args:
        name: the agent's name.
        last: the turn at which it says "exit".
    """

    def __init__(self, name: str, last: int = 6) -> None:
        super().__init__(name)
        self.last = last

    def reply(self, x: Input = None) -> Msg:
        n = (0 if x is None else int(x.content)) + 1  # type: ignore[union-attr]
        print("turn", n)
        return Msg(self.name, "exit" if n >= self.last else n)


class Worker(AgentBase):
    """Works for ``seconds`` (standing in for an LLM call or a tool) and reports when it ran.

    Its reply is ``{"start", "end", "pid", "inputs"}``: wall-clock times, the
    process it ran in, and the contents of its inputs.

    Args:
        name: the agent's name.
        seconds: how long each reply takes.
    """

    def __init__(self, name: str, seconds: float = 0.5) -> None:
        super().__init__(name)
        self.seconds = seconds

    def reply(self, x: Input = None) -> Msg:
        start = time.time()
        time.sleep(self.seconds)  # the work
        ran = {"start": start, "end": time.time(), "pid": os.getpid(), "inputs": contents(x)}
        return Msg(self.name, ran)
