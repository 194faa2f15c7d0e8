"""The agents of one server: building them, their mailboxes, their calls and results.

Each agent is an actor: its mailbox runs one job (building it, a call, an
observation) at a time, in arrival order. Inputs that are placeholders start
resolving the moment a call arrives, so a call waits only for its own inputs
and its turn. ``reply`` runs in a worker thread (or, for a caller that waits
for the reply of an idle agent, in the thread that received the call), so
different agents run at the same time, and a reply that hangs holds only its
own thread.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from .._core._context import TaskContext, set_current_task
from .._core._errors import MessageError, RemoteError
from .._core._message import Msg
from .._core._pieces import is_stream
from .._facade._agent import AgentBase
from .._proto import agentnb_pb2 as pb
from .._runtime._codec import CANCELLED, decode_value, encode_failure, encode_value, fill_msg, preview
from .._runtime._ops import ATTRIBUTES
from . import _output, _stream
from ._console import Console
from ._debug import Failures
from ._events import EventBus, Kind
from ._mailbox import Job, Mailbox, flat
from ._output import TaskPrints
from ._recipes import Factory, RecipeError, Recipes, check_method
from ._resolve import Resolver
from ._store import Entry, ResultStore
from ._streamed_inputs import streamed_inputs
from ._workers import ElasticPool


class Actor:
    __slots__ = (
        "name", "instance", "class_name", "source_hash", "fingerprint", "calls", "mailbox", "broken",
        "streams",
    )  # fmt: skip

    def __init__(self, host: AgentHost, name: str, spec: pb.AgentSpec) -> None:
        self.name = name
        self.instance: AgentBase | None = None
        self.class_name = sys.intern(spec.class_name)  # shared by the agents of a class
        self.source_hash = sys.intern(spec.source_hash)
        self.fingerprint = spec.fingerprint
        self.calls = 0
        self.mailbox = Mailbox(self, host.run_job, host.spawn)
        self.broken: RemoteError | None = None  # its constructor raised
        self.streams = False  # its class reads its inputs' streams (``stream_inputs``)

    def info(self) -> pb.AgentInfo:
        return pb.AgentInfo(
            name=self.name,
            class_name=self.class_name,
            source_hash=self.source_hash,
            calls=self.calls,
            queued=self.mailbox.queued,
            fingerprint=self.fingerprint,
        )


class AgentHost:
    def __init__(
        self,
        address: str,
        server_id: str,
        bus: EventBus,
        store: ResultStore,
        recipes: Recipes,
        resolver: Resolver,
        workers: ElasticPool,
        max_message_bytes: int,
        output_budget: int,
        console: Console | None = None,
        failures_kept: int = 0,
    ) -> None:
        self.address = address
        self.server_id = server_id
        self.bus = bus
        self.store = store
        self.recipes = recipes
        self.resolver = resolver
        self.workers = workers
        self.max_message_bytes = max_message_bytes
        self.output_budget = output_budget
        self.actors: dict[str, Actor] = {}
        #: prompts of replies (input(), debuggers) and the frames of recent failures
        self.console = console or Console(bus, address, 0.0, False)
        self.failures = Failures(self.console, failures_kept)
        self._lock = threading.Lock()
        self.run_job, self.spawn = self.run, workers.run  # bound once, shared by every mailbox

    # -- agents ---------------------------------------------------------------

    def create(self, spec: pb.AgentSpec, replace: bool, exclusive: bool = False) -> pb.CreateAgentResponse:
        """Attach to the agent of that name, or queue building it (raises RecipeError, StoreError)."""
        name = spec.name  # one str for the actor, its key and its entry (each read makes a new one)
        with self._lock:
            existing = self.actors.get(name)
            if existing is not None and not replace:
                if exclusive:
                    raise RecipeError(
                        "ALREADY_EXISTS", "exists",
                        f"an agent named {name!r} ({existing.class_name}) already runs on this server",
                    )  # fmt: skip
                return pb.CreateAgentResponse(agent=existing.info(), created=False)
        factory = self.recipes.factory(spec)  # refuses before anything runs
        entry = self.store.issue(name)
        actor = Actor(self, name, spec)
        actor.streams = bool(getattr(self.recipes.agent_class(spec), "stream_inputs", False))
        actor.mailbox.post(Job("build", entry=entry, args=factory))
        with self._lock:
            self.actors[name] = actor
        return pb.CreateAgentResponse(agent=actor.info(), created=True, task_id=entry.task_id)

    def add(self, name: str, instance: AgentBase, spec: pb.AgentSpec) -> Actor:
        """Host an agent built in this process (a launcher's configured agent)."""
        actor = Actor(self, name, spec)
        actor.instance = instance
        actor.streams = bool(getattr(instance, "stream_inputs", False))
        with self._lock:
            self.actors[name] = actor
        return actor

    def remove(self, name: str) -> bool:
        """Forget an agent (what is queued for it still runs)."""
        with self._lock:
            return self.actors.pop(name, None) is not None

    # -- calls -------------------------------------------------------------------

    def call(
        self,
        actor: Actor,
        request: pb.CallRequest,
        inline: bool = False,
        issued: Callable[[Entry], None] | None = None,
    ) -> Entry:
        """Queue a call; malformed input raises MessageError before anything is queued.

        Args:
            inline: run it in this thread if the agent is idle and its inputs are ready.
            issued: told the entry once it has its task id, before the call can run.
        """
        shape = "none" if request.no_input else "list" if request.as_list else "one"
        expected = {"none": 0, "one": 1}.get(shape)
        if expected is not None and len(request.inputs) != expected:
            raise MessageError(
                f"a call of agent {actor.name!r} with shape {shape!r} needs {expected} input(s), got "
                f"{len(request.inputs)}"
            )
        streams = actor.streams or getattr(actor.instance, "stream_inputs", False)
        inputs = (streams and streamed_inputs(self.resolver, actor.name, request)) or self.resolver.inputs(
            request.inputs, actor.name
        )
        args = self._arguments(actor, request) if request.method else None
        entry = self.store.issue(actor.name)
        task_id = entry.task_id
        if request.call_key:
            entry.key = request.call_key  # a caller reading the reply at once knows the call by it
        if issued is not None:
            issued(entry)
        if self.bus.recording:
            refs = [i.ref for i in request.inputs if i.WhichOneof("kind") == "ref"]
            # the messages the caller sent (not the placeholders, resolved or not)
            direct = [
                v for v, i in zip(inputs.values, request.inputs, strict=True) if i.WhichOneof("kind") != "ref"
            ]
            self.bus.publish(
                Kind.QUEUED, task_id, actor.name, caller=request.caller, inputs=refs,
                preview=preview(direct[0].content) if direct and direct[0] is not None else "",
                direct_inputs=len(direct), call_key=request.call_key,
            )  # fmt: skip
        prints = TaskPrints(self._printer(task_id, actor.name), self.output_budget)
        job = Job("call", inputs, shape, entry, request.method, args, prints)
        actor.mailbox.post(job, inline)
        return entry

    def _arguments(self, actor: Actor, request: pb.CallRequest) -> dict[str, Any]:
        """A method call's arguments; refuses private names before anything runs."""
        if request.method != ATTRIBUTES:
            check_method(request.method, actor.name)
        where = f"the arguments of {actor.name}.{request.method}()"
        args = decode_value(request.args_json or "{}", where)
        if not isinstance(args, dict) or not isinstance(args.get("args", []), list):
            raise MessageError(f"{where} must be a JSON object with 'args' (a list) and 'kwargs'")
        if not isinstance(args.get("kwargs", {}), dict):
            raise MessageError(f"{where}: 'kwargs' must be a JSON object")
        return args

    def observe(self, actor: Actor, request: pb.ObserveRequest) -> Entry:
        """Queue adding messages to the agent's memory; its task is done once they are there."""
        inputs = self.resolver.inputs(request.inputs, actor.name)
        entry = self.store.issue(actor.name)
        actor.mailbox.post(Job("observe", inputs, "list", entry))
        return entry

    def cancel(self, actor: Actor | None, task_ids: list[str]) -> tuple[list[str], list[str], list[str]]:
        """Withdraw queued calls (all of ``actor``'s if no ids); returns (cancelled, running,
        stopping): running calls go on, but a streaming reply (or one waiting for an
        answer) stops at its next piece (or prompt)."""
        wanted = set(task_ids)
        actors = [actor] if actor is not None else list(self.actors.values())
        cancelled: list[str] = []
        running: list[str] = []
        stopping: list[str] = []
        for a in actors:
            for job in a.mailbox.withdraw(lambda j: j.kind == "call" and (not wanted or j.task_id in wanted)):
                cancelled.append(job.task_id)
                self._finish(a, job, _failure_outcome(RemoteError(
                    a.name, self.address, CANCELLED, "the call was cancelled before it started", ""
                )))  # fmt: skip
            current = a.mailbox.current
            if current is not None and current.kind == "call" and (not wanted or current.task_id in wanted):
                assert current.entry is not None
                streams = _stream.stop(current.entry)  # a reply that streams later stops at its first piece
                waits = self.console.waiting(current.task_id)
                (stopping if streams or waits else running).append(current.task_id)
        return cancelled, running, stopping

    # -- running jobs (in a worker thread, or inline) ------------------------------

    def run(self, actor: Actor, job: Job) -> None:
        """Run one job of ``actor``'s mailbox (its mailbox calls this, one job at a time)."""
        if job.kind == "build":
            self._build(actor, job)
        elif actor.broken is not None:
            if job.entry is not None:
                self._finish(actor, job, _failure_outcome(actor.broken))
        elif job.inputs.error is not None:
            if job.entry is not None:
                self._finish(actor, job, _failure_outcome(job.inputs.error))
        elif job.kind == "observe":
            self._observe(actor, job)
        else:
            self._reply(actor, job)

    def _build(self, actor: Actor, job: Job) -> None:
        factory: Factory = job.args
        prints = TaskPrints(self._printer(job.task_id, actor.name), self.output_budget)
        try:
            instance = self._in_task(actor.name, job.task_id, prints, factory)
            if not isinstance(instance, AgentBase):
                raise TypeError(f"{type(instance).__name__} is not an AgentBase subclass")
            if instance.name != actor.name:
                raise ValueError(f"the agent was built with name {instance.name!r}, not {actor.name!r}")
        except Exception as exc:  # noqa: BLE001 - the failure is the outcome
            failure = self._failure(actor.name, exc, "building the agent failed: ")
            actor.broken = failure
            self._finish(actor, job, prints.fill(_failure_outcome(failure)))
            return
        # A server never moves the agents it hosts: their constructor arguments
        # (kept for ``to_dist``) go, about 300 bytes each, and the name is one
        # string, not two. Set, not deleted, and never through ``__dict__``
        # (either would give the instance a dict of its own: more bytes).
        try:
            object.__setattr__(instance, "_init_args", None)
            if instance.name == actor.name:
                object.__setattr__(instance, "name", actor.name)
        except AttributeError:  # a read-only ``name`` property, slots without them: leave it
            pass
        actor.instance = instance
        self._finish(actor, job, prints.fill(pb.Outcome(value_json="null")), publish=False)

    def _observe(self, actor: Actor, job: Job) -> None:
        instance = actor.instance
        assert instance is not None
        x: Any = flat(job.inputs.values)
        prints = TaskPrints(self._printer(job.task_id, actor.name), self.output_budget)
        try:
            self._in_task(actor.name, job.task_id, prints, lambda: instance.observe(x))
            outcome = pb.Outcome(value_json="null")
        except Exception as exc:  # noqa: BLE001 - the failure is the outcome
            outcome = _failure_outcome(self._failure(actor.name, exc, "observe raised: "))
        self._finish(actor, job, prints.fill(outcome), publish=False)

    def _reply(self, actor: Actor, job: Job) -> None:
        assert actor.instance is not None and job.prints is not None
        instance = actor.instance
        values = job.inputs.values
        x: Any = None if job.shape == "none" else values[0] if job.shape == "one" else flat(values)
        actor.calls += 1
        self.bus.publish(Kind.RUNNING, job.task_id, actor.name)
        if job.method:
            run = lambda: self._method(instance, job.method, job.args)  # noqa: E731
        else:
            run = lambda: self._encode_reply(actor.name, instance.reply(x), job.entry)  # noqa: E731
        try:
            outcome = self._in_task(actor.name, job.task_id, job.prints, run, job.entry)
        except Exception as exc:  # noqa: BLE001 - the failure is the outcome
            outcome = _failure_outcome(self._failure(actor.name, exc))
            outcome.failure.task_id = outcome.failure.task_id or job.task_id
            self.failures.failed(job.task_id, actor.name, exc)
        self._finish(actor, job, job.prints.fill(outcome))

    def _encode_reply(self, agent: str, result: Any, entry: Entry | None = None) -> pb.Outcome:
        if not isinstance(result, Msg) and entry is not None and is_stream(result):
            result = _stream.drive(result, agent, entry, self.bus, self.address, self.max_message_bytes)
        if not isinstance(result, Msg):
            raise TypeError(
                f"reply() of agent {agent!r} returned {type(result).__name__}; it must return a Msg"
            )
        outcome = pb.Outcome()
        fill_msg(outcome.reply, result, self.max_message_bytes, f"the reply of agent {agent!r}")
        return outcome

    def _method(self, instance: AgentBase, name: str, args: Any) -> pb.Outcome:
        if name == ATTRIBUTES:
            names = sorted(n for n in vars(instance) if not n.startswith("_"))
            return pb.Outcome(value_json=encode_value(names, "attribute names"))
        value = getattr(instance, name)
        if callable(value):
            value = value(*args.get("args", ()), **args.get("kwargs", {}))
        if isinstance(value, Msg):
            outcome = pb.Outcome()
            fill_msg(outcome.reply, value, self.max_message_bytes, f"{name}() of the agent")
            return outcome
        return pb.Outcome(value_json=encode_value(value, f"the value of {name}"))

    def _in_task(
        self, agent: str, task_id: str, prints: TaskPrints, fn: Callable[[], Any], entry: Entry | None = None
    ) -> Any:
        set_current_task(TaskContext(agent, task_id, prints.emit, self.console, entry))
        try:
            return fn()
        finally:
            _output.flush_task()
            set_current_task(None)

    def _finish(self, actor: Actor, job: Job, outcome: pb.Outcome, publish: bool = True) -> None:
        assert job.entry is not None
        if publish:
            kind = outcome.WhichOneof("result")
            if kind == "failure":
                f = outcome.failure
                self.bus.publish(
                    Kind.ERROR, job.task_id, actor.name, preview=preview(f"{f.exc_type}: {f.message}", 200)
                )
            else:
                shown = preview(_shown(outcome))
                self.bus.publish(
                    Kind.DONE, job.task_id, actor.name, preview=shown, message_id=outcome.reply.id
                )
        self.store.finish(job.entry, outcome)

    def _printer(self, task_id: str, agent: str) -> Callable[[int, str], None]:
        def publish(chunk: int, text: str) -> None:
            self.bus.publish(Kind.OUTPUT, task_id, agent, text=text, chunk=chunk)

        return publish

    def _failure(self, agent: str, exc: BaseException, prefix: str = "") -> RemoteError:
        if isinstance(exc, RemoteError):
            return exc
        return RemoteError(agent, self.address, type(exc).__name__, prefix + str(exc), user_traceback(exc))

    def close(self) -> None:
        self.console.close()
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.resolver.close()


#: Frames from these folders are agentnb's (or Python's threads'), not the user's: hidden.
_INTERNAL = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
    os.path.dirname(threading.__file__) + os.sep + "threading.py",
    os.path.dirname(threading.__file__) + os.sep + "concurrent" + os.sep,
)


def user_traceback(exc: BaseException) -> str:
    """The traceback of a reply's exception, with only the user's frames (and their lines)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_INTERNAL)]
    text = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    text.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(text)


def _failure_outcome(failure: RemoteError) -> pb.Outcome:
    return pb.Outcome(failure=encode_failure(failure))


def _shown(outcome: pb.Outcome) -> Any:
    """The content a DONE event previews."""
    if outcome.WhichOneof("result") == "value_json":
        return outcome.value_json
    reply = outcome.reply
    kind = reply.WhichOneof("content")
    if kind == "content_text":
        return reply.content_text
    if kind == "content_bytes":
        return reply.content_bytes
    try:
        return (
            json.loads(reply.content_json[:2000]) if len(reply.content_json) <= 2000 else reply.content_json
        )
    except ValueError:
        return reply.content_json
