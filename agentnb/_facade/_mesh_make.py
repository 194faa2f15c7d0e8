"""Making a mesh: its servers (``placement``), its names, and one ``CreateMesh`` per server."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from .._core import _connection as connection
from .._core._address import host_port, is_loopback
from .._core._config import Limits, Timeouts
from .._core._errors import AgentnbError, RemoteError
from .._core._tls import TLS
from .._core._token import TOKEN_ENV
from .._runtime._link import ServerLink
from .._runtime._mesh_ops import create_mesh_op
from .._runtime._outbox import Pending
from .._runtime._process import ServerProcess
from .._runtime._recipe import Recipe
from .._runtime._registry import AgentKey
from .._runtime._session import Session, get_session
from ._dist import DistributedAgent, notice
from ._mesh import _INDEX, Mesh, MeshPart
from ._options import DistOptions

#: Where a mesh's agents go: a number of new servers, or servers (ports of this session's,
#: "host:port" of launchers, distributed agents or meshes whose servers to share).
Placement = int | str | DistributedAgent | Mesh | Sequence[int | str | DistributedAgent | Mesh]


def mesh(
    cls: type,
    n: int,
    *,
    names: str | Sequence[str] | None = None,
    kwargs: dict[str, Any] | None = None,
    overrides: dict[int, dict[str, Any]] | None = None,
    args: Sequence[Any] = (),
    placement: Placement = 1,
    name: str | None = None,
    host: str = "localhost",
    local_mode: bool = True,
    token: str | None = None,
    timeouts: Timeouts | None = None,
    limits: Limits | None = None,
    tls: TLS | None = None,
    fresh: bool = False,
) -> Mesh:
    """``n`` agents of class ``cls`` over a set of servers, made in one operation per server.

    Args:
        cls: the agents' class (an :class:`AgentBase` subclass).
        n: how many agents.
        names: their names: a pattern with ``{i}`` (or ``{i:06d}``) for the index (default
            ``"<name>-{i}"``), or a list of ``n`` names. Names are unique per server.
        kwargs: constructor keyword arguments every agent gets (besides its ``name``).
        overrides: keyword arguments of single agents, by index, over ``kwargs``.
        args: constructor positional arguments every agent gets (before ``name=``).
        placement: how many servers to start for the mesh (``4``), or the servers to use:
            ports of servers this session started (``agent.server.port``), ``"host:port"``
            of launchers, distributed agents or meshes whose servers to share (one of them,
            or a list). Agents are split in contiguous blocks, one per server.
        name: the mesh's name (default: the class's name); unique per server.
        host, local_mode, token, timeouts, limits, tls: as for :meth:`AgentBase.to_dist`.
        fresh: rebuild the mesh (and agents of those names) even if this session has it.

    Returns:
        The mesh: ``mesh(x)`` sends ``x`` to every agent, ``mesh.each(xs)`` one each, both
        returning one placeholder per agent at once; ``mesh[i]`` is agent ``i``.
    """
    if not (
        isinstance(cls, type)
        and any(
            k.__qualname__ == "AgentBase" and k.__module__ == "agentnb._facade._agent" for k in cls.__mro__
        )
    ):
        raise TypeError(f"a mesh is made of agents: {cls!r} is not an AgentBase subclass")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"a mesh needs at least one agent, got n={n!r}")
    name = name or cls.__name__
    pattern = _names(names if names is not None else f"{name}-{{i}}", n)
    table = _overrides(overrides or {}, n)
    options = DistOptions.build(host, None, True, local_mode, False, token, timeouts, limits, tls)
    recipe = Recipe(cls, name, tuple(args), dict(kwargs or {}))
    digest = hashlib.sha256(
        f"{recipe.fingerprint}|{n}|{pattern!r}|{sorted(table.items())!r}|{_shape(placement)}".encode()
    ).hexdigest()[:16]
    session = get_session()
    key = session.agent_key(AgentKey(
        cls.__module__, cls.__qualname__, f"mesh {name}", host, None, True, local_mode,
    ))  # fmt: skip

    def keep(live: Any) -> bool:
        return not fresh and isinstance(live, Mesh) and live.alive() and live.fingerprint == digest

    made, new, replaced = session.registry.claim(
        key, keep, lambda: Mesh(cls, name, n, pattern, options, session, key, digest)
    )
    assert isinstance(made, Mesh)
    if not new:
        return made
    if replaced is not None:
        replaced.stop()
    try:
        _start(made, recipe, placement, table, fresh)
        made.address = ", ".join(part.link.address for part in made.parts)
        made.server = made.owned[0] if len(made.owned) == 1 else None
    except BaseException:
        session.registry.remove(key, made)
        made.stop()
        raise
    return made


def _start(mesh: Mesh, recipe: Recipe, placement: Placement, overrides: dict[int, dict[str, Any]],
           fresh: bool) -> None:  # fmt: skip
    """Give each server its block of agents (one operation each); returns at once."""
    servers = _servers(placement, mesh._options, mesh._session, mesh)
    count = len(servers)
    for j, (link, server) in enumerate(servers):
        first, end = j * mesh.size // count, (j + 1) * mesh.size // count
        if end == first:
            continue
        part = MeshPart(first, end - first, link, server)
        mesh.parts.append(part)
        mesh._firsts.append(first)
        if link.accepts_code is None:  # a server this session did not launch: ask once
            link.info()
        op, key = create_mesh_op(recipe, mesh.name, mesh.names, first, end - first, overrides,
                                 bool(link.accepts_code), link.address, fresh)  # fmt: skip
        if key is not None and key not in link.defined:
            link.defined.add(key)
            link.put(Pending(mesh.name, op=recipe.define_op(link.address)))
        link.put(Pending(mesh.name, op=op, done=_on_made(mesh, part), failed=_on_refused(mesh, part)))
        mesh._session.follow(link)


def _on_made(mesh: Mesh, part: MeshPart) -> Any:
    origin = mesh._session.origin()

    def made(result: Any, server_id: str) -> None:
        part.server_id = server_id
        mesh._session.remember_origin(result.task_id, origin)  # where constructors' prints go
        part.link.watch_outcome(result.task_id, mesh.name, lambda outcome: _built(mesh, part, outcome))

    return made


def _built(mesh: Mesh, part: MeshPart, outcome: Any) -> None:
    """A server built its agents of the mesh (or some failed: say which, once)."""
    try:
        summary = json.loads(outcome.value_json or "{}")
    except ValueError:
        summary = {}
    failed = int(summary.get("failed", 0)) if isinstance(summary, dict) else 0
    if failed:
        first = "; ".join(summary.get("errors", [])[:3])
        part.failure = RemoteError(mesh.name, part.link.address, "MeshBuildError", (
            f"{failed:,} of the {part.count:,} agents of mesh {mesh.name!r} there could not be built "
            f"(their calls fail with why); the first: {first}"
        ), "")  # fmt: skip
        notice(f"agentnb: {part.failure.remote_message}", mesh._session.origin())
    part.built.set()


def _on_refused(mesh: Mesh, part: MeshPart) -> Any:
    def refused(error: AgentnbError) -> AgentnbError:
        part.failure = error
        part.link.outbox.not_created[mesh.name] = error  # its calls fail with this, not "no mesh"
        part.built.set()
        notice(f"agentnb: mesh {mesh.name!r} could not be made on {part.link.address}: {error}")
        return error

    return refused


def _servers(placement: Placement, options: DistOptions, session: Session, mesh: Mesh
             ) -> list[tuple[ServerLink, ServerProcess | None]]:  # fmt: skip
    """The links (and processes, if this session launched them) of the servers to use."""
    bind, advertise = options.server_address()

    def launched(port: int | None) -> tuple[ServerLink, ServerProcess | None]:
        limits, timeouts, tls = options.limits, options.timeouts, options.tls
        server = session.launch(bind, port, advertise, limits, timeouts, tls)
        return session.link(server.address, server.token, limits, timeouts, server, tls), server

    if isinstance(placement, int) and not isinstance(placement, bool):
        if placement < 1:
            raise ValueError(f"placement: a mesh needs at least one server, got {placement}")
        made = [launched(None) for _ in range(placement)]
        mesh.owned.extend(server for _, server in made if server is not None)
        return made
    if isinstance(placement, (str, DistributedAgent, Mesh)):  # one server, or a mesh's servers
        placement = [placement]
    if isinstance(placement, bytes) or not isinstance(placement, Sequence) or not placement:
        raise TypeError(
            "placement is a number of servers to start, or a non-empty list of servers: ports of this "
            "session's servers, 'host:port' of launchers, distributed agents or meshes"
        )
    out: list[tuple[ServerLink, ServerProcess | None]] = []
    for where in placement:
        if isinstance(where, int) and not isinstance(where, bool):
            out.append(launched(where))
        elif isinstance(where, str):
            out.append((_attach(where, options, session), None))
        elif isinstance(where, DistributedAgent):
            out.append((where._ensure_started(), where.server))
        elif isinstance(where, Mesh):
            out.extend((part.link, part.server) for part in where.parts)
        else:
            raise TypeError(f"placement: {where!r} is not a port, a 'host:port', an agent or a mesh")
    return out


def _attach(where: str, options: DistOptions, session: Session) -> ServerLink:
    """The link to a running server (a launcher), its token found as ``to_dist`` finds it."""
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"placement: {where!r} is not 'host:port'")
    host = host.strip("[]")
    found = connection.find(host, int(port))  # a launcher of this user on this machine
    token = options.token or (str(found["token"]) if found is not None and found.get("token") else "")
    token = token or os.environ.get(TOKEN_ENV, "")
    unix = str(found.get("unix") or "") if found is not None and is_loopback(host) else ""
    tls = options.tls or connection.tls_of(host, int(port))
    return session.link(
        host_port(host, int(port)), token or None, options.limits, options.timeouts, tls=tls, unix=unix
    )


def _names(names: str | Sequence[str], n: int) -> str | list[str]:
    if isinstance(names, str):
        found = list(_INDEX.finditer(names))
        rest = _INDEX.sub("", names)
        if len(found) != 1 or "{" in rest or "}" in rest:
            raise ValueError(
                f"names: a pattern holds {{i}} once (or {{i:06d}}, zero-padded) and no other braces, "
                f"e.g. 'P{{i}}'; got {names!r}"
            )
        return names
    listed = list(names)
    if len(listed) != n or not all(isinstance(x, str) and x for x in listed):
        raise ValueError(f"names: give {n:,} non-empty names (or a pattern such as 'P{{i}}')")
    if len(set(listed)) != n:
        raise ValueError("names: the agents of a mesh need different names")
    return listed


def _overrides(overrides: dict[int, dict[str, Any]], n: int) -> dict[int, dict[str, Any]]:
    if not isinstance(overrides, dict):
        raise TypeError("overrides: a dict of agent index -> constructor keyword arguments")
    for i, kwargs in overrides.items():
        if not isinstance(i, int) or not 0 <= i < n:
            raise ValueError(f"overrides: {i!r} is not an agent index (0 .. {n - 1})")
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise TypeError(f"overrides[{i}]: a dict of constructor keyword arguments")
    return dict(overrides)


def _shape(placement: Placement) -> str:
    """What a re-run compares of the placement (servers by address, not by object)."""
    if isinstance(placement, int):
        return str(placement)
    out = []
    for where in (
        placement if isinstance(placement, Sequence) and not isinstance(placement, str) else [placement]
    ):
        if isinstance(where, DistributedAgent):
            out.append(where.address)
        elif isinstance(where, Mesh):
            out.append(where.address)
        else:
            out.append(str(where))
    return ",".join(out)
