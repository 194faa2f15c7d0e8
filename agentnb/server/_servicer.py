"""The gRPC servicer: thin glue from RPCs to the :class:`AgentHost`."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import cloudpickle
import grpc

from .. import __version__
from .._errors import MessageError, RemoteError
from .._proto import agentnb_pb2 as pb
from .._proto import agentnb_pb2_grpc as pb_grpc
from .._runtime._client import FAILURE_KEY, REASON_KEY
from ._store import StoreError

if TYPE_CHECKING:
    from ._app import AgentServer

Context: TypeAlias = Any  # grpc.aio.ServicerContext; grpc ships no type stubs

STORE_CODES = {
    "duplicate": grpc.StatusCode.ALREADY_EXISTS,
    "full": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "expired": grpc.StatusCode.NOT_FOUND,
    "unknown_task": grpc.StatusCode.NOT_FOUND,
}


async def _abort(context: Context, code: grpc.StatusCode, message: str, reason: str = "") -> NoReturn:
    await context.abort(code, message, trailing_metadata=((REASON_KEY, reason),) if reason else ())
    raise AssertionError("unreachable")  # abort raises


def import_class(path: str) -> Any:
    """Resolve ``"package.module:QualName"``."""
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise ValueError(f"agent class {path!r} must look like 'package.module:ClassName'")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class Servicer(pb_grpc.AgentServerServicer):
    def __init__(self, server: AgentServer) -> None:
        self._server = server

    @property
    def _host(self):  # type: ignore[no-untyped-def]
        return self._server.host

    async def _actor(self, name: str, context: Context) -> Any:
        actor = self._host.actors.get(name)
        if actor is None:
            known = ", ".join(sorted(self._host.actors)[:10]) or "none"
            await _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"no agent {name!r} on this server (agents here: {known})",
                "agent",
            )
        return actor

    async def CreateAgent(self, request: pb.CreateAgentRequest, context: Context) -> pb.CreateAgentResponse:
        spec = request.spec
        existing = self._host.actors.get(spec.name)
        if existing is not None and not request.replace:
            return pb.CreateAgentResponse(agent=existing.info(), created=False)
        factory = await self._factory(spec, context)
        try:
            instance = await self._host.build(factory, spec.name)
        except RemoteError as exc:
            failure = json.dumps(
                {
                    "agent": exc.agent,
                    "address": exc.address,
                    "exc_type": exc.exc_type,
                    "message": f"building the agent failed: {exc.remote_message}",
                    "traceback": exc.remote_traceback,
                }
            )
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"building agent {spec.name!r} raised {exc.exc_type}: {exc.remote_message}",
                trailing_metadata=((FAILURE_KEY, failure),),
            )
        if instance.name != spec.name:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the agent was built with name {instance.name!r}, not {spec.name!r}",
            )
        actor = self._host.add(spec.name, instance, spec)
        return pb.CreateAgentResponse(agent=actor.info(), created=True)

    async def _factory(self, spec: pb.AgentSpec, context: Context) -> Callable[[], Any]:
        recipe = spec.WhichOneof("recipe")
        if recipe == "pickled":
            if not self._server.config.accepts_code:
                await _abort(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"this server does not accept code, so class {spec.class_name!r} cannot be "
                    "shipped to it; make the class importable on the server and attach by "
                    "import path, or start the server with --allow-code",
                    "code_not_accepted",
                )
            data = spec.pickled

            def unpickle() -> Any:
                cls, args, kwargs = cloudpickle.loads(data)
                return cls(*args, **kwargs)

            return unpickle
        if recipe == "by_import":
            path = spec.by_import.class_path
            try:
                kwargs = json.loads(spec.by_import.kwargs_json or "{}")
            except ValueError as exc:
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"bad kwargs JSON: {exc}")
            return lambda: import_class(path)(**kwargs)
        await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "an agent spec needs a recipe")

    async def DeleteAgent(self, request: pb.DeleteAgentRequest, context: Context) -> pb.DeleteAgentResponse:
        await self._actor(request.name, context)
        self._host.remove(request.name)
        return pb.DeleteAgentResponse()

    async def ListAgents(self, request: pb.ListAgentsRequest, context: Context) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(agents=[a.info() for a in self._host.actors.values()])

    async def Call(self, request: pb.CallRequest, context: Context) -> pb.CallResponse:
        actor = await self._actor(request.agent, context)
        try:
            entry = self._host.call(actor, request)
        except StoreError as exc:
            await _abort(context, STORE_CODES[exc.reason], exc.message, exc.reason)
        except MessageError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if request.wait_ms:
            await asyncio.wait((entry.future,), timeout=request.wait_ms / 1000)
            if not entry.future.done():
                return pb.CallResponse()  # still running: the caller fetches it later
            return pb.CallResponse(outcome=entry.future.result())
        return pb.CallResponse()

    async def FetchResult(self, request: pb.FetchResultRequest, context: Context) -> pb.FetchResultResponse:
        try:
            return await self._host.store.wait(request.task_id)
        except StoreError as exc:
            await _abort(context, STORE_CODES[exc.reason], exc.message, exc.reason)

    async def Observe(self, request: pb.ObserveRequest, context: Context) -> pb.ObserveResponse:
        actor = await self._actor(request.agent, context)
        try:
            self._host.observe(actor, request)
        except MessageError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.ObserveResponse()

    async def GetServerInfo(
        self, request: pb.GetServerInfoRequest, context: Context
    ) -> pb.GetServerInfoResponse:
        server = self._server
        return pb.GetServerInfoResponse(
            server_id=server.server_id,
            pid=server.pid,
            address=server.address,
            accepts_code=server.config.accepts_code,
            agents=len(self._host.actors),
            max_message_bytes=server.config.limits.max_message_bytes,
            version=__version__,
        )

    async def Shutdown(self, request: pb.ShutdownRequest, context: Context) -> pb.ShutdownResponse:
        self._server.request_stop()
        return pb.ShutdownResponse()

    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context: Context
    ) -> AsyncIterator[pb.EventBatch]:
        async for batch in self._host.bus.subscribe(request.since_seq):
            yield batch
