"""``Msg``: the unit agents exchange.

Content is JSON-compatible data (str, int, float, bool, None, lists, dicts
with string keys) or ``bytes``; that is what can travel between processes
without pickle.
"""

from __future__ import annotations

import random
import time
from typing import Any

from ._errors import MessageError

#: Fields compared by ``==`` and shown by ``repr``.
FIELDS = ("name", "content", "role", "url", "metadata", "id", "timestamp")


class Msg:
    """A message from ``name`` with some ``content``.

    Args:
        name: who sent it (an agent's name, or "user").
        content: JSON-compatible data, or bytes.
        role: "assistant", "user" or "system" by convention.
        url: optional link(s) to attached resources.
        metadata: optional JSON-compatible extra data.

    Example:
        >>> Msg("user", "hi").content
        'hi'
    """

    def __init__(
        self,
        name: str,
        content: Any = None,
        role: str = "assistant",
        *,
        url: str | list[str] | None = None,
        metadata: Any = None,
        id: str | None = None,  # noqa: A002 - the seed's field name
        timestamp: float | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise MessageError(f"Msg name must be a str, got {type(name).__name__}")
        self.name = name
        self.content = content
        self.role = role
        self.url = url
        self.metadata = metadata
        self.id = id if id is not None else new_id()
        self.timestamp = timestamp if timestamp is not None else time.time()

    def to_dict(self) -> dict[str, Any]:
        """The message as a plain dict of its fields."""
        return {field: getattr(self, field) for field in FIELDS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msg):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dict

    def _resolved(self) -> Any:
        """The message a local agent's ``reply`` receives for this one: itself (a placeholder
        waits for its reply here)."""
        return self

    def __repr__(self) -> str:
        return f"Msg(name={self.name!r}, content={_preview(self.content)}, role={self.role!r})"


def new_id() -> str:
    """A message id: 32 random hex digits (unique, not secret: no system call per message)."""
    return f"{random.getrandbits(128):032x}"


def _preview(content: Any, limit: int = 80) -> str:
    text = repr(content)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_jsonable(value: Any, where: str) -> None:
    """Raise MessageError naming the path of the first value JSON cannot carry."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if item is None or isinstance(item, (str, bool, int, float)):
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, dict):
            for key, v in item.items():
                if not isinstance(key, str):
                    raise MessageError(
                        f"{path} has a non-string key {key!r}; messages carry JSON data, "
                        "so dict keys must be str"
                    )
                stack.append((v, f"{path}[{key!r}]"))
        else:
            raise MessageError(
                f"{path} is a {type(item).__name__}, which cannot travel in a message; "
                "use JSON-compatible data (str, numbers, bool, None, lists, dicts) or bytes"
            )
