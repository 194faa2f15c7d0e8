"""This server, offered in-process to its own agents (see :mod:`agentnb._runtime._local`).

An agent that calls another agent of its server reaches it through the same
servicer as a gRPC client would, so calls keep their mailbox order, their
events and their limits, without a socket, HTTP/2 or a thread hop: a call
read at once runs in the calling thread when its agent is idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

import grpc

from .._core._errors import AgentnbError
from .._proto import agentnb_pb2 as pb
from .._runtime import _wire as wire
from .._runtime._client import REASON_KEY, error_for
from .._runtime._local import Delivery
from ._servicer import ServerFacts, Servicer, _refusal
from ._watches import task_result


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str, reason: str) -> None:
        super().__init__(code, details, reason)
        self.code, self.details, self.reason = code, details, reason


class _Context:
    """What the servicer asks of an RPC's context, for a call from this process."""

    def __init__(self, timeout: float | None = None) -> None:
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._reason = ""

    def peer(self) -> str:
        return "in-process"

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return True  # this "RPC" never ends under the servicer: nothing to call back

    def is_active(self) -> bool:
        return True

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._reason = dict(metadata).get(REASON_KEY, "")

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise _Aborted(code, details, self._reason)


class InProcess:
    """The servicer of this server, called directly (``LocalServer``)."""

    def __init__(self, servicer: Servicer, facts: ServerFacts) -> None:
        self._servicer = servicer
        self.address = facts.address
        self.server_id = facts.server_id

    def _run(self, what: str, rpc: Callable[[_Context], Any], timeout: float | None = None) -> Any:
        try:
            return rpc(_Context(timeout))
        except _Aborted as exc:
            raise error_for(exc.code, exc.details, exc.reason, f"{what} on {self.address}") from None

    def info(self) -> pb.GetServerInfoResponse:
        return self._run(
            "asking for server info", lambda c: self._servicer.GetServerInfo(pb.GetServerInfoRequest(), c)
        )

    def submit(self, ops: list[bytes]) -> pb.SubmitResponse:
        request = pb.SubmitRequest.FromString(b"".join(wire.field(1, op) for op in ops))
        response: pb.SubmitResponse = self._run(
            "sending operations", lambda c: self._servicer.Submit(request, c)
        )
        return response

    def call(self, request: pb.CallRequest, wait: float) -> pb.CallResponse:
        request.wait_ms = max(1, int(wait * 1000))
        try:
            data = self._run(
                f"calling agent {request.agent!r}", lambda c: self._servicer.Call(request, c), wait
            )
        finally:
            request.wait_ms = 0
        return pb.CallResponse.FromString(data)

    def fetch(self, task_id: str, agent: str, timeout: float | None) -> pb.Outcome:
        data = self._run(
            f"reading the reply of agent {agent!r}",
            lambda c: self._servicer.FetchResult(pb.FetchResultRequest(task_id=task_id), c),
            timeout,
        )
        return pb.FetchResultResponse.FromString(data).outcome

    def watch(self, task_id: str, deliver: Delivery, fail: Callable[[AgentnbError], None]) -> None:
        def done(entry: Any) -> None:
            deliver(pb.TaskResult.FromString(task_result(entry, 0)), self.server_id)

        try:
            self._run("waiting for a result", lambda c: self._servicer.watch_one(task_id, done, c))
        except AgentnbError as exc:
            fail(exc)

    def call_mesh(self, mesh: str, inputs: list[Any], shape: str, each: bool, caller: str) -> Any:
        try:
            return self._servicer.meshes.call_mesh(mesh, inputs, shape, each, caller)
        except Exception as exc:  # noqa: BLE001 - refusals become agentnb errors
            refusal = _refusal(exc)
            raise error_for(refusal.code, refusal.message, refusal.reason, f"calling mesh {mesh!r}") from None

    def cancel(self, request: pb.CancelRequest) -> pb.CancelResponse:
        response: pb.CancelResponse = self._run(
            "cancelling calls", lambda c: self._servicer.Cancel(request, c)
        )
        return response
