"""The gRPC client of one agent server, and the one place gRPC errors become agentnb errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import grpc

from .._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._errors import (
    AgentExistsError,
    AgentnbError,
    AgentNotFoundError,
    AuthenticationError,
    CallTimeoutError,
    CodeNotAcceptedError,
    MessageError,
    MessageTooLargeError,
    ProtocolError,
    RemoteError,
    ResultExpiredError,
    ServerUnavailableError,
)
from .._message import Msg
from .._proto import agentnb_pb2 as pb
from .._proto import agentnb_pb2_grpc as pb_grpc
from ._codec import decode_outcome

T = TypeVar("T")

#: Metadata keys shared with the server.
AUTH_KEY = "authorization"
REASON_KEY = "agentnb-reason"
FAILURE_KEY = "agentnb-failure"
#: Room for the envelope around the largest message.
ENVELOPE_BYTES = 64 * 1024


def channel_options(limits: Limits) -> list[tuple[str, int | str]]:
    size = limits.max_message_bytes + ENVELOPE_BYTES
    return [
        ("grpc.max_send_message_length", size),
        ("grpc.max_receive_message_length", size),
        ("grpc.enable_http_proxy", 0),
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


def translate(exc: grpc.RpcError, address: str, what: str) -> AgentnbError:
    """Turn a gRPC error into the agentnb error that says what, where and what next."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    meta = {k: v for k, v in (trailing or ())}
    reason = meta.get(REASON_KEY, "")
    where = f"{what} on {address}"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationError(
            f"{where}: the server refused the token ({details}); pass token=... "
            "or set AGENTNB_TOKEN to the token the server was started with"
        )
    if code == grpc.StatusCode.UNAVAILABLE or (
        code == grpc.StatusCode.CANCELLED and "Cancelled" not in details
    ):
        return ServerUnavailableError(
            f"{where}: the agent server cannot be reached ({details}); it may have crashed or been stopped"
        )
    if code == grpc.StatusCode.NOT_FOUND:
        if reason in ("expired", "unknown_task"):
            return ResultExpiredError(f"{where}: {details}")
        return AgentNotFoundError(f"{where}: {details}")
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return AgentExistsError(f"{where}: {details}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "message larger than max" in details.lower():
        return MessageTooLargeError(
            f"{where}: {details}; send a smaller message or raise Limits(max_message_bytes=...)"
        )
    if code == grpc.StatusCode.FAILED_PRECONDITION and reason == "code_not_accepted":
        return CodeNotAcceptedError(f"{where}: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        if FAILURE_KEY in meta:
            f = json.loads(meta[FAILURE_KEY])
            return RemoteError(f["agent"], f["address"], f["exc_type"], f["message"], f["traceback"])
        return MessageError(f"{where}: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CallTimeoutError(f"{where}: no answer before the deadline ({details})")
    return ProtocolError(f"{where}: {code.name if code else 'UNKNOWN'}: {details}")


class ServerClient:
    """Async client of one agent server; lives on (and only on) the loop that made it."""

    def __init__(
        self,
        address: str,
        token: str | None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        self.address = address
        self.limits = limits
        self.timeouts = timeouts
        self._channel = grpc.aio.insecure_channel(address, options=channel_options(limits))
        self._stub = pb_grpc.AgentServerStub(self._channel)
        self._metadata = ((AUTH_KEY, f"Bearer {token}"),) if token else ()

    async def _rpc(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.RpcError as exc:
            raise translate(exc, self.address, what) from exc

    async def info(self) -> pb.GetServerInfoResponse:
        return await self._rpc(
            "asking for server info",
            self._stub.GetServerInfo(
                pb.GetServerInfoRequest(), metadata=self._metadata, timeout=self.timeouts.control
            ),
        )

    async def create_agent(self, spec: pb.AgentSpec, replace: bool) -> pb.CreateAgentResponse:
        return await self._rpc(
            f"creating agent {spec.name!r}",
            self._stub.CreateAgent(
                pb.CreateAgentRequest(spec=spec, replace=replace),
                metadata=self._metadata,
                timeout=self.timeouts.control,
            ),
        )

    async def delete_agent(self, name: str) -> None:
        await self._rpc(
            f"deleting agent {name!r}",
            self._stub.DeleteAgent(
                pb.DeleteAgentRequest(name=name), metadata=self._metadata, timeout=self.timeouts.control
            ),
        )

    async def list_agents(self) -> list[pb.AgentInfo]:
        response = await self._rpc(
            "listing agents",
            self._stub.ListAgents(
                pb.ListAgentsRequest(), metadata=self._metadata, timeout=self.timeouts.control
            ),
        )
        return list(response.agents)

    async def call(self, request: pb.CallRequest) -> None:
        await self._rpc(
            f"calling agent {request.agent!r}",
            self._stub.Call(request, metadata=self._metadata, timeout=self.timeouts.control),
        )

    async def observe(self, request: pb.ObserveRequest) -> None:
        await self._rpc(
            f"sending observations to agent {request.agent!r}",
            self._stub.Observe(request, metadata=self._metadata, timeout=self.timeouts.control),
        )

    async def fetch(self, task_id: str, agent: str, timeout: float | None = None) -> Msg | RemoteError:
        """Wait for a task's outcome, re-polling in chunks; None waits as long as it runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        what = f"waiting for the reply of agent {agent!r}"
        while True:
            chunk = self.timeouts.fetch_chunk
            if deadline is not None:
                chunk = min(chunk, max(deadline - time.monotonic(), 0.001))
            try:
                response = await self._stub.FetchResult(
                    pb.FetchResultRequest(task_id=task_id), metadata=self._metadata, timeout=chunk
                )
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED and (
                    deadline is None or time.monotonic() < deadline
                ):
                    continue
                raise translate(exc, self.address, what) from exc
            return decode_outcome(response)

    async def events(self, since_seq: int = 0) -> AsyncIterator[pb.EventBatch]:
        stream = self._stub.StreamEvents(pb.StreamEventsRequest(since_seq=since_seq), metadata=self._metadata)
        try:
            async for batch in stream:
                yield batch
        except grpc.RpcError as exc:
            raise translate(exc, self.address, "following the event feed") from exc
        finally:
            stream.cancel()

    async def shutdown(self) -> None:
        await self._rpc(
            "asking the server to shut down",
            self._stub.Shutdown(pb.ShutdownRequest(), metadata=self._metadata, timeout=self.timeouts.stop),
        )

    async def close(self) -> None:
        await self._channel.close(grace=None)


class SyncServerClient:
    """A blocking client for the one-round-trip path: call and wait in the caller's thread.

    Used only when a placeholder is read before its call was sent, so the
    reading thread can send it and get the outcome in the same RPC. A sync
    channel belongs to no event loop; grpc's blocking waits wake every
    0.1 s, so Ctrl-C and the notebook's stop button still interrupt them.
    """

    def __init__(self, address: str, token: str | None, limits: Limits, timeouts: Timeouts) -> None:
        self.address = address
        self.timeouts = timeouts
        self._channel = grpc.insecure_channel(address, options=channel_options(limits))
        self._stub = pb_grpc.AgentServerStub(self._channel)
        self._metadata = ((AUTH_KEY, f"Bearer {token}"),) if token else ()

    def call_and_wait(self, request: pb.CallRequest, wait: float) -> Msg | RemoteError | None:
        """Send a call; its outcome if ready within ``wait`` seconds, else None."""
        request.wait_ms = max(1, int(wait * 1000))
        try:
            response = self._stub.Call(request, metadata=self._metadata, timeout=wait + self.timeouts.control)
        except grpc.RpcError as exc:
            raise translate(exc, self.address, f"calling agent {request.agent!r}") from exc
        finally:
            request.wait_ms = 0
        return decode_outcome(response.outcome) if response.HasField("outcome") else None

    def close(self) -> None:
        self._channel.close()


class ClientPool:
    """One client per (address, token) on one loop."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str | None], ServerClient] = {}

    def get(
        self,
        address: str,
        token: str | None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> ServerClient:
        key = (address, token)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = ServerClient(address, token, limits, timeouts)
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
