"""The session's live distributed agents, by key (pykka's ``ActorRegistry`` is the model).

One object owns the agents and its lock; everyone else asks it. A key says
what a ``to_dist`` made: the agent's class, name and address, and how many
times that was asked before in the same run (a script, or one execution of a
notebook cell), so a re-run cell finds the agents its previous run made, in
the same order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    from ._process import ServerProcess


class LiveAgent(Protocol):
    """What the session knows of a distributed agent (the facade's ``DistributedAgent``)."""

    name: str
    class_name: str
    address: str
    server: ServerProcess | None

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


A = TypeVar("A", bound=LiveAgent)


class AgentKey(NamedTuple):
    """What a ``to_dist`` made, and which of its kind in its run."""

    module: str
    qualname: str
    name: str
    host: str
    port: int | None
    launch_server: bool
    local_mode: bool
    occurrence: int = 0


class Registry(Generic[A]):
    """Live agents by :class:`AgentKey`, with a private lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._agents: dict[AgentKey, A] = {}
        self._run: Hashable = None  # the current run
        self._seen: dict[AgentKey, int] = {}  # keys asked for in the current run

    def key(self, base: AgentKey, run: Hashable) -> AgentKey:
        """``base`` numbered by how many times it was asked for before in ``run``."""
        with self._lock:
            if run != self._run:
                self._run, self._seen = run, {}
            count = self._seen.get(base, 0)
            self._seen[base] = count + 1
        return base._replace(occurrence=count)

    def claim(
        self, key: AgentKey, keep: Callable[[A], bool], make: Callable[[], A]
    ) -> tuple[A, bool, A | None]:
        """The live agent under ``key`` if ``keep(it)``; else a new one from ``make()``.

        Returns the agent, whether it is new, and the live one a new one
        replaced, if any (the caller decides whether to stop it).
        """
        with self._lock:
            live = self._agents.get(key)
            if live is not None and keep(live):
                return live, False, None
            made = self._agents[key] = make()
            return made, True, live

    def remove(self, key: AgentKey, agent: A) -> bool:
        """Forget ``agent`` if it is the one under ``key``; True if it was."""
        with self._lock:
            if self._agents.get(key) is agent:
                del self._agents[key]
                return True
            return False

    def agents(self) -> list[A]:
        """The live agents, in the order they were made."""
        with self._lock:
            return list(self._agents.values())

    def clear(self) -> list[A]:
        """Forget every agent; returns them."""
        with self._lock:
            agents, self._agents = list(self._agents.values()), {}
            return agents
