"""``msghub``: a group in which every participant hears every other participant's replies.

AgentScope's message hub, for debates and games::

    with msghub([alice, bob, carol], announcement=Msg("host", "Topic: ...")):
        alice()   # bob and carol observe alice's reply
        bob()     # alice and carol observe bob's reply

Entering the hub broadcasts the announcement to everyone. While it is open,
each reply of a participant (a placeholder, for a distributed agent) is
observed by the others, in the order the calls were made, so the next
speaker's reply sees it. Works with local and distributed agents alike;
observing a placeholder never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

_lock = threading.Lock()
_open: list[MsgHub] = []  # hubs in a with-block, anywhere in this process


class MsgHub:
    """Participants that hear each other; use as a context manager (see :func:`msghub`)."""

    def __init__(self, participants: Iterable[Any], announcement: Any = None) -> None:
        self.participants = list(participants)
        self.announcement = announcement

    def __enter__(self) -> MsgHub:
        with _lock:
            _open.append(self)
        if self.announcement is not None:
            self.broadcast(self.announcement)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with _lock:
            if self in _open:
                _open.remove(self)

    def broadcast(self, msg: Any) -> None:
        """Every participant observes ``msg`` (a message, a placeholder, or a list of them)."""
        for agent in list(self.participants):
            agent.observe(msg)

    def add(self, *agents: Any) -> None:
        for agent in agents:
            if not any(agent is p for p in self.participants):
                self.participants.append(agent)

    def delete(self, *agents: Any) -> None:
        self.participants = [p for p in self.participants if not any(p is a for a in agents)]

    def _heard(self, speaker: Any, reply: Any) -> None:
        if any(speaker is p for p in self.participants):
            for agent in list(self.participants):
                if agent is not speaker:
                    agent.observe(reply)


def msghub(participants: Iterable[Any], announcement: Any = None) -> MsgHub:
    """A hub in which each participant observes the others' replies while it is open.

    Args:
        participants: agents (local or distributed).
        announcement: a message (or list) every participant observes on entering.
    """
    return MsgHub(participants, announcement)


def heard(speaker: Any, reply: Any) -> None:
    """A participant replied: the others in its open hubs observe the reply."""
    if not _open:
        return
    with _lock:
        hubs = list(_open)
    for hub in hubs:
        hub._heard(speaker, reply)
