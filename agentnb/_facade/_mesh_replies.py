"""``MeshReplies``: what calling a mesh returns at once, one placeholder per agent.

Nothing is made per agent until it is asked for: ``replies[i]`` is a
:class:`Placeholder` made on demand, ``gather()`` (or ``await replies``)
reads every reply from each server in one stream, and passing the replies
to another agent (``judge(replies)``) sends one reference per server: that
agent's server reads them all, in the mesh's order, as one list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator
from typing import Any, Protocol, overload

from .._core._errors import CallTimeoutError, RemoteError
from .._runtime._calls import Call
from .._runtime._local import LocalMeshCall
from .._runtime._mesh_calls import (
    FOREVER,
    ItemCall,
    LocalLink,
    as_message,
    decode_items,
    gather_items,
    local_item,
)
from ._placeholder import Placeholder


class Mesh(Protocol):
    """What replies need of their mesh (``_mesh.Mesh``)."""

    name: str
    parts: list[Any]

    def __len__(self) -> int: ...

    def name_of(self, i: int) -> str: ...

    def locate(self, i: int) -> tuple[int, int]: ...


#: One server's share of a mesh call: a call sent over gRPC, or one made in this process.
Share = Call | LocalMeshCall


class MeshReplies:
    """The replies of one call of a mesh, in the mesh's order (a sequence of placeholders).

    Example:
        >>> replies = players(Msg("judge", "guess"))   # one operation per server
        >>> replies[3].content                         # one agent's reply
        >>> guesses = replies.gather()                 # every reply, as a list of Msg
        >>> verdict = judge(replies)                   # the judge gets them all as one list
    """

    __slots__ = ("mesh", "shares", "__weakref__")

    def __init__(self, mesh: Mesh, shares: list[Share]) -> None:
        self.mesh = mesh
        self.shares = shares  # one per server, in the order of the mesh's parts

    def __len__(self) -> int:
        return len(self.mesh)

    @overload
    def __getitem__(self, index: int) -> Placeholder: ...

    @overload
    def __getitem__(self, index: slice) -> list[Placeholder]: ...

    def __getitem__(self, index: int | slice) -> Placeholder | list[Placeholder]:
        """The reply of agent ``index`` (made on demand; negative indices count from the end),
        or a list of them for a slice."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not isinstance(index, int):
            raise TypeError(f"mesh replies are indexed by int or slice, not {type(index).__name__}")
        i = index + len(self) if index < 0 else index
        if not 0 <= i < len(self):
            raise IndexError(f"mesh {self.mesh.name!r} has {len(self):,} agents; there is no reply {index}")
        p, k = self.mesh.locate(i)
        share = self.shares[p]
        agent = self.mesh.name_of(i)
        if isinstance(share, Call):
            return Placeholder(ItemCall(share, k, agent))
        part = self.mesh.parts[p]
        return Placeholder(local_item(share, LocalLink(share.address, part.timeouts), k, agent))

    def __iter__(self) -> Iterator[Placeholder]:
        for i in range(len(self)):
            yield self[i]

    def done(self) -> bool:
        """Whether every reply is there (never blocks)."""
        return all(share.finished if isinstance(share, Call) else share.items(0) is not None
                   for share in self.shares)  # fmt: skip

    def gather(self, timeout: float | None = None, return_exceptions: bool = False) -> list[Any]:
        """Every reply, in the mesh's order: a Msg each (a method's value for a method call).

        Args:
            timeout: seconds to wait at most (CallTimeoutError; the calls go on).
            return_exceptions: put a failed agent's RemoteError in its place instead of
                raising the first one.
        """
        values: list[Any] = []
        for p, share in enumerate(self.shares):
            if isinstance(share, Call):
                wires = gather_items(share, timeout)
                link: Any = share.link
                show = link.show_output
            else:  # made in this process: the replies as they are
                got = share.items(FOREVER if timeout is None else timeout)
                if got is None:
                    raise CallTimeoutError(f"mesh {self.mesh.name!r}: not every reply came in {timeout} s")
                failed = (
                    None if return_exceptions else next((v for v in got if isinstance(v, RemoteError)), None)
                )
                if failed is not None:
                    raise failed
                values.extend(got)
                continue
            values.extend(self._decode(p, wires, share.task_id, show, return_exceptions))
        return values

    def _decode(self, p: int, wires: list[bytes], task_id: str, show: Any, keep_errors: bool) -> list[Any]:
        first = self.mesh.parts[p].first
        return decode_items(wires, task_id, lambda k: self.mesh.name_of(first + k), show, keep_errors)

    def __await__(self) -> Generator[Any, None, list[Any]]:
        return asyncio.get_running_loop().run_in_executor(None, self.gather).__await__()

    def __del__(self) -> None:
        for share in getattr(self, "shares", ()):
            if isinstance(share, Call):
                share.drop()
            else:
                share.release()

    def __repr__(self) -> str:
        done = sum(1 for s in self.shares if isinstance(s, Call) and s.finished)
        return (f"<MeshReplies of {self.mesh.name!r}: {len(self):,} agents on {len(self.shares)} server(s), "
                f"{done} of them done>")  # fmt: skip


class ItemsInput:
    """Every reply of a mesh call on one server, as one input of a call (a fan-in)."""

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call


def expand(items: list[Any]) -> list[Any]:
    """A call's inputs with each :class:`MeshReplies` spread into one input per server
    (an in-process share's replies are read here and travel as messages)."""
    if not any(isinstance(item, MeshReplies) for item in items):
        return items
    out: list[Any] = []
    for item in items:
        if not isinstance(item, MeshReplies):
            out.append(item)
            continue
        for share in item.shares:
            if isinstance(share, Call):
                out.append(ItemsInput(share))
            else:
                out.extend(as_message(value, item.mesh.name) for value in share.items(FOREVER) or ())
    return out
