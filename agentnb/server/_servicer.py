"""The gRPC servicer: thin glue from RPCs to the :class:`AgentHost` (runs in gRPC's handler threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, TypeVar

import grpc

from .._core._config import Limits
from .._core._errors import MessageError
from .._core._version import __version__
from .._proto import agentnb_pb2 as pb
from .._proto import agentnb_pb2_grpc as pb_grpc
from .._runtime import _shm as shm
from .._runtime import _wire as wire
from .._runtime._channel import ENVELOPE_BYTES
from .._runtime._client import REASON_KEY
from ._interactive import InteractiveRpcs
from ._lease import resident_bytes
from ._mesh import MeshHost
from ._recipes import RecipeError
from ._store import StoreError, check_task_id
from ._watches import WatchStream

if TYPE_CHECKING:
    from ._host import Actor, AgentHost
    from ._lease import Lease

Context: TypeAlias = Any  # grpc.ServicerContext; grpc ships no type stubs
T = TypeVar("T")

STORE_CODES = {
    "full": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "expired": grpc.StatusCode.NOT_FOUND,
    "released": grpc.StatusCode.NOT_FOUND,
    "unknown_task": grpc.StatusCode.NOT_FOUND,
    "bad_id": grpc.StatusCode.INVALID_ARGUMENT,
}
#: Protocol features this server has beyond the first version (GetServerInfo says them).
FEATURES = ("call_key_refs",)


class Refusal(Exception):
    """An operation refused with a status code, a message and a reason."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(code, message, reason)
        self.code, self.message, self.reason = code, message, reason

    def status(self) -> pb.Status:
        return pb.Status(code=self.code.value[0], message=self.message, reason=self.reason)


def _refusal(exc: Exception) -> Refusal:
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, StoreError):
        return Refusal(STORE_CODES[exc.reason], exc.message, exc.reason)
    if isinstance(exc, RecipeError):
        return Refusal(getattr(grpc.StatusCode, exc.code), exc.message, exc.reason)
    if isinstance(exc, MessageError):
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    raise exc


def _abort(context: Context, refusal: Refusal) -> NoReturn:
    trailer = ((REASON_KEY, refusal.reason),) if refusal.reason else ()
    context.set_trailing_metadata(trailer)
    context.abort(refusal.code, refusal.message)
    raise AssertionError("unreachable")  # abort raises


def _link_batch_refs(op: pb.Op, made: list[pb.OpResult]) -> None:
    """Point a call's inputs that name an earlier operation of the same Submit (``batch_op``)
    at the task that operation made; raises a Refusal if there is none."""
    kind = op.WhichOneof("op")
    if kind not in ("call", "observe"):
        return
    for item in op.call.inputs if kind == "call" else op.observe.inputs:
        if item.WhichOneof("kind") != "ref" or not item.ref.batch_op:
            continue
        ref, index = item.ref, item.ref.batch_op - 1
        if index >= len(made):
            raise Refusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"an input names operation {ref.batch_op} of this batch, which does not come before it",
            )
        if not made[index].task_id or made[index].status.code:
            raise Refusal(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"an input is the reply of agent {ref.agent!r}, whose call in the same batch was refused: "
                f"{made[index].status.message or 'it made no task'}",
                "upstream",
            )
        ref.task_id, ref.batch_op = made[index].task_id, 0


class PeerWaits:
    """Concurrent result waits per peer, bounded (``Limits.waits_per_peer``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def enter(self, peer: str) -> None:
        with self._lock:
            count = self._counts.get(peer, 0)
            if count >= self._limit:
                raise Refusal(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"this client already waits for {self._limit} results here; wait for some to "
                    "finish, or watch many results on one WatchResults stream",
                    "waits",
                )
            self._counts[peer] = count + 1

    def leave(self, peer: str) -> None:
        with self._lock:
            count = self._counts.get(peer, 1) - 1
            if count:
                self._counts[peer] = count
            else:
                self._counts.pop(peer, None)


@dataclass(frozen=True)
class ServerFacts:
    """What a server tells about itself (``GetServerInfo``), fixed once it listens."""

    server_id: str
    pid: int
    address: str
    accepts_code: bool
    started_at: float
    tls: bool


class Servicer(InteractiveRpcs, pb_grpc.AgentServerServicer):
    def __init__(
        self,
        host: AgentHost,
        facts: ServerFacts,
        limits: Limits,
        request_stop: Callable[[], None],
        lease: Lease | None = None,
        key_wait: float = 15.0,
    ) -> None:
        InteractiveRpcs.__init__(self, limits)  # StreamResult, AnswerInput, PostMortem
        self._facts = facts
        self._lease = lease
        self._host = host
        self._limits = limits
        self._request_stop = request_stop
        self._waits = PeerWaits(self._limits.waits_per_peer)
        #: How long a watcher waits for a call named by key that has not arrived (Timeouts.reconnect).
        self._key_wait = key_wait
        self.meshes = MeshHost(host)

    def _actor(self, name: str) -> Actor:
        actor = self._host.actors.get(name)
        if actor is None:
            known = ", ".join(sorted(self._host.actors)[:10]) or "none"
            raise Refusal(
                grpc.StatusCode.NOT_FOUND, f"no agent {name!r} on this server (agents here: {known})", "agent"
            )
        return actor

    # -- agents ---------------------------------------------------------------------

    def CreateAgent(self, request: pb.CreateAgentRequest, context: Context) -> pb.CreateAgentResponse:
        try:
            return self._host.create(request.spec, request.replace, request.exclusive)
        except Exception as exc:  # noqa: BLE001 - refusals become statuses
            _abort(context, _refusal(exc))

    def DeleteAgent(self, request: pb.DeleteAgentRequest, context: Context) -> pb.DeleteAgentResponse:
        try:
            self._delete(request)
        except Refusal as exc:
            _abort(context, exc)
        return pb.DeleteAgentResponse()

    def _delete(self, request: pb.DeleteAgentRequest) -> None:
        if request.mesh:
            if not self.meshes.delete(request.name):
                raise Refusal(grpc.StatusCode.NOT_FOUND, f"no mesh {request.name!r} on this server", "agent")
            return
        if not self._host.remove(request.name):
            self._actor(request.name)  # raises NOT_FOUND naming the agents here

    def ListAgents(self, request: pb.ListAgentsRequest, context: Context) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(agents=[a.info() for a in list(self._host.actors.values())])

    # -- calls ------------------------------------------------------------------------

    def Call(self, request: pb.CallRequest, context: Context) -> bytes:
        """A CallResponse, framed by hand around the outcome's stored bytes."""
        try:
            if request.HasField("shared"):  # a big call from a driver of this host
                request = self._unshare(request.shared, "a call", pb.CallRequest.FromString)
            entry = self._call(request, inline=request.wait_ms > 0)
            done = None
            if request.wait_ms:
                done = entry if entry.done else None
                if done is None:
                    peer = context.peer()
                    self._waits.enter(peer)
                    try:
                        done = self._host.store.wait(
                            entry.task_id, request.wait_ms / 1000, context.add_callback
                        )
                    finally:
                        self._waits.leave(peer)
                if done is not None:
                    done.read = True
        except Exception as exc:  # noqa: BLE001 - refusals become statuses
            _abort(context, _refusal(exc))
        parts = [wire.text(1, entry.task_id), wire.text(3, self._facts.server_id)]
        if done is not None:  # the outcome's bytes are copied once, into the response
            outcome = self._outcome(done.wire, context)
            parts[1:1] = [wire.header(2, len(outcome)), outcome]
        return b"".join(parts)

    def _unshare(self, segment: pb.SharedSegment, what: str, parse: Callable[[memoryview], T]) -> T:
        return shm.take(segment, self._limits.max_message_bytes + ENVELOPE_BYTES, what, parse)

    def _outcome(self, data: bytes, context: Context) -> bytes:
        """An outcome's bytes for this reader: through shared memory if big and it is on this host."""
        threshold = self._limits.shm_threshold
        if not threshold or len(data) <= threshold:
            return data
        return shm.outcome_for(data, shm.peer_shares(context.invocation_metadata()), threshold)

    def _call(self, request: pb.CallRequest, inline: bool = False) -> Any:
        key = request.call_key
        if key:
            check_task_id(key, "call key")
            known = self._host.store.keyed(key)  # a call sent again is not queued twice
            if known is not None:
                return known
        remember = self._remember(key, request.key_names_task) if key else None
        if request.mesh:  # every agent of the mesh on this server, in one operation
            return self.meshes.call(request, remember)
        return self._host.call(self._actor(request.agent), request, inline, remember)

    def _remember(self, key: str, readable: bool) -> Any:
        def remember(entry: Any) -> None:  # before the call runs: a resend, a watcher by key find it
            self._host.store.name_key(entry, key, readable)

        return remember

    def Observe(self, request: pb.ObserveRequest, context: Context) -> pb.ObserveResponse:
        try:
            entry = self._host.observe(self._actor(request.agent), request)
        except Exception as exc:  # noqa: BLE001
            _abort(context, _refusal(exc))
        return pb.ObserveResponse(task_id=entry.task_id)

    def Submit(self, request: pb.SubmitRequest, context: Context) -> pb.SubmitResponse:
        if len(request.ops) > self._limits.ops_per_batch:
            _abort(context, Refusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(request.ops):,} operations in one batch; at most {self._limits.ops_per_batch:,}",
            ))  # fmt: skip
        results: list[pb.OpResult] = []
        full: Refusal | None = None
        not_created: dict[str, Refusal] = {}  # what follows a failed create of that name fails with it
        for op in request.ops:
            if full is not None:  # the store is full: refuse the rest, in order, for a retry
                results.append(pb.OpResult(status=full.status()))
                continue
            if op.WhichOneof("op") == "shared":  # a big operation from a driver of this host
                try:
                    op = self._unshare(op.shared, "an operation", pb.Op.FromString)
                except Exception as exc:  # noqa: BLE001 - it gets its own status
                    results.append(pb.OpResult(status=_refusal(exc).status()))
                    continue
            refused = not_created.get(_agent_of(op))
            if refused is not None:
                results.append(pb.OpResult(status=refused.status()))
                continue
            try:
                _link_batch_refs(op, results)
                results.append(self._op(op))
            except Exception as exc:  # noqa: BLE001 - each op gets its own status
                refusal = _refusal(exc)
                if refusal.reason == "full":
                    full = refusal
                elif op.WhichOneof("op") == "create":
                    not_created[op.create.spec.name] = refusal
                elif op.WhichOneof("op") == "create_mesh":
                    not_created[op.create_mesh.mesh] = refusal
                results.append(pb.OpResult(status=refusal.status()))
        return pb.SubmitResponse(results=results, server_id=self._facts.server_id)

    def _op(self, op: pb.Op) -> pb.OpResult:
        kind = op.WhichOneof("op")
        if kind == "call":
            return pb.OpResult(task_id=self._call(op.call).task_id)
        if kind == "create":
            created = self._host.create(op.create.spec, op.create.replace, op.create.exclusive)
            return pb.OpResult(task_id=created.task_id, created=created)
        if kind == "observe":
            return pb.OpResult(task_id=self._host.observe(self._actor(op.observe.agent), op.observe).task_id)
        if kind == "create_mesh":
            return pb.OpResult(task_id=self.meshes.create(op.create_mesh).task_id)
        if kind == "delete":
            self._delete(op.delete)
        elif kind == "define_class":
            self._host.recipes.define(op.define_class)
        elif kind == "release":
            self._host.store.release(list(op.release.task_ids))
        else:
            raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, "an empty operation")
        return pb.OpResult()

    def Cancel(self, request: pb.CancelRequest, context: Context) -> pb.CancelResponse:
        try:
            actor = self._actor(request.agent) if request.agent else None
            cancelled, running, stopping = self._host.cancel(actor, list(request.task_ids))
        except Exception as exc:  # noqa: BLE001
            _abort(context, _refusal(exc))
        return pb.CancelResponse(cancelled=cancelled, running=running, stopping=stopping)

    # -- results (capabilities: no token) -------------------------------------------------

    def FetchResult(self, request: pb.FetchResultRequest, context: Context) -> bytes:
        peer = context.peer()
        try:
            check_task_id(request.task_id)
            self._waits.enter(peer)
            try:
                remaining = context.time_remaining()
                outcome = self._host.store.wait(
                    request.task_id, None if remaining is None else max(0.0, remaining), context.add_callback
                )
            finally:
                self._waits.leave(peer)
        except Exception as exc:  # noqa: BLE001
            _abort(context, _refusal(exc))
        if outcome is None:
            _abort(context, Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, "the result is not ready yet"))
        data = self._outcome(outcome.wire, context)
        return b"".join((wire.header(1, len(data)), data))  # a FetchResultResponse

    def FetchItems(self, request: pb.FetchItemsRequest, context: Context) -> Iterator[bytes]:
        """ItemsChunks: a mesh call's replies, in the mesh's order, as they are ready."""
        peer = context.peer()
        try:
            self._waits.enter(peer)
        except Refusal as exc:
            _abort(context, exc)
        try:
            remaining = context.time_remaining()
            deadline = None if remaining is None else time.monotonic() + remaining
            yield from self.meshes.items(request, context.is_active, deadline)
        except Exception as exc:  # noqa: BLE001 - refusals become statuses
            _abort(context, _refusal(exc))
        finally:
            self._waits.leave(peer)

    def watch_one(self, task_id: str, deliver: Callable[[Any], None], context: Context) -> None:
        """Call ``deliver(entry)`` once ``task_id`` is done (for this server's own agents)."""
        try:
            check_task_id(task_id)
            self._host.store.on_done(task_id, deliver)
        except Exception as exc:  # noqa: BLE001
            _abort(context, _refusal(exc))

    def WatchResults(self, requests: Iterator[pb.WatchResultsRequest], context: Context) -> Iterator[bytes]:
        """WatchResultsResponses, framed by hand around the outcomes' stored bytes."""
        threshold = self._limits.shm_threshold if shm.peer_shares(context.invocation_metadata()) else 0
        stream = WatchStream(
            self._host.store, self._limits.watches_per_stream, self._key_wait, self._facts.server_id,
            threshold, lambda exc: _refusal(exc).status(),
        )  # fmt: skip
        reader = threading.Thread(target=stream.read, args=(requests,), daemon=True)
        reader.name = "agentnb-watch-reader"
        reader.start()
        yield from stream.responses(wire.text(2, self._facts.server_id))

    # -- the server ---------------------------------------------------------------------

    def GetServerInfo(self, request: pb.GetServerInfoRequest, context: Context) -> pb.GetServerInfoResponse:
        facts = self._facts
        return pb.GetServerInfoResponse(
            server_id=facts.server_id,
            pid=facts.pid,
            address=facts.address,
            accepts_code=facts.accepts_code,
            agents=len(self._host.actors),
            max_message_bytes=self._limits.max_message_bytes,
            version=__version__,
            event_seq=self._host.bus.seq,
            started_at=facts.started_at,
            tls=facts.tls,
            results=len(self._host.store),
            shm_domain=shm.domain(),
            rss_bytes=resident_bytes(),
            features=FEATURES,
        )

    def RenewLease(self, request: pb.RenewLeaseRequest, context: Context) -> pb.RenewLeaseResponse:
        lease = self._lease
        if lease is not None:
            lease.renew()
        return pb.RenewLeaseResponse(
            server_id=self._facts.server_id,
            agents=len(self._host.actors),
            rss_bytes=resident_bytes(),
            lease_s=lease.seconds if lease is not None else 0.0,
        )

    def Shutdown(self, request: pb.ShutdownRequest, context: Context) -> pb.ShutdownResponse:
        self._request_stop()
        return pb.ShutdownResponse()

    def StreamEvents(self, request: pb.StreamEventsRequest, context: Context) -> Iterator[pb.EventBatch]:
        yield from self._host.bus.subscribe(request.since_seq, request.server_id, context.is_active)


def _agent_of(op: pb.Op) -> str:
    kind = op.WhichOneof("op")
    if kind == "call":
        return op.call.agent
    if kind == "observe":
        return op.observe.agent
    return ""
