"""Agent meshes on a server: N agents of one class made, called and read in one operation each.

A mesh (Monarch's actor meshes, AgentScope's million-agent simulations) is
made by one ``CreateMesh`` per server: the class recipe once, the shared
constructor arguments once, the names as a pattern (``"P{i}"``) or a list,
and the arguments of single agents as overrides by index. A mesh call
(``CallRequest.mesh``) reaches every agent of the server's part in one
operation: one message to all, or one each (``each``). Its replies are kept
in one result entry (see :mod:`._mesh_store`) and read one by one, as any
task, or all at once with ``FetchItems``. Every agent is a real actor, in
the server's agents by name: ``mesh[i](x)`` calls one, in mailbox order with
the mesh's calls (see :mod:`._mesh_run`).

Code running in this server (a judge calling its players) calls the mesh
in-process (:meth:`MeshHost.call_mesh`, offered through
:mod:`agentnb._runtime._local`), with no gRPC and no encoding.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._core._errors import MessageError
from .._proto import agentnb_pb2 as pb
from .._runtime._codec import decode_value, preview
from ._events import Kind
from ._host import Actor
from ._mailbox import READY, Inputs, Job
from ._mesh_run import CHUNK, Build, Chunk, MemberMailbox, MeshCall, MeshRunner
from ._mesh_store import MeshEntry
from ._recipes import RecipeError, check_method
from ._store import StoreError, check_task_id

if TYPE_CHECKING:
    from ._host import AgentHost

#: The most agents one server hosts of one mesh (a bound on what one operation makes).
MAX_AGENTS = 10_000_000
#: The longest mesh name, name pattern and agent name.
MAX_NAME = 1000
#: Replies of a mesh call in one ``ItemsChunk``, at most (and about this many bytes).
ITEMS_PER_CHUNK = 10_000
CHUNK_BYTES = 1024 * 1024
#: A name pattern: "{i}" once, with an optional zero-padded width ("{i:06d}").
_INDEX = re.compile(r"\{i(?::(0?\d{0,2})d)?\}")


class MeshSlice:
    """This server's part of a mesh."""

    __slots__ = ("name", "first", "count", "actors", "chunks")

    def __init__(self, name: str, first: int, count: int) -> None:
        self.name = name
        self.first = first  # the mesh index of its first agent
        self.count = count
        self.actors: list[Actor] = []
        self.chunks: list[Chunk] = []


class _Spec:
    """What an Actor reads of a spec, made once for all the agents of a mesh."""

    __slots__ = ("class_name", "source_hash", "fingerprint")

    def __init__(self, spec: pb.AgentSpec) -> None:
        self.class_name = sys.intern(spec.class_name)
        self.source_hash = sys.intern(spec.source_hash)
        self.fingerprint = spec.fingerprint


class MeshHost:
    """The meshes of one server (their agents are also the host's agents, by name)."""

    def __init__(self, host: AgentHost) -> None:
        self._host = host
        self._runner = MeshRunner(host)
        self._slices: dict[str, MeshSlice] = {}
        self._lock = threading.Lock()
        self.server_id = host.server_id
        self.address = host.address

    def __len__(self) -> int:
        return len(self._slices)

    # -- making and deleting ------------------------------------------------------------

    def create(self, request: pb.CreateMeshRequest) -> MeshEntry:
        """Make this server's agents of a mesh; they are built (in parallel chunks) after this
        returns, and calls queued meanwhile wait for them. Returns the build's entry."""
        name = _checked_name(request.mesh, "a mesh's name")
        names = _names(request)
        host = self._host
        cls, args, kwargs, overrides = host.recipes.mesh_parts(request.spec, request.overrides)
        with self._lock:
            old = self._slices.get(name)
            if old is not None and not request.replace:
                raise RecipeError("ALREADY_EXISTS", "exists", (
                    f"a mesh named {name!r} already has {old.count:,} agents on this server; give "
                    "each mesh its own name, or replace it"
                ))  # fmt: skip
            taken = [n for n in names if n in host.actors]
            if taken and not request.replace:
                shown = ", ".join(repr(n) for n in taken[:5]) + (" ..." if len(taken) > 5 else "")
                raise RecipeError("ALREADY_EXISTS", "exists", (
                    f"{len(taken):,} of mesh {name!r}'s agent names are taken on this server ({shown}); "
                    "give the mesh other names (names='...{i}'), or replace them"
                ))  # fmt: skip
            entry = self._issue(name, len(names))
            part = self._make(name, request, names)
            build = Build(cls, args, kwargs, overrides, request.first, entry)
            for chunk in part.chunks:  # before anyone can call them: calls go after their build
                chunk.mailbox.post(Job("build", args=build))
            if old is not None:
                self._forget(old)
            with host._lock:
                for n in taken:
                    host.actors.pop(n, None)
                host.actors.update((actor.name, actor) for actor in part.actors)
            self._slices[name] = part
        return entry

    def _make(self, name: str, request: pb.CreateMeshRequest, names: list[str]) -> MeshSlice:
        host, runner = self._host, self._runner
        spec: Any = _Spec(request.spec)
        part = MeshSlice(name, request.first, len(names))
        chunk: Chunk | None = None
        for k, agent in enumerate(names):
            if k % CHUNK == 0:
                chunk = Chunk(k, runner.run_chunk, host.spawn)
                part.chunks.append(chunk)
            assert chunk is not None
            actor = Actor(host, agent, spec)
            actor.mailbox = MemberMailbox(actor, runner.run_member, host.spawn, chunk)
            chunk.actors.append(actor)
            part.actors.append(actor)
        return part

    def delete(self, name: str) -> bool:
        """Forget a mesh and its agents here (what is queued for them still runs)."""
        with self._lock:
            part = self._slices.pop(name, None)
            if part is not None:
                self._forget(part)
        return part is not None

    def _forget(self, part: MeshSlice) -> None:
        actors = self._host.actors
        with self._host._lock:
            for actor in part.actors:
                if actors.get(actor.name) is actor:
                    del actors[actor.name]

    def _slice(self, name: str) -> MeshSlice:
        part = self._slices.get(name)
        if part is None:
            known = ", ".join(sorted(self._slices)[:10]) or "none"
            raise RecipeError("NOT_FOUND", "agent", f"no mesh {name!r} on this server (meshes here: {known})")
        return part

    # -- calls ------------------------------------------------------------------------------

    def call(self, request: pb.CallRequest, issued: Callable[[Any], None] | None = None) -> MeshEntry:
        """A mesh call that came over the network (raises MessageError, RecipeError, StoreError)."""
        part = self._slice(request.agent)
        each, count = request.each, len(request.inputs)
        if each and count != part.count:
            raise MessageError(
                f"a call of mesh {part.name!r} with one input each needs {part.count:,} inputs on this "
                f"server (its agents here), got {count:,}"
            )
        shape = "one" if each else "none" if request.no_input else "list" if request.as_list else "one"
        expected = {"none": 0, "one": 1}.get(shape)
        if not each and expected is not None and count != expected:
            raise MessageError(
                f"a call of mesh {part.name!r} with shape {shape!r} needs {expected} input(s), got {count}"
            )
        args = _arguments(request, part.name) if request.method else None
        resolver = self._host.resolver
        inputs: Inputs | list[Any]
        inputs = list(request.inputs) if each else resolver.inputs(request.inputs, part.name)
        entry = self._issue(part.name, part.count)
        if issued is not None:
            issued(entry)
        call = MeshCall(part.name, entry, inputs, each, shape, request.method, args)
        self._queued(call, request.caller, [] if each else list(request.inputs))
        self._post(part, call)
        return entry

    def call_mesh(self, mesh: str, inputs: list[Any], shape: str, each: bool, caller: str) -> LocalCall:
        """A mesh call made in this process (see :mod:`agentnb._runtime._local`)."""
        part = self._slice(mesh)
        if each and len(inputs) != part.count:
            raise MessageError(
                f"a call of mesh {mesh!r} with one input each needs {part.count:,} inputs on this "
                f"server, got {len(inputs):,}"
            )
        entry = self._issue(part.name, part.count)
        call = MeshCall(mesh, entry, list(inputs) if each else Inputs(list(inputs), 0), each, shape)
        call.local = entry.local = True  # its replies stay Python objects: never read over the network
        self._queued(call, caller, [])
        self._post(part, call)
        return LocalCall(self, entry)

    def _issue(self, name: str, count: int) -> MeshEntry:
        entry = self._host.store.issue(name, lambda task_id: MeshEntry(task_id, name, count))
        assert isinstance(entry, MeshEntry)
        return entry

    def _queued(self, call: MeshCall, caller: str, given: list[pb.Input]) -> None:
        bus = self._host.bus
        if not bus.recording:
            return
        refs = [i.ref for i in given if i.WhichOneof("kind") == "ref"]
        shown = ""
        inputs = call.inputs
        if isinstance(inputs, Inputs) and inputs.values and inputs.values[0] is not None and not refs:
            first = inputs.values[0]
            shown = preview(getattr(first, "content", first))
        bus.publish(Kind.QUEUED, call.entry.task_id, call.mesh, caller=caller, inputs=refs, preview=shown,
                    direct_inputs=0 if call.each else len(given) - len(refs))  # fmt: skip

    def _post(self, part: MeshSlice, call: MeshCall) -> None:
        """One job per chunk, in each chunk's order (a chunk waits for shared inputs on its way)."""
        shared = call.inputs
        if not isinstance(shared, Inputs) or shared.ready:  # (one input each: they wait one by one)
            gates = [shared if isinstance(shared, Inputs) else READY] * len(part.chunks)
        else:
            gates = [Inputs([None], 1) for _ in part.chunks]

            def open_gates() -> None:
                for gate in gates:
                    gate.resolve(0, None)

            shared.when_ready(open_gates)
        for chunk, gate in zip(part.chunks, gates, strict=True):
            chunk.mailbox.post(Job("mesh", gate, args=call))

    # -- reading every reply ----------------------------------------------------------------------

    def items(self, request: pb.FetchItemsRequest, active: Callable[[], bool], deadline: float | None
              ) -> Iterator[bytes]:  # fmt: skip
        """ItemsChunks of a mesh call's replies from ``request.start`` on, as they are ready."""
        check_task_id(request.task_id)
        entry = self._host.store.entry(request.task_id)
        if not isinstance(entry, MeshEntry) or entry.local:
            raise StoreError("unknown_task", f"task {request.task_id} is not a mesh call's")
        total, sent = len(entry.items), min(request.start, len(entry.items))
        more = threading.Event()
        entry.follow(more)
        try:
            while sent < total:
                ready = entry.ready(sent)
                if not ready:
                    more.clear()
                    if entry.ready(sent):
                        continue
                    if not active() or (deadline is not None and time.monotonic() > deadline):
                        return
                    more.wait(1.0)
                    continue
                batch: list[bytes] = []
                size = 0
                for wire in entry.items[sent : sent + min(ready, ITEMS_PER_CHUNK)]:
                    assert wire is not None
                    if batch and size + len(wire) > CHUNK_BYTES:
                        break
                    batch.append(wire)
                    size += len(wire)
                chunk = pb.ItemsChunk(start=sent, outcomes=batch, server_id=self.server_id)  # type: ignore[arg-type]
                yield chunk.SerializeToString()
                sent += len(batch)
        finally:
            entry.unfollow(more)


class LocalCall:
    """An in-process mesh call (``_local.LocalMeshCall``): read straight from the store."""

    def __init__(self, meshes: MeshHost, entry: MeshEntry) -> None:
        self._store = meshes._host.store
        self._entry = entry
        self.task_id = entry.task_id
        self.server_id = meshes.server_id
        self.address = meshes.address
        self.count = len(entry.items)

    def when_item(self, k: int, callback: Callable[[Any], None]) -> None:
        self._entry.on_item(k, lambda view: callback(view.wire))

    def items(self, timeout: float | None) -> list[Any] | None:
        done = threading.Event()
        remove = self._store.on_done(self.task_id, lambda entry: done.set())
        try:
            if not done.wait(timeout):
                return None
        finally:
            remove()
        return [wire for wire in self._entry.items if wire is not None]

    def release(self) -> None:
        self._store.release([self.task_id])


def _checked_name(name: str, what: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise RecipeError("INVALID_ARGUMENT", "bad_recipe", f"{what} must have 1 to {MAX_NAME} characters")
    return name


def _names(request: pb.CreateMeshRequest) -> list[str]:
    """The names of this server's agents of a mesh, checked (unique, bounded)."""
    count = request.count or len(request.names)
    if not 0 < count <= MAX_AGENTS:
        raise RecipeError("INVALID_ARGUMENT", "bad_recipe",
                          f"a mesh has 1 to {MAX_AGENTS:,} agents on one server, not {count:,}")  # fmt: skip
    if request.names:
        names = list(request.names)
        if len(names) != count:
            raise RecipeError("INVALID_ARGUMENT", "bad_recipe", f"{len(names):,} names for {count:,} agents")
        for name in names:
            _checked_name(name, "an agent's name")
        if len(set(names)) != count:
            raise RecipeError("INVALID_ARGUMENT", "bad_recipe", "the names of a mesh's agents must differ")
        return names
    pattern = _checked_name(request.name_pattern, "a mesh's name pattern")
    found = list(_INDEX.finditer(pattern))
    rest = _INDEX.sub("", pattern)
    if len(found) != 1 or "{" in rest or "}" in rest:
        raise RecipeError("INVALID_ARGUMENT", "bad_recipe", (
            f"a mesh's name pattern holds {{i}} once (or {{i:06d}}, zero-padded) and no other braces; "
            f"got {pattern[:100]!r}"
        ))  # fmt: skip
    match = found[0]
    head, tail, spec = pattern[: match.start()], pattern[match.end() :], (match.group(1) or "") + "d"
    first = request.first
    return [f"{head}{i:{spec}}{tail}" for i in range(first, first + count)]


def _arguments(request: pb.CallRequest, mesh: str) -> dict[str, Any]:
    """A method call's arguments (the same for every agent); refuses private names first."""
    check_method(request.method, mesh)
    where = f"the arguments of {mesh}.{request.method}()"
    args = decode_value(request.args_json or "{}", where)
    if not isinstance(args, dict) or not isinstance(args.get("args", []), list):
        raise MessageError(f"{where} must be a JSON object with 'args' (a list) and 'kwargs'")
    if not isinstance(args.get("kwargs", {}), dict):
        raise MessageError(f"{where}: 'kwargs' must be a JSON object")
    return args
