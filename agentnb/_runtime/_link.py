"""The driver's link to one agent server: who it is, its clients, its outbox and its results.

A link ties together what one server needs on this side: the async client (on
the loop thread), the outbox that sends operations in order (:mod:`._outbox`),
and the result stream and direct sends (:mod:`._results`). It is the
:class:`._calls.CallLink` its calls talk to, and it says what is known when
something fails: why an agent is missing, how a server this driver launched
exited (which fails everything that waits on it at once).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._core._address import is_loopback, local_ip_towards
from .._core._config import Limits, Timeouts
from .._core._errors import (
    AgentnbError,
    AgentNotFoundError,
    CallCancelledError,
    CallTimeoutError,
    ServerUnavailableError,
)
from .._core._tls import TLS
from .._proto import agentnb_pb2 as pb
from . import _local as local
from . import _shm as shm
from ._calls import Call
from ._client import ServerClient
from ._loop import LoopThread
from ._outbox import Outbox, Pending, for_agent
from ._output import OutputLedger, WhenDone
from ._results import Results

if TYPE_CHECKING:
    from ._process import ServerProcess

T = TypeVar("T")


class SessionPort(Protocol):
    """What a link needs of its session (``Session`` implements it)."""

    loop: LoopThread

    def made(self, call: Call) -> None: ...

    def remember_origin(self, task_id: str, origin: Any) -> None: ...

    def remember_key(self, key: str, task_id: str) -> None: ...

    def show_output(self, task_id: str, agent: str, address: str, outcome: pb.Outcome) -> None: ...

    def feed_state(self, task_id: str) -> str | None: ...

    def server_unreachable(self, address: str, error: AgentnbError) -> None: ...

    @property
    def output(self) -> OutputLedger: ...


class ServerLink:
    def __init__(
        self,
        session: SessionPort,
        address: str,
        token: str | None,
        limits: Limits,
        timeouts: Timeouts,
        server: ServerProcess | None = None,
        tls: TLS | None = None,
        unix: str = "",
    ) -> None:
        self._session = session
        self.loop = session.loop
        self.address = address
        self.host = address.rsplit(":", 1)[0].strip("[]")
        self.loopback = is_loopback(self.host)
        self.token = token
        self.limits = limits
        self.timeouts = timeouts
        self.server = server
        self.tls = tls  # the channel to the server uses TLS, trusting this CA
        #: What channels dial: the server's Unix socket when it is on this machine, else address.
        self.target = f"unix:{unix}" if unix and tls is None else address
        self.server_id = ""
        self.defined: set[str] = set()  # classes shipped to this server
        self._lock = threading.Lock()
        self._client: ServerClient | None = None
        self._gone: AgentnbError | None = None
        self.closing = False  # this session is stopping the server or the link
        self.followed = False  # the session follows its event feed
        #: Where following its feed starts: a server this session did not launch is followed
        #: from the first contact on (its earlier events are other drivers'), ours from the start.
        self.events_from: tuple[int, str] = (0, "")
        self.accepts_code: bool | None = True if server is not None else None
        #: The server finds calls by key ("call_key_refs"): a server this session launched
        #: runs this code; another says so in GetServerInfo (until asked: no).
        self.keyed_refs = server is not None
        #: The server, if it runs in this process (its own agents call each other in-process).
        self.local = local.lookup(address)
        #: The server shares this host's shared memory (it was launched here, or says so): big
        #: operations and outcomes travel through it (see ``_shm``).
        self.shared = server is not None and bool(shm.domain())
        self.outbox = Outbox(self, session.made)
        self.results = Results(self)
        if server is not None:
            server.on_exit(lambda: self.loop.call_soon(self._server_exited))

    @property
    def gone(self) -> bool:
        """The link is closed, or the server this session launched for it exited."""
        return self.closing or self._gone is not None

    def gone_error(self) -> AgentnbError | None:
        if self._gone is not None:
            return self._gone
        if self.closing:
            return ServerUnavailableError(f"the session closed its link to {self.address}")
        return None

    # -- clients -----------------------------------------------------------------------

    @property
    def client(self) -> ServerClient:
        """The async client (on the loop thread only)."""
        if self._client is None:
            self._client = ServerClient(
                self.address, self.token, self.limits, self.timeouts, self.tls, self.target
            )
            self._client.shared = self.shared
        return self._client

    def info(self) -> pb.GetServerInfoResponse:
        """Ask the server about itself (blocking; not on the loop thread)."""
        if self.local is not None:
            response = self.local.info()
        else:
            response = self._run(lambda: self.client.info(first=True))
        self.accepts_code, self.server_id = response.accepts_code, response.server_id
        self.keyed_refs = "call_key_refs" in response.features
        self.shared = bool(response.shm_domain) and response.shm_domain == shm.domain()
        if self._client is not None:
            self._client.shared = self.shared
        if not self.followed and self.server is None:
            self.events_from = (int(response.event_seq), response.server_id)
        return response

    async def submit(self, ops: list[bytes], what: str) -> pb.SubmitResponse:
        """Send a batch of serialized operations (on the loop)."""
        if self.local is not None:
            return self.local.submit(ops)
        return await self.client.submit(ops, what)

    def _cancel(self, request: pb.CancelRequest) -> pb.CancelResponse:
        if self.local is not None:
            return self.local.cancel(request)
        return self._run(lambda: self.client.cancel(request))

    def acknowledged(self, server_id: str) -> None:
        """The server answered a batch (as ``server_id``)."""
        self.server_id = server_id

    def _run(self, rpc: Callable[[], Awaitable[T]]) -> T:
        """Run one RPC of the async client on the loop and wait for it (bounded)."""

        async def run() -> T:
            return await rpc()

        return self.loop.run(run(), self.timeouts.control + self.timeouts.reconnect)

    # -- operations ----------------------------------------------------------------------

    def put(self, item: Pending) -> None:
        """Queue an operation (any thread); it is sent within a few milliseconds."""
        self.outbox.put(item)

    def cancel(self, call: Call) -> bool:
        """Withdraw a call that has not started: from the outbox, or from the agent's mailbox."""
        taken = self.outbox.withdraw(lambda item: item.call is call)
        if taken:
            call.fail(
                CallCancelledError(f"the call to agent {call.agent!r} was cancelled before it was sent")
            )
            return True
        if call.resolved:
            return False
        call.acked_or_wait(self.timeouts.control)
        if not call.task_id:
            return False
        response = self._cancel(pb.CancelRequest(task_ids=[call.task_id]))
        self.results.until_delivered(response.cancelled)
        return call.task_id in response.cancelled or call.task_id in response.stopping

    def cancel_agent(self, agent: str) -> int:
        """Withdraw every call to ``agent`` that has not started; returns how many."""
        taken = self.outbox.withdraw(lambda item: item.agent == agent)
        for call in taken:
            call.fail(CallCancelledError(f"the call to agent {agent!r} was cancelled before it was sent"))
        response = self._cancel(pb.CancelRequest(agent=agent))
        self.results.until_delivered(response.cancelled)
        return len(taken) + len(response.cancelled)

    def watch_outcome(self, task_id: str, agent: str, on_outcome: Callable[[pb.Outcome], None]) -> None:
        """See :meth:`._results.Results.watch_outcome`."""
        self.results.watch_outcome(task_id, agent, on_outcome)

    # -- what a call asks (CallLink) ------------------------------------------------------------

    def steal(self, call: Call) -> bool:
        return self.outbox.steal(call)

    def send_now(self, call: Call, wait: float) -> pb.CallResponse:
        try:
            return self.results.send_now(self.outbox.encode_call(call), wait)
        except AgentnbError as exc:
            if self._gone is not None:  # declared lost while the call was on its way
                raise for_agent(self._gone, call.agent) from None
            if not isinstance(exc, CallTimeoutError):
                raise
            self._requeue(call)
            raise
        except KeyboardInterrupt:
            self._requeue(call)
            raise

    def _requeue(self, call: Call) -> None:
        """Still running past the reader's deadline, or the reader stopped waiting: the outbox
        asks again (same key, so it is not queued twice) for its task id and watches it."""
        call.requeued()
        self.outbox.put(Pending(call.agent, call=call))

    def fetch_now(self, call: Call, timeout: float | None) -> pb.Outcome:
        return self.results.fetch_now(call, timeout)

    def fetch_soon(self, call: Call) -> None:
        self.results.fetch_soon(call)

    def flush_soon(self) -> None:
        self.outbox.flush_soon()

    def watch(self, call: Call) -> None:
        if self.loop.in_loop_thread():
            self.results.watch(call)
        else:
            self.loop.call_soon(self.results.watch, call)

    def release(self, task_id: str, big: bool = False) -> None:
        if task_id and not self.gone:
            if big:
                self.outbox.release_now(task_id)
            else:
                self.outbox.release(task_id)

    def show_output(self, task_id: str, agent: str, outcome: pb.Outcome) -> None:
        self._session.show_output(task_id, agent, self.address, outcome)

    def remember_origin(self, task_id: str, origin: Any) -> None:
        self._session.remember_origin(task_id, origin)

    def remember_key(self, key: str, task_id: str) -> None:
        self._session.remember_key(key, task_id)

    def feed_state(self, task_id: str) -> str | None:
        return self._session.feed_state(task_id)

    def unreachable(self, error: AgentnbError) -> None:
        """The server was unreachable too long for the calls waiting on it (they failed)."""
        self._session.server_unreachable(self.address, error)

    def output_after(self, task_id: str, producers: Sequence[WhenDone]) -> None:
        self._session.output.after(task_id, producers)

    def later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self.loop.call_soon(lambda: asyncio.get_running_loop().call_later(delay, fn, *args))

    def route(self, producer: Call) -> str | None:
        link = producer.link
        if not isinstance(link, ServerLink):  # made in this process (an in-process mesh call): relay it
            return None
        return route_address(link, self)

    # -- failures --------------------------------------------------------------------------

    def explain(self, error: AgentnbError, agent: str = "") -> AgentnbError:
        """Add what is known: why an agent is missing, how a server this driver launched exited,
        why a lost server is gone."""
        if isinstance(error, AgentNotFoundError) and agent in self.outbox.not_created:
            return self.outbox.not_created[agent]
        if self._gone is not None and isinstance(error, ServerUnavailableError):
            return for_agent(self._gone, agent) if agent else self._gone
        server = self.server
        if server is None or not isinstance(error, ServerUnavailableError) or not server.exited.is_set():
            return error
        return ServerUnavailableError(f"{error}; {server.describe_exit()}")

    async def explain_async(self, error: AgentnbError) -> AgentnbError:
        server = self.server
        if server is not None and isinstance(error, ServerUnavailableError):
            await asyncio.get_running_loop().run_in_executor(None, server.exited.wait, 2.0)
        return self.explain(error)

    def _server_exited(self) -> None:
        """The server process this driver launched exited: fail everything that waits on it."""
        assert self.server is not None
        exited = self.server.describe_exit()
        self._lost(ServerUnavailableError(f"the agent server at {self.address} is gone: {exited}"))

    def server_lost(self, error: AgentnbError) -> None:
        """The server is gone, for the reason ``error`` gives (an engine said its worker died):
        fail everything that waits on it, now and later, with that error (any thread)."""
        self.loop.call_soon(self._lost, error)

    def _lost(self, error: AgentnbError) -> None:
        if self._gone is not None:
            return
        self._gone = error
        self.results.fail_all(error)
        self.outbox.fail_all(error)
        self.results.close_sync()  # calls on their way from readers' threads end now, not at their deadline

    def close_sync(self) -> None:
        self.results.close_sync()

    async def close(self) -> None:
        self.results.close_sync()
        self.results.fail_all(ServerUnavailableError(f"the session closed its link to {self.address}"))
        if self._client is not None:
            await self._client.close()


def route_address(producer: ServerLink, consumer: ServerLink) -> str | None:
    """How ``consumer``'s server reaches ``producer``'s: "" (the same server), an address,
    or None when it cannot (a loopback-only server, seen from another host; one of the
    two uses TLS and the other does not): then the driver relays the value itself."""
    if producer is consumer or (producer.server_id and producer.server_id == consumer.server_id):
        return ""
    if (producer.tls is None) != (consumer.tls is None):
        return None
    if consumer.loopback or not producer.loopback:
        return producer.address
    server = producer.server
    if server is not None and server.bind[0] in ("0.0.0.0", "::"):
        ip = local_ip_towards(consumer.host)
        if ip is not None:
            return f"{ip}:{producer.address.rsplit(':', 1)[1]}"
    return None
