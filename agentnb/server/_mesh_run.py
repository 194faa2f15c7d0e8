"""Running a mesh's agents: built and called a chunk at a time, each agent still an actor.

A server's part of a mesh is cut into chunks of ``CHUNK`` agents. Each chunk
has a mailbox of its own that runs the mesh's operations (building the
agents, then each mesh call) one at a time in arrival order, and chunks run
in parallel on the server's workers. Running a mesh call, a chunk hands each
agent its job through the agent's own mailbox: an idle agent runs it at once
in the chunk's thread (no thread hop, no event per agent), a busy one queues
it behind what it is doing. A call to one agent of the mesh (``mesh[i](x)``)
arriving while its chunk has mesh operations waiting goes through the chunk
too, so every agent sees its calls in the order they arrived.

Per agent this costs an :class:`~._host.Actor`, a :class:`MemberMailbox`
and the agent itself: no constructor arguments are kept, and a mesh call
keeps one serialized outcome per agent until its result is released.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._core._context import TaskContext, set_current_task
from .._core._errors import MessageError, RemoteError
from .._core._message import Msg
from .._facade._agent import AgentBase
from .._proto import agentnb_pb2 as pb
from .._runtime._codec import encode_failure
from . import _output
from ._events import Kind
from ._mailbox import Inputs, Job, Mailbox, Runner, Spawner, flat
from ._mesh_store import MeshEntry
from ._output import TaskPrints
from ._store import item_id

if TYPE_CHECKING:
    from ._host import Actor, AgentHost

#: Agents per chunk: a chunk's mesh operation runs in one thread, chunks in parallel.
CHUNK = 1000
#: The outcome of an agent built well (shared by every agent).
BUILT = pb.Outcome(value_json="null").SerializeToString()


class MemberMailbox(Mailbox):
    """The mailbox of a mesh's agent: calls of its own wait behind its chunk's mesh operations."""

    __slots__ = ("chunk",)

    def __init__(self, owner: Any, run: Runner, spawn: Spawner, chunk: Chunk) -> None:
        super().__init__(owner, run, spawn)
        self.chunk = chunk

    def post(self, job: Job, inline: bool = False) -> None:
        chunk = self.chunk.mailbox
        if chunk.busy:  # mesh operations wait or run there: this call goes after them
            chunk.post(Job("forward", args=(self, job)))
            return
        Mailbox.post(self, job, inline)


class Chunk:
    """Consecutive agents of a server's part of a mesh, with a mailbox for mesh operations."""

    __slots__ = ("start", "actors", "mailbox")

    def __init__(self, start: int, run: Runner, spawn: Spawner) -> None:
        self.start = start  # the index of its first agent on this server
        self.actors: list[Actor] = []
        self.mailbox = Mailbox(self, run, spawn)


class Build:
    """What a server's part of a mesh is built from."""

    __slots__ = ("cls", "args", "kwargs", "overrides", "first", "entry")

    def __init__(
        self,
        cls: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        overrides: dict[int, dict[str, Any]],
        first: int,
        entry: MeshEntry,
    ) -> None:
        self.cls, self.args, self.kwargs, self.overrides = cls, args, kwargs, overrides
        self.first = first  # the mesh index of this server's first agent
        self.entry = entry


class MeshCall:
    """One mesh call on this server: its task, what every agent gets, and its progress."""

    __slots__ = ("mesh", "entry", "inputs", "each", "shape", "method", "args", "started", "local")

    def __init__(
        self,
        mesh: str,
        entry: MeshEntry,
        inputs: Inputs | list[Any],
        each: bool,
        shape: str,
        method: str = "",
        args: Any = None,
    ) -> None:
        self.mesh = mesh
        self.entry = entry
        self.inputs = inputs  # shared: one Inputs; each: one input per agent (messages or protos)
        self.each = each
        self.shape = shape
        self.method = method
        self.args = args
        self.started = False
        #: Made in this process: its replies are kept as they are (Msg, value or RemoteError),
        #: never encoded (nobody reads them over the network).
        self.local = False


class _Prints:
    """What one agent prints in one job: made on the first print only (most print nothing)."""

    __slots__ = ("host", "task_id", "agent", "prints")

    def __init__(self, host: AgentHost, task_id: str, agent: str) -> None:
        self.host, self.task_id, self.agent = host, task_id, agent
        self.prints: TaskPrints | None = None

    def emit(self, text: str) -> None:
        if self.prints is None:
            self.prints = TaskPrints(self.host._printer(self.task_id, self.agent), self.host.output_budget)
        self.prints.emit(text)

    def fill(self, outcome: pb.Outcome) -> pb.Outcome:
        return outcome if self.prints is None else self.prints.fill(outcome)


class MeshRunner:
    """Runs chunk jobs and agents' mesh jobs for one server."""

    def __init__(self, host: AgentHost) -> None:
        self._host = host

    # -- chunks ----------------------------------------------------------------------

    def run_chunk(self, chunk: Chunk, job: Job) -> None:
        """Run one mesh operation of a chunk (its mailbox calls this, one at a time)."""
        if job.kind == "mesh":
            self._call_chunk(chunk, job.args)
        elif job.kind == "build":
            self._build_chunk(chunk, job.args)
        else:  # "forward": a call to one agent that waited behind the chunk's operations
            mailbox, agent_job = job.args
            Mailbox.post(mailbox, agent_job)

    def _build_chunk(self, chunk: Chunk, build: Build) -> None:
        host, entry = self._host, build.entry
        for offset, actor in enumerate(chunk.actors):
            k = chunk.start + offset
            kwargs = build.kwargs
            extra = build.overrides.get(build.first + k) if build.overrides else None
            if extra:
                kwargs = {**kwargs, **extra}
            prints = _Prints(host, item_id(entry.task_id, k), actor.name)
            set_current_task(TaskContext(actor.name, prints.task_id, prints.emit))
            try:
                instance = build.cls(*build.args, name=actor.name, **kwargs)
                if not isinstance(instance, AgentBase):
                    raise TypeError(f"{type(instance).__name__} is not an AgentBase subclass")
                if instance.name != actor.name:
                    raise ValueError(f"the agent was built with name {instance.name!r}, not {actor.name!r}")
            except Exception as exc:  # noqa: BLE001 - the failure is the outcome
                actor.broken = host._failure(actor.name, exc, "building the agent failed: ")
                wire, failed = prints.fill(failure_outcome(actor.broken)).SerializeToString(), True
            else:
                _lean(instance, actor.name)
                actor.instance = instance
                failed, wire = False, BUILT
                if prints.prints is not None:  # the constructor printed: its outcome carries it
                    wire = prints.fill(pb.Outcome(value_json="null")).SerializeToString()
            finally:
                _output.flush_task()
                set_current_task(None)
            if entry.put(k, wire, failed):
                self.finish(entry, "built")

    def _call_chunk(self, chunk: Chunk, call: MeshCall) -> None:
        resolver = self._host.resolver
        for offset, actor in enumerate(chunk.actors):
            k = chunk.start + offset
            inputs = call.inputs
            if call.each:
                item = inputs[k]  # type: ignore[index]
                if isinstance(item, pb.Input):
                    try:
                        inputs = resolver.inputs([item], actor.name)
                    except MessageError as exc:
                        failure = RemoteError(actor.name, self._host.address, "MessageError", str(exc), "")
                        self._put(call, k, failure_outcome(failure).SerializeToString(), True)
                        continue
                else:  # an in-process call's message
                    inputs = Inputs([item], 0)
            job = Job("item", inputs, call.shape, None, call.method, (call, k))  # type: ignore[arg-type]
            Mailbox.post(actor.mailbox, job, True)

    # -- agents --------------------------------------------------------------------------

    def run_member(self, actor: Actor, job: Job) -> None:
        """Run one job of a mesh agent's mailbox: its part of a mesh call, or a call of its own."""
        if job.kind == "item":
            self._item(actor, job)
        else:
            self._host.run(actor, job)

    def _item(self, actor: Actor, job: Job) -> None:
        call, k = job.args
        host = self._host
        if not call.started:
            call.started = True  # (two threads may both publish it: harmless)
            host.bus.publish(Kind.RUNNING, call.entry.task_id, call.mesh)
        inputs = job.inputs
        failure = actor.broken or inputs.error
        if call.local:
            value: Any = failure if failure is not None else self._run(actor, job, call, k)
            self._put(call, k, value, isinstance(value, RemoteError), _size(value))
        elif failure is not None:
            self._put(call, k, failure_outcome(failure).SerializeToString(), True)
        else:
            outcome, failed = self._reply(actor, job, call, k)
            self._put(call, k, outcome.SerializeToString(), failed)

    def _run(self, actor: Actor, job: Job, call: MeshCall, k: int) -> Any:
        """An in-process call's reply as it is: a Msg, a method's value, or the RemoteError."""
        host, instance = self._host, actor.instance
        assert instance is not None, "a mesh's agents are built before their calls run"
        values = job.inputs.values
        x: Any = None if job.shape == "none" else values[0] if job.shape == "one" else flat(values)
        actor.calls += 1
        set_current_task(TaskContext(actor.name, item_id(call.entry.task_id, k), _Prints(
            host, item_id(call.entry.task_id, k), actor.name).emit))  # fmt: skip
        try:
            if call.method:
                return getattr(instance, call.method)(
                    *call.args.get("args", ()), **call.args.get("kwargs", {})
                )
            reply = instance.reply(x)
            if not isinstance(reply, Msg):
                raise TypeError(f"reply() of agent {actor.name!r} returned {type(reply).__name__}; "
                                "it must return a Msg")  # fmt: skip
            return reply
        except Exception as exc:  # noqa: BLE001 - the failure is the reply
            return host._failure(actor.name, exc)
        finally:
            _output.flush_task()
            set_current_task(None)

    def _reply(self, actor: Actor, job: Job, call: MeshCall, k: int) -> tuple[pb.Outcome, bool]:
        host, instance = self._host, actor.instance
        assert instance is not None, "a mesh's agents are built before their calls run"
        values = job.inputs.values
        x: Any = None if job.shape == "none" else values[0] if job.shape == "one" else flat(values)
        actor.calls += 1
        prints = _Prints(host, item_id(call.entry.task_id, k), actor.name)
        set_current_task(TaskContext(actor.name, prints.task_id, prints.emit))
        try:
            if call.method:
                outcome = host._method(instance, call.method, call.args)
            else:
                outcome = host._encode_reply(actor.name, instance.reply(x))
            failed = False
        except Exception as exc:  # noqa: BLE001 - the failure is the outcome
            outcome, failed = failure_outcome(host._failure(actor.name, exc)), True
        finally:
            _output.flush_task()
            set_current_task(None)
        return prints.fill(outcome), failed

    def _put(self, call: MeshCall, k: int, item: Any, failed: bool, size: int | None = None) -> None:
        if call.entry.put(k, item, failed, size):
            self.finish(call.entry, "replies")
            host = self._host
            failures = call.entry.failed
            preview = f"{len(call.entry.items):,} replies" + (f", {failures:,} failed" if failures else "")
            host.bus.publish(Kind.DONE, call.entry.task_id, call.mesh, preview=preview)

    def finish(self, entry: MeshEntry, what: str) -> None:
        """Every item is there: the entry's own outcome says how many, and how many failed
        (naming the first few)."""
        summary: dict[str, Any] = {what: len(entry.items), "failed": entry.failed}
        if entry.failed:
            errors = []
            for item in entry.items:
                if isinstance(item, RemoteError):  # (an in-process call's)
                    errors.append(f"{item.agent}: {item.exc_type}: {item.remote_message}"[:300])
                elif isinstance(item, bytes):
                    outcome = pb.Outcome.FromString(item)
                    if outcome.WhichOneof("result") == "failure":
                        f = outcome.failure
                        errors.append(f"{f.agent}: {f.exc_type}: {f.message}"[:300])
                if len(errors) == 3:
                    break
            summary["errors"] = errors
        self._host.store.finish(entry, pb.Outcome(value_json=json.dumps(summary)))


def _size(value: Any) -> int:
    """About how many bytes an in-process reply holds (for the store's byte budget)."""
    content = getattr(value, "content", None)
    return 200 + (len(content) if isinstance(content, (str, bytes)) else 0)


def failure_outcome(failure: RemoteError) -> pb.Outcome:
    return pb.Outcome(failure=encode_failure(failure))


def _lean(instance: AgentBase, name: str) -> None:
    """Keep no constructor arguments, and one string for the name (as a server's agents do)."""
    try:
        object.__setattr__(instance, "_init_args", None)
        if instance.name == name:
            object.__setattr__(instance, "name", name)
    except AttributeError:  # a read-only ``name`` property, slots without them: leave it
        pass
