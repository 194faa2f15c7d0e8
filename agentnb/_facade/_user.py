"""``UserAgent``: the person at the notebook as an agent (AgentScope's ``UserAgent``)."""

from __future__ import annotations

from typing import Any

from .._core._message import Msg
from ._agent import AgentBase, Input


class UserAgent(AgentBase):
    """An agent whose reply is what a person types.

    Its reply shows the messages it got, then asks with ``input()``. Called
    here, that is this process's own ``input()``. Distributed
    (``UserAgent("User").to_dist()``), its ``input()`` runs on its server and
    asks in the notebook cell that waits for its reply (through the kernel's
    stdin), or on the driver's terminal in a script: AgentScope programs
    that put a ``UserAgent`` in a conversation run as they are.

    Args:
        name: its name (the messages it makes carry it).
        prompt: what ``input()`` shows (default ``"<name>: "``).

    Example:
        >>> user = UserAgent("User")                       # doctest: +SKIP
        >>> x = None
        >>> while x is None or x.content != "exit":         # doctest: +SKIP
        ...     x = user(assistant(x))
    """

    def __init__(self, name: str = "User", prompt: str | None = None) -> None:
        super().__init__(name)
        self.prompt = prompt

    def reply(self, x: Input = None) -> Msg:
        for msg in x if isinstance(x, list) else [x] if x is not None else []:
            print(f"{msg.name}: {_text(msg.content)}")
        self.observe(x)
        answer = Msg(self.name, input(self.prompt or f"{self.name}: "), role="user")
        self.memory.append(answer)
        return answer


def _text(content: Any) -> str:
    return content if isinstance(content, str) else repr(content)
