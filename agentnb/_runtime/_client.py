"""The gRPC clients of one agent server, and the one place gRPC errors become agentnb errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import grpc

from .._core._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._core._errors import (
    AgentExistsError,
    AgentnbError,
    AgentNotFoundError,
    AuthenticationError,
    CallTimeoutError,
    CodeNotAcceptedError,
    MessageError,
    MessageTooLargeError,
    ProtocolError,
    ResultExpiredError,
    ServerUnavailableError,
)
from .._core._tls import TLS
from .._proto import agentnb_pb2 as pb
from .._proto import agentnb_pb2_grpc as pb_grpc
from . import _console
from . import _shm as shm
from . import _wire as wire
from ._channel import aio_channel, sync_channel

T = TypeVar("T")

#: Metadata keys shared with the server.
AUTH_KEY = "authorization"
REASON_KEY = "agentnb-reason"

_CODES = {code.value[0]: code for code in grpc.StatusCode}


def error_for(code: grpc.StatusCode, details: str, reason: str, where: str) -> AgentnbError:
    """The agentnb error for a status (of an RPC or of one op in a batch): what, where, what next."""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationError(
            f"{where}: the server refused the token ({details}); pass token=... or set "
            "AGENTNB_TOKEN to the token the server was started with (a launcher prints where it "
            "keeps it)"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return ServerUnavailableError(
            f"{where}: the agent server cannot be reached ({details}); {_hint(details)}"
        )
    if code == grpc.StatusCode.NOT_FOUND:
        if reason in ("expired", "unknown_task", "unknown_key", "released", "restarted"):
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
        return MessageError(f"{where}: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CallTimeoutError(f"{where}: no answer before the deadline ({details})")
    return ProtocolError(f"{where}: {code.name}: {details}")


#: What gRPC's details say when a certificate does not name the host dialled (its own
#: check, and OpenSSL's and BoringSSL's words for it).
_WRONG_HOST = ("hostname verification", "hostname mismatch", "not in peer certificate", "peer name")


def _hint(details: str) -> str:
    """What to check when a server cannot be reached, TLS problems first."""
    lowered = details.lower()
    if any(sign in lowered for sign in _WRONG_HOST):
        return (
            "the server's TLS certificate does not name the host that was dialled: dial a name "
            "or address the certificate names, or serve one that names this host "
            "(agentnb.make_self_signed(folder, hosts=[...]), or python -m agentnb.server "
            "--make-cert DIR --hosts ...)"
        )
    if "certificate" in lowered or "handshake" in lowered or "ssl" in lowered:
        return (
            "the TLS handshake failed: a server with TLS needs to_dist(..., tls=agentnb.TLS(ca=...)) "
            "with the CA (for a self-signed certificate: the certificate itself) and a certificate "
            "that names the host you connect to; a server without TLS needs no tls="
        )
    return (
        "check the host and port, and that the server is running; a server started with TLS "
        "(--tls-cert) needs to_dist(..., tls=agentnb.TLS(ca=...)), one without TLS no tls="
    )


def translate(exc: grpc.RpcError, address: str, what: str) -> AgentnbError:
    """Turn a gRPC error into the agentnb error that says what, where and what next."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    reason = dict(trailing or ()).get(REASON_KEY, "")
    return error_for(code or grpc.StatusCode.UNKNOWN, details, reason, f"{what} on {address}")


def status_error(status: pb.Status, address: str, what: str) -> AgentnbError:
    """The agentnb error for a Status carried inside a message (a batch op, a watched task)."""
    code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    return error_for(code, status.message, status.reason, f"{what} on {address}")


def _chunk(chunk: float, deadline: float | None) -> float:
    return chunk if deadline is None else max(0.001, min(chunk, deadline - time.monotonic()))


def _again(exc: grpc.RpcError, deadline: float | None) -> bool:
    """A long-poll that ran out of its chunk, with time left: poll again."""
    return exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED and (
        deadline is None or time.monotonic() < deadline
    )


class _Down:
    """How long a server has been unreachable across the retries of one wait."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.since = 0.0
        self.pause = 0.1

    def again(self, exc: grpc.RpcError, deadline: float | None) -> float | None:
        """The pause before trying again, or None: give up (not a lost connection, or lost for
        longer than the bound, or past the deadline)."""
        if exc.code() != grpc.StatusCode.UNAVAILABLE:
            return None
        now = time.monotonic()
        self.since = self.since or now
        pause, self.pause = self.pause, min(1.0, self.pause * 2)
        if now - self.since + pause > self.bound or (deadline is not None and now + pause > deadline):
            return None
        return pause

    def error(self, error: AgentnbError) -> AgentnbError:
        if self.since and isinstance(error, ServerUnavailableError):
            return ServerUnavailableError(f"{error} (unreachable for {time.monotonic() - self.since:.0f} s)")
        return error


def _metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The token, and this process's shared-memory domain (a server of the same one answers
    big outcomes through shared memory)."""
    domain = shm.domain()
    auth = ((AUTH_KEY, f"Bearer {token}"),) if token else ()
    return auth + (((shm.DOMAIN_KEY, domain),) if domain else ())


class ServerClient:
    """Async client of one agent server; lives on (and only on) the loop that made it."""

    def __init__(
        self,
        address: str,
        token: str | None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        tls: TLS | None = None,
        target: str = "",
    ) -> None:
        """Args:
        target: what the channel dials, if not ``address`` (a ``unix:`` socket of a
            server on this machine); errors still name ``address``.
        """
        self.address = address
        self.limits = limits
        self.timeouts = timeouts
        self._channel = aio_channel(target or address, limits, tls)
        self._stub = pb_grpc.AgentServerStub(self._channel)
        self._submit = self._channel.unary_unary(
            "/agentnb.v1.AgentServer/Submit", response_deserializer=pb.SubmitResponse.FromString
        )  # takes the request as bytes
        self._metadata = _metadata(token)
        self._reader = _metadata(None)  # capability reads carry no token
        #: The server shares this process's shared-memory domain: big operations go through it.
        self.shared = False

    async def _rpc(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.RpcError as exc:
            error = translate(exc, self.address, what)
            if isinstance(error, CallTimeoutError) and not self._connected():
                error = ServerUnavailableError(
                    f"{what} on {self.address}: no connection to the agent server before the deadline; "
                    f"{_hint('')}"
                )
            raise error from exc

    def _connected(self) -> bool:
        return self._channel.get_state() == grpc.ChannelConnectivity.READY

    async def info(self, timeout: float | None = None, first: bool = False) -> pb.GetServerInfoResponse:
        """The server's info; ``first``: the first contact, which fails at once if nothing listens."""
        return await self._rpc(
            "contacting the agent server" if first else "asking for server info",
            self._stub.GetServerInfo(
                pb.GetServerInfoRequest(),
                metadata=self._metadata,
                timeout=timeout or self.timeouts.control,
                wait_for_ready=not first,
            ),
        )

    async def submit(self, ops: list[bytes], what: str) -> pb.SubmitResponse:
        """Send a batch of serialized operations, waiting for a server that is (re)connecting.
        A big operation to a server of this host goes through shared memory."""
        segments = []
        if self.shared:
            ops = list(ops)
            for i, op in enumerate(ops):
                segment = shm.share(op, self.limits.shm_threshold)
                if segment is not None:
                    segments.append(segment)
                    ops[i] = wire.field(8, segment.SerializeToString())  # Op.shared
        try:
            return await self._rpc(
                what,
                self._submit(
                    b"".join(wire.field(1, op) for op in ops),  # a SubmitRequest, framed by hand
                    metadata=self._metadata,
                    timeout=self.timeouts.reconnect + self.timeouts.control,
                    wait_for_ready=True,
                ),
            )
        finally:
            for segment in segments:  # read by the server, or never to be
                shm.discard(segment)

    async def cancel(self, request: pb.CancelRequest) -> pb.CancelResponse:
        return await self._rpc(
            "cancelling calls",
            self._stub.Cancel(request, metadata=self._metadata, timeout=self.timeouts.control),
        )

    async def list_agents(self) -> list[pb.AgentInfo]:
        response = await self._rpc(
            "listing agents",
            self._stub.ListAgents(
                pb.ListAgentsRequest(), metadata=self._metadata, timeout=self.timeouts.control
            ),
        )
        return list(response.agents)

    async def fetch(self, task_id: str, agent: str, timeout: float | None) -> pb.Outcome:
        """Wait for a task's whole outcome, re-polling in chunks; None waits as long as it runs."""
        deadline = None if timeout is None else time.monotonic() + timeout
        what = f"reading the reply of agent {agent!r}"
        down = _Down(self.timeouts.reconnect)
        while True:
            chunk = _chunk(self.timeouts.fetch_chunk, deadline)
            try:
                response = await self._stub.FetchResult(
                    pb.FetchResultRequest(task_id=task_id), metadata=self._reader, timeout=chunk
                )
                shm.unshare(response.outcome, self.limits.max_message_bytes, what)
                return response.outcome
            except grpc.RpcError as exc:
                if not _again(exc, deadline):
                    pause = down.again(exc, deadline)
                    if pause is None:
                        raise down.error(translate(exc, self.address, what)) from exc
                    await asyncio.sleep(pause)

    async def items(self, task_id: str, start: int, what: str) -> AsyncIterator[pb.ItemsChunk]:
        """The replies of a mesh call from ``start`` on, in chunks, as they are ready. An
        unreachable server fails at once (UNAVAILABLE): the caller bounds its retries."""
        stream = self._stub.FetchItems(pb.FetchItemsRequest(task_id=task_id, start=start))
        try:
            async for chunk in stream:
                yield chunk
        except grpc.RpcError as exc:
            raise translate(exc, self.address, what) from exc
        finally:
            stream.cancel()

    def watch(self) -> Any:
        """Open a WatchResults stream (a bidirectional gRPC call: ``write`` ids, read results).
        It fails at once when the server cannot be reached (the watch counts how long)."""
        return self._stub.WatchResults(metadata=self._reader)

    async def events(self, since_seq: int, server_id: str) -> AsyncIterator[pb.EventBatch]:
        stream = self._stub.StreamEvents(
            pb.StreamEventsRequest(since_seq=since_seq, server_id=server_id),
            metadata=self._metadata,
            wait_for_ready=True,
        )
        try:
            async for batch in stream:
                yield batch
        except grpc.RpcError as exc:
            raise translate(exc, self.address, "following the event feed") from exc
        finally:
            stream.cancel()

    async def stream_result(
        self, task_id: str, from_piece: int, agent: str, call_key: str = ""
    ) -> AsyncIterator[pb.StreamResultResponse]:
        """A task's pieces from ``from_piece`` on, then its outcome (the task id is the capability;
        or the key of the call that made it, with no task id: see ``TaskRef.call_key``)."""
        stream = self._stub.StreamResult(
            pb.StreamResultRequest(task_id=task_id, from_piece=from_piece, call_key=call_key)
        )
        try:
            async for response in stream:
                yield response
        except grpc.RpcError as exc:
            raise translate(exc, self.address, f"reading the pieces of agent {agent!r}") from exc
        finally:
            stream.cancel()

    async def answer(self, task_id: str, prompt: int, text: str, eof: bool) -> None:
        """Answer a reply's prompt (its ``input()``, or a debugger's)."""
        await self._rpc(
            "answering a prompt",
            self._stub.AnswerInput(
                pb.AnswerInputRequest(task_id=task_id, prompt=prompt, text=text, eof=eof),
                metadata=self._metadata,
                timeout=self.timeouts.control,
            ),
        )

    async def post_mortem(self, task_id: str, timeout: float) -> None:
        """Open a post-mortem debugger on a failed call's frames; returns once it ended."""
        await self._rpc(
            "debugging a failed call",
            self._stub.PostMortem(
                pb.PostMortemRequest(task_id=task_id), metadata=self._metadata, timeout=timeout
            ),
        )

    async def shutdown(self) -> None:
        await self._rpc(
            "asking the server to shut down",
            self._stub.Shutdown(pb.ShutdownRequest(), metadata=self._metadata, timeout=self.timeouts.stop),
        )

    async def close(self) -> None:
        await self._channel.close(grace=None)


class SyncServerClient:
    """A blocking client for the one-round-trip path: call and wait in the caller's thread.

    Used when a placeholder is read before its call was sent, so the reading
    thread sends it and gets the outcome in the same RPC. A sync channel
    belongs to no event loop; grpc's blocking waits wake every 0.1 s, so
    Ctrl-C and the notebook's stop button still interrupt them.
    """

    def __init__(
        self,
        address: str,
        token: str | None,
        limits: Limits,
        timeouts: Timeouts,
        tls: TLS | None = None,
        target: str = "",
        shared: bool = False,
    ) -> None:
        self.address = address
        self.limits = limits
        self.timeouts = timeouts
        self._channel = sync_channel(target or address, limits, tls)
        self._stub = pb_grpc.AgentServerStub(self._channel)
        self._call = self._channel.unary_unary(
            "/agentnb.v1.AgentServer/Call", response_deserializer=pb.CallResponse.FromString
        )  # takes the request as bytes
        self._metadata = _metadata(token)
        self._reader = _metadata(None)
        self.shared = shared  # the server shares this process's shared-memory domain

    def call(self, request: pb.CallRequest, wait: float) -> pb.CallResponse:
        """Send a call; the response holds its outcome if it was ready within ``wait`` seconds.

        A server whose result store is full is asked again shortly (back pressure).
        """
        request.wait_ms = max(1, int(wait * 1000))
        deadline = time.monotonic() + wait + self.timeouts.reconnect
        pause = 0.01
        what = f"calling agent {request.agent!r}"
        data = request.SerializeToString()  # once (upb's ByteSize would serialize it too)
        send = self._call if not _console.serving_here() else self._call_answering
        try:
            while True:
                sent, segment = data, shm.share(data, self.limits.shm_threshold) if self.shared else None
                if segment is not None:  # a big call to a server of this host: through shared memory
                    sent = pb.CallRequest(shared=segment).SerializeToString()
                try:
                    response = send(
                        sent,
                        metadata=self._metadata,
                        timeout=max(0.001, deadline - time.monotonic()),
                        wait_for_ready=True,
                    )
                    shm.unshare(response.outcome, self.limits.max_message_bytes, f"the reply of {what}")
                    return response
                except grpc.RpcError as exc:
                    full = dict(exc.trailing_metadata() or ()).get(REASON_KEY) == "full"
                    if not full or time.monotonic() + pause > deadline:
                        raise translate(exc, self.address, what) from exc
                finally:
                    if segment is not None:
                        shm.discard(segment)
                time.sleep(pause)  # back pressure: the server is full of unfinished calls
                pause = min(0.5, pause * 2)
        finally:
            request.wait_ms = 0

    def _call_answering(self, request: bytes, **options: Any) -> pb.CallResponse:
        """``Call``, from a notebook cell's thread: asks the reply's prompts while it waits
        (the reply may run in the server's handler thread until it is answered)."""
        future = self._call.future(request, **options)
        try:
            _console.wait(lambda done: future.add_done_callback(lambda _: done()), None)
        except BaseException:
            future.cancel()
            raise
        return future.result()  # type: ignore[no-any-return]

    def fetch(self, task_id: str, agent: str, timeout: float | None) -> pb.Outcome:
        """Wait for a task's whole outcome in this thread, re-polling in chunks."""
        deadline = None if timeout is None else time.monotonic() + timeout
        what = f"reading the reply of agent {agent!r}"
        down = _Down(self.timeouts.reconnect)
        while True:
            chunk = _chunk(self.timeouts.fetch_chunk, deadline)
            try:
                response = self._stub.FetchResult(
                    pb.FetchResultRequest(task_id=task_id), metadata=self._reader, timeout=chunk
                )
                shm.unshare(response.outcome, self.limits.max_message_bytes, what)
                return response.outcome
            except grpc.RpcError as exc:
                if not _again(exc, deadline):
                    pause = down.again(exc, deadline)
                    if pause is None:
                        raise down.error(translate(exc, self.address, what)) from exc
                    time.sleep(pause)  # the server is reconnecting: try again shortly

    def renew_lease(self, timeout: float) -> pb.RenewLeaseResponse:
        """Renew a leased server's lease, in this thread; fails fast (no waiting for a connection)."""
        try:
            return self._stub.RenewLease(pb.RenewLeaseRequest(), metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise translate(exc, self.address, "renewing the server's lease") from exc

    def close(self) -> None:
        self._channel.close()


class ClientPool:
    """One client per (address, token, TLS settings) on one loop."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str | None, TLS | None], ServerClient] = {}

    def get(
        self,
        address: str,
        token: str | None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        tls: TLS | None = None,
    ) -> ServerClient:
        key = (address, token, tls)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = ServerClient(address, token, limits, timeouts, tls)
        return client

    def pop(self, address: str, token: str | None, tls: TLS | None = None) -> ServerClient | None:
        """Take a client out of the pool (the caller closes it)."""
        return self._clients.pop((address, token, tls), None)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
