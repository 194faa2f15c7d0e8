"""Where ``to_dist(placement=...)`` puts an agent: the hook an engine's pool of servers fills in.

The facade knows only this protocol; :mod:`agentnb.engines` implements it
(``agentnb.servers(client)`` returns a pool, and ``pool.spread()``,
``pool.by_name()``, ``pool.on(host)``, ``pool.near(agent)`` are placements).
Inside ``with pool:`` a plain ``to_dist()`` (and ``Agent(..., to_dist=True)``)
uses the pool: it is this module's default until the block ends.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

if TYPE_CHECKING:
    from .._runtime._link import ServerLink


@runtime_checkable
class Placement(Protocol):
    """Chooses a server for each agent, and keeps track of the agents it placed."""

    def registry_host(self) -> str:
        """What stands for the host in the session's registry key: a re-run cell finds its
        agents on the same placement, wherever they were put."""
        ...

    def place(self, agent: Any) -> ServerLink:
        """The link to the server ``agent`` (a ``DistributedAgent``) is to be built on."""
        ...

    def holds(self, agent: Any) -> bool:
        """Whether ``agent`` still has a server (False once it was lost and not respawned)."""
        ...

    def forget(self, agent: Any) -> None:
        """``agent`` was stopped: never rebuild it."""
        ...


_lock = threading.Lock()
_defaults: list[Placement] = []


def default() -> Placement | None:
    """The placement a plain ``to_dist()`` uses now (the innermost ``with pool:``), if any."""
    with _lock:
        return _defaults[-1] if _defaults else None


def push(placement: Placement) -> None:
    """Make ``placement`` the default of plain ``to_dist()`` calls (``with pool:`` enters)."""
    with _lock:
        _defaults.append(placement)


def pop(placement: Placement) -> None:
    """Stop using ``placement`` as the default (``with pool:`` leaves; the pool closes)."""
    with _lock:
        for i in range(len(_defaults) - 1, -1, -1):
            if _defaults[i] is placement:
                del _defaults[i]
                return


_checked: set[type] = set()  # types seen to be placements (an isinstance with a Protocol is slow)


def check(placement: Any) -> Placement:
    """``placement`` if it is one, else a TypeError that says what to pass."""
    if type(placement) in _checked:
        return cast(Placement, placement)
    if isinstance(placement, Placement):
        _checked.add(type(placement))
    else:
        raise TypeError(
            f"to_dist(placement=...) takes a pool of servers (pool = agentnb.servers(client)) or one of "
            f"its placements (pool.spread(), pool.by_name(), pool.on(host), pool.near(agent)); got "
            f"{type(placement).__name__}"
        )
    return cast(Placement, placement)
