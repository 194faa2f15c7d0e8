"""Outcomes of tasks on one server, delivered as they are ready.

One ``WatchResults`` stream per server: task ids go out as they are learnt,
outcomes come back as their replies finish. Drivers use it for their own
calls (so a placeholder turns done even if nobody reads it and no event feed
is followed), servers for the placeholders forwarded to them. A stream that
breaks is opened again and every id still waiting is sent again; a server
that stays unreachable for ``timeouts.reconnect`` seconds fails what waits on
it. Runs on (and only on) its loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc

from .._core._errors import AgentnbError, ServerUnavailableError
from .._proto import agentnb_pb2 as pb
from . import _shm as shm
from ._client import ServerClient, translate

log = logging.getLogger("agentnb")

#: Called with the task's result and the id of the server instance that answered.
Delivery = Callable[[pb.TaskResult, str], None]
#: Called with the error that ends a wait when the server cannot be reached.
Failure = Callable[[AgentnbError], None]

_CHUNK = 10_000  # ids per request message


class ResultWatch:
    def __init__(
        self,
        client: ServerClient,
        describe: Callable[[AgentnbError], AgentnbError] | None = None,
        inline_limit: int = 0,
    ) -> None:
        """Args:
        client: the server's client.
        describe: adds what is known about a server that cannot be reached.
        inline_limit: replies bigger than this come withheld (0: always whole).
        """
        self._client = client
        self._inline = inline_limit
        self._describe = describe or (lambda exc: exc)
        self._waiting: dict[str, list[tuple[Delivery, Failure]]] = {}
        self._unsent: list[str] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def watch(self, task_id: str, deliver: Delivery, fail: Failure) -> None:
        """Deliver the outcome of ``task_id`` once it is ready (call on the loop)."""
        waiting = self._waiting.get(task_id)
        if waiting is not None:
            waiting.append((deliver, fail))
            return
        self._waiting[task_id] = [(deliver, fail)]
        self._unsent.append(task_id)
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def fail_all(self, error: AgentnbError) -> None:
        waiting, self._waiting, self._unsent = self._waiting, {}, []
        for callbacks in waiting.values():
            for _, fail in callbacks:
                _guard(fail, error)

    async def _run(self) -> None:
        backoff, down_since = 0.1, 0.0
        while self._waiting:
            call = self._client.watch()
            self._unsent = list(self._waiting)
            writer = asyncio.get_running_loop().create_task(self._write(call))
            dropped = False
            try:
                async for response in call:
                    backoff, down_since = 0.1, 0.0
                    for result in response.results:
                        self._deliver(result, response.server_id)
                    if not self._waiting:
                        break
                else:
                    dropped = True  # the server ended the stream (it is stopping)
            except grpc.RpcError as exc:
                error = translate(exc, self._client.address, "waiting for results")
                if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    self.fail_all(error)
                    return
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > self._client.timeouts.reconnect:
                    self.fail_all(self._describe(_unreachable(error, self._client.timeouts.reconnect)))
                    return
                log.debug("result stream of %s dropped (%s); opening it again", self._client.address, exc)
                dropped = True
            finally:
                writer.cancel()
                call.cancel()
            if dropped and self._waiting:
                self.reconnects += 1
                await asyncio.sleep(backoff)
                backoff = min(1.0, backoff * 2)

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        assert self._wake is not None
        while True:
            if not self._unsent:
                self._wake.clear()
                await self._wake.wait()
            ids, self._unsent = self._unsent, []
            for i in range(0, len(ids), _CHUNK):
                await call.write(
                    pb.WatchResultsRequest(task_ids=ids[i : i + _CHUNK], inline_limit=self._inline)
                )

    def _deliver(self, result: pb.TaskResult, server_id: str) -> None:
        if result.HasField("outcome") and result.outcome.HasField("shared"):  # from a server of this host
            try:
                shm.unshare(result.outcome, self._client.limits.max_message_bytes, "a reply")
            except AgentnbError as exc:
                result.ClearField("outcome")
                result.status.code, result.status.message = (
                    grpc.StatusCode.INVALID_ARGUMENT.value[0],
                    str(exc),
                )
        for deliver, _ in self._waiting.pop(result.task_id, ()):
            _guard(deliver, result, server_id)


def _unreachable(error: AgentnbError, seconds: float) -> AgentnbError:
    if isinstance(error, ServerUnavailableError):
        return ServerUnavailableError(f"{error} (unreachable for {seconds:.0f} s)")
    return error


def _guard(fn: Callable[..., None], *args: object) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - one bad callback must not stop the stream
        log.exception("agentnb: delivering a result failed")
