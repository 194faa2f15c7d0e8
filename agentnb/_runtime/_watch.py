"""Outcomes of tasks on one server, delivered as they are ready.

One ``WatchResults`` stream per server: task ids go out as they are learnt,
outcomes come back as their replies finish. Drivers use it for their own
calls (so a placeholder turns done even if nobody reads it and no event feed
is followed), servers for the placeholders forwarded to them. A stream that
breaks is opened again and every id still waiting is sent again.

A server's health bounds every wait on it. A server answers a stream that
waits with a heartbeat (an empty response) every ``HEARTBEAT_S`` seconds, so
silence means trouble even when no error arrives (a cut link never sends
one). The watch is *in trouble* from its first refused or broken connection,
or ``DOUBT_S`` seconds of silence, until the server answers again; each
waiter given a ``doubt`` callback learns of it at once, so a server's agents
can stop waiting in line for inputs that may never come. A server unreachable, or silent, for
``timeouts.reconnect`` seconds fails everything that waits on it, with an
error that says which server and what happened (nothing listens there any
more, or no word from it). Runs on (and only on) its loop.
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
#: Called when the server falls into trouble while the outcome is awaited (it may still come).
Doubt = Callable[[], None]

_CHUNK = 10_000  # ids per request message
KEY = "key:"  # a wait for a call key, among the waits for task ids
#: A server sends an empty response this often on a stream that waits (see the servicer).
HEARTBEAT_S = 1.0
#: Silence for this long puts a watch in trouble (its waiters are told; nothing fails yet).
DOUBT_S = 2.5


class ResultWatch:
    def __init__(
        self,
        client: ServerClient,
        describe: Callable[[AgentnbError], AgentnbError] | None = None,
        inline_limit: int = 0,
        on_lost: Callable[[AgentnbError], None] | None = None,
        gather_ms: int = 0,
    ) -> None:
        """Args:
        client: the server's client.
        describe: adds what is known about a server that cannot be reached.
        inline_limit: replies bigger than this come withheld (0: always whole).
        on_lost: told (after the waiters) when the server was unreachable too long.
        gather_ms: let the server send at most one response per this many milliseconds
            (a watcher off the critical path; see ``WatchResultsRequest.gather_ms``).
        """
        self._client = client
        self._inline = inline_limit
        self._gather = gather_ms
        self._describe = describe or (lambda exc: exc)
        self._on_lost = on_lost
        self._waiting: dict[str, list[tuple[Delivery, Failure, Doubt | None]]] = {}
        self._unsent: list[str] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0
        #: The server refused or broke the connection, or went silent, and has not answered since.
        self.troubled = False

    def __len__(self) -> int:
        return len(self._waiting)

    def watch(
        self, task_id: str, deliver: Delivery, fail: Failure, doubt: Doubt | None = None, key: str = ""
    ) -> None:
        """Deliver the outcome of ``task_id`` once it is ready (call on the loop); ``doubt`` is
        called when the server falls into trouble meanwhile (at once if it is). With ``key``
        (``task_id`` empty): of the task the call with that call key makes (see
        ``TaskRef.call_key``), which may not have reached the server yet."""
        if doubt is not None and self.troubled:
            _guard(doubt)
        slot = KEY + key if key else task_id
        waiting = self._waiting.get(slot)
        if waiting is not None:
            waiting.append((deliver, fail, doubt))
            return
        self._waiting[slot] = [(deliver, fail, doubt)]
        self._unsent.append(slot)
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _trouble(self) -> None:
        if self.troubled:
            return
        self.troubled = True
        for callbacks in list(self._waiting.values()):
            for _, _, doubt in callbacks:
                if doubt is not None:
                    _guard(doubt)

    def fail_all(self, error: AgentnbError) -> None:
        waiting, self._waiting, self._unsent = self._waiting, {}, []
        for callbacks in waiting.values():
            for _, fail, _ in callbacks:
                _guard(fail, error)

    async def _run(self) -> None:
        backoff, down_since = 0.1, 0.0
        last: grpc.RpcError | None = None  # what the server's absence last looked like
        reconnect = self._client.timeouts.reconnect
        while self._waiting:
            call = self._client.watch()
            heard = time.monotonic()  # the server's last word (or this stream's start)
            self._unsent = list(self._waiting)
            writer = asyncio.get_running_loop().create_task(self._write(call))
            dropped = False
            try:
                while True:
                    response = await self._read(call, down_since)
                    if response is grpc.aio.EOF:
                        dropped = True  # the server ended the stream (it is stopping)
                        break
                    backoff, down_since, last, self.troubled = 0.1, 0.0, None, False
                    heard = time.monotonic()
                    for result in response.results:
                        self._deliver(result, response.server_id)
                    if not self._waiting:
                        break
            except _Silent as silent:
                if last is not None:  # it went, and has not come back
                    error = translate(last, self._client.address, "waiting for results")
                    self._lost(_unreachable(error, last, silent.seconds, self._client.address))
                else:
                    self._lost(ServerUnavailableError(
                        f"no word from the agent server at {self._client.address} for "
                        f"{silent.seconds:.0f} s (the network to it is down, or its host is): "
                        "it is unreachable"
                    ))  # fmt: skip
                return
            except grpc.RpcError as exc:
                error = translate(exc, self._client.address, "waiting for results")
                if exc.code() not in _DROPPED:
                    self.fail_all(error)
                    return
                self._trouble()
                last = exc
                # gone since its last word: a cut link errs only when TCP gives up, seconds later
                down_since = down_since or heard
                if time.monotonic() - down_since > reconnect:
                    self._lost(_unreachable(error, exc, reconnect, self._client.address))
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

    def _lost(self, error: AgentnbError) -> None:
        self.fail_all(self._describe(error))
        if self._on_lost is not None:
            _guard(self._on_lost, error)

    async def _read(self, call: grpc.aio.StreamStreamCall, down_since: float) -> pb.WatchResultsResponse:
        """The next response; raises ``_Silent`` when the server said nothing for too long
        (counted from ``down_since`` when the stream was opened again after a failure)."""
        reconnect = self._client.timeouts.reconnect
        read = asyncio.ensure_future(call.read())
        quiet_since = down_since or time.monotonic()
        try:
            while True:
                silent = time.monotonic() - quiet_since
                timeout = DOUBT_S - silent if silent < DOUBT_S else reconnect - silent
                done, _ = await asyncio.wait((read,), timeout=max(0.0, timeout))
                if done:
                    return read.result()
                silent = time.monotonic() - quiet_since
                if silent >= reconnect:
                    raise _Silent(silent)
                self._trouble()
        finally:
            if not read.done():
                read.cancel()

    async def _write(self, call: grpc.aio.StreamStreamCall) -> None:
        assert self._wake is not None
        while True:
            if not self._unsent:
                self._wake.clear()
                await self._wake.wait()
            slots, self._unsent = self._unsent, []
            for i in range(0, len(slots), _CHUNK):
                ids = [s for s in slots[i : i + _CHUNK] if not s.startswith(KEY)]
                keys = [s[len(KEY) :] for s in slots[i : i + _CHUNK] if s.startswith(KEY)]
                request = pb.WatchResultsRequest(
                    task_ids=ids, call_keys=keys, inline_limit=self._inline, gather_ms=self._gather
                )
                await call.write(request)

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
        slot = KEY + result.call_key if result.call_key else result.task_id
        for deliver, _, _ in self._waiting.pop(slot, ()):
            _guard(deliver, result, server_id)


#: How a stream that broke under a server going away (or restarting) ends: open it again.
#: INTERNAL ("Internal error from Core") is what a stream opened as a launcher restarts may get.
_DROPPED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL)


class _Silent(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


def _unreachable(error: AgentnbError, exc: grpc.RpcError, seconds: float, address: str) -> AgentnbError:
    """The error for a server gone for ``seconds``: refused (nothing listens) or unreachable."""
    if not isinstance(error, ServerUnavailableError):
        return error
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    if "refused" in details.lower() or "no such file" in details.lower():
        return ServerUnavailableError(
            f"the agent server at {address} has refused connections for {seconds:.0f} s: nothing "
            "listens there any more (the server was stopped or killed); make the agent again to go on"
        )
    return ServerUnavailableError(f"{error} (unreachable for {seconds:.0f} s)")


def _guard(fn: Callable[..., None], *args: object) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - one bad callback must not stop the stream
        log.exception("agentnb: delivering a result failed")
