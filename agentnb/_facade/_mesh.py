"""``Mesh``: N agents of one class over a set of servers, made and called in one operation per server.

As Monarch's actor meshes and AgentScope's large simulations have it, a
simulation of thousands (or a million) agents is one object::

    players = Player.mesh(100_000, names="P{i}", kwargs={"seed": 0}, placement=4)
    guesses = players(Msg("judge", "guess"))    # one message to all: one operation per server
    verdict = judge(guesses)                     # the judge's server reads them all
    guesses[17].content                          # one agent's reply (a placeholder)
    players.gather(guesses)                      # every reply, as a list

Each server gets one ``CreateMesh`` (the class once, the shared arguments
once, the names as a pattern) and one operation per mesh call; the driver
keeps a few objects per server, not per agent. ``players[i]`` is a
distributed agent like any other, called in mailbox order with the mesh's
calls. Code that runs inside a server (a judge that holds the mesh) calls
that server's agents in-process, without gRPC.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any, overload

from .._core._config import Timeouts
from .._core._errors import AgentnbError, MessageError
from .._core._message import Msg
from .._runtime import _local
from .._runtime._calls import Call
from .._runtime._codec import encode_value, fill_msg, input_label, register_reference
from .._runtime._link import ServerLink, route_address
from .._runtime._mesh_calls import gather_items, mesh_request, message_of
from .._runtime._mesh_ops import delete_mesh_op
from .._runtime._ops import delete_op
from .._runtime._outbox import Pending
from .._runtime._process import ServerProcess
from .._runtime._recipe import Recipe
from .._runtime._registry import AgentKey
from .._runtime._session import Session, get_session
from ._dist import DistributedAgent, _caller
from ._mesh_replies import ItemsInput, MeshReplies, expand
from ._options import DistOptions
from ._placeholder import Placeholder

#: A name pattern: "{i}" once, with an optional zero-padded width ("{i:06d}").
_INDEX = re.compile(r"\{i(?::(0?\d{0,2})d)?\}")


class MeshPart:
    """One server's share of a mesh: agents ``first`` .. ``first + count - 1``."""

    __slots__ = ("first", "count", "link", "server", "server_id", "built", "failure")

    def __init__(self, first: int, count: int, link: ServerLink, server: ServerProcess | None) -> None:
        self.first, self.count, self.link, self.server = first, count, link, server
        self.server_id = ""  # known once the server acknowledged the mesh
        self.built = threading.Event()  # every agent was built (or failed to be)
        self.failure: AgentnbError | None = None  # why some could not be made, if any

    @property
    def timeouts(self) -> Timeouts:
        return self.link.timeouts


class Mesh:
    """``size`` agents of one class spread over servers; see :func:`mesh`."""

    def __init__(
        self,
        cls: type,
        name: str,
        size: int,
        names: str | list[str],
        options: DistOptions,
        session: Session,
        key: AgentKey | None = None,
        fingerprint: str = "",
    ) -> None:
        self.cls, self.name, self.size, self.names = cls, name, size, names
        self.class_name = f"{cls.__qualname__}[{size:,}]"
        self.parts: list[MeshPart] = []
        self._firsts: list[int] = []
        self._options, self._session, self._key = options, session, key
        self.fingerprint = fingerprint
        self.owned: list[ServerProcess] = []  # servers launched for this mesh
        self.address = ""  # its servers' addresses (set once it is placed)
        self.server: ServerProcess | None = None  # the server launched for it, if one

    # -- what the session's registry asks (LiveAgent) ----------------------------------------

    def alive(self) -> bool:
        return all(not server.exited.is_set() for server in self.owned)

    def stop(self) -> None:
        """Delete the mesh's agents; stop the servers launched for it."""
        if self._key is not None:
            self._session.registry.remove(self._key, self)
        for part in self.parts:
            if part.server is not None and part.server in self.owned:
                self._session.stop_server(part.server)
            elif not part.link.gone:
                part.link.put(Pending(self.name, op=delete_mesh_op(self.name)))

    # -- the agents ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    def name_of(self, i: int) -> str:
        """The name of agent ``i``."""
        names = self.names
        if isinstance(names, list):
            return names[i]
        match = _INDEX.search(names)
        assert match is not None
        return f"{names[: match.start()]}{i:{(match.group(1) or '') + 'd'}}{names[match.end() :]}"

    def locate(self, i: int) -> tuple[int, int]:
        """(which part, which agent of that part) agent ``i`` is."""
        p = bisect.bisect_right(self._firsts, i) - 1
        return p, i - self.parts[p].first

    @overload
    def __getitem__(self, index: int) -> MeshMember: ...

    @overload
    def __getitem__(self, index: slice) -> list[MeshMember]: ...

    def __getitem__(self, index: int | slice) -> MeshMember | list[MeshMember]:
        """Agent ``index``, as a distributed agent (calls to it keep order with the mesh's), or a
        list of them for a slice."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not isinstance(index, int):
            raise TypeError(f"a mesh is indexed by int or slice, not {type(index).__name__}")
        i = index + self.size if index < 0 else index
        if not 0 <= i < self.size:
            raise IndexError(f"mesh {self.name!r} has {self.size:,} agents; there is no agent {index}")
        return MeshMember(self, i)

    def __iter__(self) -> Iterator[MeshMember]:
        for i in range(self.size):
            yield self[i]

    def wait(self, timeout: float | None = None) -> None:
        """Wait until every agent is built; raise what went wrong (the first few) if any failed."""
        for part in self.parts:
            if not part.built.wait(timeout):
                raise AgentnbError(f"mesh {self.name!r} on {part.link.address}: not built within {timeout} s")
        failures = [part.failure for part in self.parts if part.failure is not None]
        if failures:
            raise failures[0]

    # -- calls ------------------------------------------------------------------------------------

    def __call__(self, x: Any = None) -> MeshReplies:
        """Send ``x`` (a Msg, a placeholder, replies of a mesh, a list of them, or None) to every
        agent, in one operation per server; returns one placeholder per agent at once."""
        shape = "none" if x is None else "list" if isinstance(x, (list, tuple, MeshReplies)) else "one"
        items = [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]
        return self._send(expand(items), shape, False)

    def reply(self, x: Any = None) -> MeshReplies:
        """The same as calling the mesh."""
        return self(x)

    def each(self, xs: Sequence[Any]) -> MeshReplies:
        """Send one message (or placeholder) to each agent: ``xs[i]`` to agent ``i``."""
        if isinstance(xs, MeshReplies):
            xs = list(xs)
        if len(xs) != self.size:
            raise MessageError(
                f"mesh {self.name!r} has {self.size:,} agents: give each one input, not {len(xs):,}"
            )
        return self._send(list(xs), "one", True)

    def call_method(self, method: str, *args: Any, **kwargs: Any) -> MeshReplies:
        """Run the public method ``method(*args, **kwargs)`` of every agent (in mailbox order);
        the replies are its return values."""
        if method.startswith("_") or not callable(getattr(self.cls, method, None)):
            raise AttributeError(f"{self.cls.__qualname__} has no public method {method!r}")
        arguments = encode_value({"args": list(args), "kwargs": kwargs}, f"the arguments of {method}()")
        return self._send([], "none", False, method, arguments)

    def gather(self, replies: MeshReplies, timeout: float | None = None, return_exceptions: bool = False
               ) -> list[Any]:  # fmt: skip
        """Every reply of a call of this mesh, in order (see :meth:`MeshReplies.gather`)."""
        return replies.gather(timeout, return_exceptions)

    def _send(
        self, items: list[Any], shape: str, each: bool, method: str = "", args: str = ""
    ) -> MeshReplies:
        caller, origin = _caller(), self._session.origin()
        shares: list[Any] = []
        for part in self.parts:
            local = _local.lookup(part.link.address)
            if local is not None:  # the agents live in this process: no gRPC, no encoding
                chosen = items[part.first : part.first + part.count] if each else items
                shares.append(local.call_mesh(self.name, _values(chosen), shape, each, caller))
                continue
            request = mesh_request(self.name, caller, shape, each)
            request.method, request.args_json = method, args
            chosen = items[part.first : part.first + part.count] if each else items
            slots, size = self._encode(request, chosen, part)
            call = Call(part.link, self.name, request, slots, origin, size)
            part.link.put(Pending(self.name, call=call))
            shares.append(call)
        return MeshReplies(self, shares)

    def _encode(self, request: Any, items: list[Any], part: MeshPart) -> tuple[list[tuple[int, Call]], int]:
        """Fill ``request``'s inputs: messages now, placeholders as slots filled when it is sent."""
        slots: list[tuple[int, Call]] = []
        size, max_bytes = 0, part.link.limits.max_message_bytes
        for i, item in enumerate(items):
            slot = request.inputs.add()
            if isinstance(item, Placeholder):
                slots.append((i, item.call))
            elif isinstance(item, ItemsInput):
                producer: Any = item.call.link
                if route_address(producer, part.link) is None:
                    raise MessageError(
                        f"the server at {part.link.address} cannot read replies from {producer.address} "
                        "(loopback only, or TLS on one of them only); gather them and send the list"
                    )
                slot.ref.items = True
                slots.append((i, item.call))
            elif isinstance(item, Msg):
                size += fill_msg(slot.message, item, max_bytes, input_label(i, len(items), self.name))
            else:
                raise MessageError(
                    f"{input_label(i, len(items), self.name)} is a {type(item).__name__}; pass a Msg, a "
                    "placeholder, replies of a mesh, a list of them, or None"
                )
        return slots, size

    # -- how it travels ---------------------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (as a constructor argument shipped to a server), it travels as a reference."""
        return (from_reference, (_reference(self), self.cls))

    def __repr__(self) -> str:
        servers = len(self.parts)
        return f"<Mesh {self.name!r}: {self.size:,} {self.cls.__qualname__} agents on {servers} server(s)>"


class MeshMember(DistributedAgent):
    """One agent of a mesh, as a distributed agent (made on demand)."""

    def __init__(self, mesh: Mesh, index: int) -> None:
        name = mesh.name_of(index)
        recipe = Recipe(mesh.cls, name, (), {"name": name}, attach_only=True)
        super().__init__(recipe, mesh._options, mesh._session, None)  # type: ignore[arg-type]
        part = mesh.parts[mesh.locate(index)[0]]
        self.address, self.server, self.link = part.link.address, part.server, part.link
        self.mesh, self.index = mesh, index

    def alive(self) -> bool:
        return self.mesh.alive()

    def stop(self) -> None:
        """Delete this agent from its server (the rest of the mesh stays)."""
        if self.link is not None and not self.link.gone:
            self.link.put(Pending(self.name, op=delete_op(self.name)))

    def __repr__(self) -> str:
        return f"<MeshMember {self.name!r} ({self.index} of mesh {self.mesh.name!r}) on {self.address}>"


def _values(items: list[Any]) -> list[Any]:
    """Inputs for an in-process call: messages as they are, placeholders and replies read here."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, Placeholder):
            out.append(item.result())
        elif isinstance(item, ItemsInput):
            out.extend(message_of(wire, item.call.agent) for wire in gather_items(item.call, None))
        else:
            out.append(item)
    return out


def _reference(mesh: Mesh) -> dict[str, Any]:
    """How a mesh travels: its servers, names and size (an agent of one of its servers calls
    that server's part in-process, found by address)."""
    cls = mesh.cls
    return {
        "mesh": mesh.name, "size": mesh.size, "names": mesh.names,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "parts": [[p.link.address, p.server_id, p.link.token or "", p.first, p.count] for p in mesh.parts],
    }  # fmt: skip


def from_reference(info: dict[str, Any], cls: type | None = None) -> Mesh:
    """The mesh a reference names (no I/O until it is used)."""
    session = get_session()
    options = DistOptions.build("localhost", 1, launch_server=False, lazy_launch=True)
    mesh = Mesh(cls or _Unknown, str(info["mesh"]), int(info["size"]), info["names"], options, session)
    for address, server_id, token, first, count in info["parts"]:
        part = MeshPart(int(first), int(count), session.link(str(address), str(token) or None), None)
        part.server_id = str(server_id)
        part.built.set()
        mesh.parts.append(part)
        mesh._firsts.append(part.first)
    return mesh


class _Unknown:
    """The class of a referenced mesh whose class is not imported here (its agents still reply)."""


register_reference(Mesh, _reference)
