"""The agents of one server: their mailboxes, their replies, their results.

Each agent is an actor: its mailbox runs one message at a time, in arrival
order. Inputs that are placeholders start resolving the moment a call
arrives (from this server's store, or by asking the producing server), so a
call waits only for its own inputs and its turn. ``reply`` runs in a worker
thread, so different agents run at the same time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._agent import AgentBase
from .._context import TaskContext, set_current_task
from .._errors import AgentnbError, RemoteError
from .._message import Msg
from .._proto import agentnb_pb2 as pb
from .._runtime._client import ClientPool
from .._runtime._codec import decode_msg, decode_outcome, encode_failure, encode_msg, preview
from . import _output
from ._events import EventBus, Kind
from ._store import Entry, ResultStore


@dataclass
class Job:
    """One mailbox item: a call (with a result entry) or an observation (without)."""

    inputs: asyncio.Future[list[Msg]]
    shape: str  # "none", "one" or "list"
    task_id: str = ""
    entry: Entry | None = None


class Actor:
    def __init__(self, host: AgentHost, name: str, instance: AgentBase, spec: pb.AgentSpec) -> None:
        self.host = host
        self.name = name
        self.instance = instance
        self.class_name = spec.class_name or type(instance).__qualname__
        self.source_hash = spec.source_hash
        self.calls = 0
        self._mailbox: asyncio.Queue[Job | None] = asyncio.Queue()
        self._consumer = asyncio.get_running_loop().create_task(self._consume())

    def info(self) -> pb.AgentInfo:
        return pb.AgentInfo(
            name=self.name,
            class_name=self.class_name,
            source_hash=self.source_hash,
            calls=self.calls,
            queued=self._mailbox.qsize(),
        )

    def post(self, job: Job) -> None:
        self._mailbox.put_nowait(job)

    def retire(self) -> None:
        """Finish what is queued, then stop."""
        self._mailbox.put_nowait(None)

    async def _consume(self) -> None:
        while (job := await self._mailbox.get()) is not None:
            try:
                await self.host.run_job(self, job)
            except Exception:  # noqa: BLE001 - a broken job must not stop the mailbox
                self.host.log_exception(f"mailbox of agent {self.name!r}")


class AgentHost:
    def __init__(
        self,
        address: str,
        server_id: str,
        bus: EventBus,
        store: ResultStore,
        max_message_bytes: int,
        workers: int,
        log_exception: Callable[[str], None],
    ) -> None:
        self.address = address
        self.loop = asyncio.get_running_loop()
        self.bus = bus
        self.store = store
        self.max_message_bytes = max_message_bytes
        self.log_exception = log_exception
        self.actors: dict[str, Actor] = {}
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="agentnb-reply")
        self.clients = ClientPool()

    # -- agents -----------------------------------------------------------

    async def build(self, factory: Callable[[], Any], name: str) -> AgentBase:
        """Run an agent's constructor in a worker thread; errors become RemoteError."""

        def construct() -> Any:
            set_current_task(TaskContext(name, "", self._emitter("", name)))
            try:
                return factory()
            finally:
                _output.flush_task()
                set_current_task(None)

        loop = asyncio.get_running_loop()
        try:
            instance = await loop.run_in_executor(self.pool, construct)
        except Exception as exc:
            raise self._failure(name, exc) from exc
        if not isinstance(instance, AgentBase):
            raise RemoteError(
                name,
                self.address,
                "TypeError",
                f"{type(instance).__name__} is not an AgentBase subclass",
                "",
            )
        return instance

    def add(self, name: str, instance: AgentBase, spec: pb.AgentSpec) -> Actor:
        old = self.actors.get(name)
        if old is not None:
            old.retire()
        actor = self.actors[name] = Actor(self, name, instance, spec)
        return actor

    def remove(self, name: str) -> None:
        self.actors.pop(name).retire()

    # -- calls --------------------------------------------------------------

    def call(self, actor: Actor, request: pb.CallRequest) -> Entry:
        """Queue a call; a malformed input raises MessageError before anything is queued."""
        decoded = self._decode(request.inputs, actor.name)
        entry = self.store.register(request.task_id, actor.name)
        shape = "none" if request.no_input else "list" if request.as_list else "one"
        refs = [i.ref for i in request.inputs if i.WhichOneof("kind") == "ref"]
        inputs = self._inputs(request.inputs, decoded)
        # the preview of a call's first direct (non-placeholder) input, for the caller's graph edge
        text = preview(next(iter(decoded.values())).content) if decoded else ""
        self.bus.publish(
            Kind.QUEUED, request.task_id, actor.name, caller=request.caller, inputs=refs, preview=text,
            direct_inputs=len(decoded),
        )  # fmt: skip
        actor.post(Job(inputs, shape, request.task_id, entry))
        return entry

    def observe(self, actor: Actor, request: pb.ObserveRequest) -> None:
        actor.post(Job(self._inputs(request.inputs, self._decode(request.inputs, actor.name)), "list"))

    @staticmethod
    def _decode(inputs: Any, agent: str) -> dict[int, Msg]:
        """The inputs sent as messages, decoded, by position."""
        return {
            i: decode_msg(item.message, f"input {i} to agent {agent!r}")
            for i, item in enumerate(inputs)
            if item.WhichOneof("kind") == "message"
        }

    def _inputs(self, inputs: Any, decoded: dict[int, Msg]) -> asyncio.Future[list[Msg]]:
        """Start resolving a call's inputs now; plain messages need no task at all."""
        if len(decoded) < len(inputs):
            return self.loop.create_task(self._resolve(inputs, decoded))
        ready: asyncio.Future[list[Msg]] = self.loop.create_future()
        ready.set_result([decoded[i] for i in range(len(inputs))])
        return ready

    async def _resolve(self, inputs: Any, decoded: dict[int, Msg]) -> list[Msg]:
        async def one(i: int, item: pb.Input) -> Msg:
            if i in decoded:
                return decoded[i]
            ref = item.ref
            try:
                if ref.address == self.address:
                    outcome: Msg | RemoteError = decode_outcome(await self.store.wait(ref.task_id))
                else:
                    client = self.clients.get(ref.address, None)
                    outcome = await client.fetch(ref.task_id, ref.agent)
            except AgentnbError as exc:
                raise RemoteError(
                    ref.agent,
                    ref.address,
                    type(exc).__name__,
                    f"could not read the reply of agent {ref.agent!r}: {exc}",
                    "",
                ) from exc
            except Exception as exc:  # StoreError and friends
                raise RemoteError(ref.agent, ref.address, type(exc).__name__, str(exc), "") from exc
            if isinstance(outcome, RemoteError):
                raise outcome
            return outcome

        return list(await asyncio.gather(*(one(i, item) for i, item in enumerate(inputs))))

    async def run_job(self, actor: Actor, job: Job) -> None:
        try:
            msgs = await job.inputs
        except RemoteError as upstream:
            self._finish(actor, job, pb.FetchResultResponse(failure=encode_failure(upstream)))
            return
        x: Any = None if job.shape == "none" else msgs[0] if job.shape == "one" else msgs
        if job.entry is None:
            await asyncio.get_running_loop().run_in_executor(
                self.pool, self._in_thread, actor, "", lambda: actor.instance.observe(x)
            )
            return
        actor.calls += 1
        self.bus.publish(Kind.RUNNING, job.task_id, actor.name)
        outcome, text = await asyncio.get_running_loop().run_in_executor(
            self.pool, self._reply_in_thread, actor, job.task_id, x
        )
        self._finish(actor, job, outcome, text)

    def _finish(self, actor: Actor, job: Job, outcome: pb.FetchResultResponse, text: str = "") -> None:
        assert job.entry is not None
        if outcome.WhichOneof("outcome") == "failure":
            f = outcome.failure
            text = preview(f"{f.exc_type}: {f.message}", 200)
            self.bus.publish(Kind.ERROR, job.task_id, actor.name, preview=text)
        else:
            message_id = outcome.reply.id
            self.bus.publish(Kind.DONE, job.task_id, actor.name, preview=text, message_id=message_id)
        self.store.finish(job.entry, outcome)

    def _reply_in_thread(self, actor: Actor, task_id: str, x: Any) -> tuple[pb.FetchResultResponse, str]:
        def reply() -> tuple[pb.FetchResultResponse, str]:
            result = actor.instance.reply(x)
            if not isinstance(result, Msg):
                raise TypeError(
                    f"reply() of agent {actor.name!r} returned {type(result).__name__}; it must return a Msg"
                )
            where = f"the reply of agent {actor.name!r}"
            encoded = encode_msg(result, self.max_message_bytes, where)
            return pb.FetchResultResponse(reply=encoded), preview(result.content)

        try:
            return self._in_thread(actor, task_id, reply)
        except Exception as exc:  # noqa: BLE001 - the failure is the outcome
            failure = encode_failure(self._failure(actor.name, exc))
            return pb.FetchResultResponse(failure=failure), ""

    def _in_thread(self, actor: Actor, task_id: str, fn: Callable[[], Any]) -> Any:
        set_current_task(TaskContext(actor.name, task_id, self._emitter(task_id, actor.name)))
        try:
            return fn()
        finally:
            _output.flush_task()
            set_current_task(None)

    def _emitter(self, task_id: str, agent: str) -> Callable[[str], None]:
        def emit(text: str) -> None:
            self.loop.call_soon_threadsafe(self._publish_output, task_id, agent, text)

        return emit

    def _publish_output(self, task_id: str, agent: str, text: str) -> None:
        self.bus.publish(Kind.OUTPUT, task_id, agent, text=text)

    def _failure(self, agent: str, exc: BaseException) -> RemoteError:
        if isinstance(exc, RemoteError):
            return exc
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return RemoteError(agent, self.address, type(exc).__name__, str(exc), tb)

    async def close(self) -> None:
        for actor in self.actors.values():
            actor.retire()
        self.pool.shutdown(wait=False, cancel_futures=True)
        await self.clients.close()
