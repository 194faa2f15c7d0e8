"""``DistributedAgent``: an agent living in a server process, called from here."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from ._address import host_port, is_loopback
from ._agent import AgentBase
from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._context import current_task
from ._errors import (
    AgentExistsError,
    AgentNotFoundError,
    MessageError,
    RemoteError,
    ServerUnavailableError,
)
from ._message import Msg
from ._placeholder import Placeholder
from ._runtime._client import ServerClient
from ._runtime._codec import Ref, call_request, encode_inputs, input_label, observe_request
from ._runtime._process import ServerProcess
from ._runtime._recipe import agent_spec, fingerprint
from ._runtime._session import Session, get_session
from ._token import TOKEN_ENV, new_token

log = logging.getLogger("agentnb")

#: How long a call waits before the loop sends it. A placeholder read within
#: this window is sent by the reading thread with its reply in the same round
#: trip (``Placeholder.result``); a call nobody reads goes out after it.
SEND_WINDOW = 0.0005


@dataclass(frozen=True)
class DistOptions:
    """The arguments of ``to_dist``, checked once."""

    host: str
    port: int | None
    launch_server: bool
    local_mode: bool
    lazy_launch: bool
    token: str | None
    timeouts: Timeouts
    limits: Limits

    @classmethod
    def build(
        cls,
        host: str,
        port: int | None,
        launch_server: bool,
        local_mode: bool,
        lazy_launch: bool,
        token: str | None,
        timeouts: Timeouts | None,
        limits: Limits | None,
    ) -> DistOptions:
        if port is not None and not (0 < int(port) < 65536):
            raise ValueError(f"port must be in 1..65535 (or None for a free port), got {port}")
        if not launch_server and port is None:
            raise ValueError(
                "to_dist(launch_server=False) attaches to a running server: pass its port "
                "(e.g. the launcher's port=12001)"
            )
        if launch_server and local_mode and not is_loopback(host):
            raise ValueError(
                f"host {host!r} is not a loopback address, but local_mode=True keeps the server "
                "on loopback; pass local_mode=False to listen on all interfaces"
            )
        return cls(
            host,
            port,
            launch_server,
            local_mode,
            lazy_launch,
            token,
            timeouts or DEFAULT_TIMEOUTS,
            limits or DEFAULT_LIMITS,
        )


class DistributedAgent:
    """An agent in a server process. Calling it returns a :class:`Placeholder` at once.

    Calls to one agent are delivered in the order they were made, and its
    server runs them one at a time in that order (the actor guarantee).
    """

    def __init__(self, agent: AgentBase, options: DistOptions, session: Session) -> None:
        self.name = agent.name
        self.class_name = type(agent).__qualname__
        self._agent = agent
        self._options = options
        self._session = session
        self._start_lock = threading.Lock()
        self.address = ""
        self._token: str | None = None
        self.server: ServerProcess | None = None
        self._fingerprint = fingerprint(agent)
        self._key: tuple[Any, ...] = ()
        self._chain_lock = threading.Lock()
        self._last_ack: concurrent.futures.Future[None] | None = None

    @classmethod
    def create(cls, agent: AgentBase, options: DistOptions, fresh: bool = False) -> DistributedAgent:
        """The distributed version of ``agent``, reusing this session's live one if it can.

        Same class, name and address as a live agent of this session (a
        re-run notebook cell): that agent is returned, its state kept. If the
        class code or constructor arguments changed, the live agent is rebuilt
        in place (its state starts over) and a one-line notice says so.
        ``fresh=True`` stops the live one and starts anew.
        """
        session = get_session()
        if "ipykernel" in sys.modules:  # in a Jupyter kernel: cells get their output
            from .notebook._kernel import activate

            activate(session)
        kind = type(agent)
        key = (kind.__module__, kind.__qualname__, agent.name, options.host, options.port,
               options.launch_server, options.local_mode)  # fmt: skip
        with session.registry_lock:
            live = session.registry.get(key)
            if live is not None and (fresh or not live.alive()):
                session.registry.pop(key)
                if fresh:
                    live.stop()
                live = None
            if live is None:
                dist = session.registry[key] = cls(agent, options, session)
                dist._key = key
        if live is not None:
            live._adopt(agent)
            return live
        if not options.lazy_launch:
            try:
                dist._ensure_started()
            except BaseException:
                session.registry.pop(key, None)
                raise
        return dist

    def alive(self) -> bool:
        """False once the server this session launched for it has exited (never blocks)."""
        return self.server is None or not self.server.exited.is_set()

    def _adopt(self, agent: AgentBase) -> None:
        """A re-run ``to_dist``: keep the live agent, rebuilding it if its code or arguments changed."""
        new = fingerprint(agent)
        if new == self._fingerprint:
            log.info("reattached to the live agent %r on %s", self.name, self.address or "(lazy)")
            return
        code_changed = new.split(":")[0] != self._fingerprint.split(":")[0]
        self._agent, self._fingerprint = agent, new
        self.class_name = type(agent).__qualname__
        if not self.address:
            return  # lazy and not started: it will start with the new code
        opts = self._options

        self._session.run(
            self._create_remote(self.address, self._token, self.server is not None, True),
            opts.timeouts.control,
        )
        what = "the new code of its class" if code_changed else "new constructor arguments"
        notice(f"agentnb: rebuilt agent {self.name!r} on {self.address} with {what} (its state starts over)")

    def _shares(self, server: ServerProcess) -> bool:
        """Whether another live agent of this session uses ``server``."""
        with self._session.registry_lock:
            return any(d.server is server for d in self._session.registry.values() if d is not self)

    def stop(self) -> None:
        """Delete the agent from its server; stop the server if this session launched it for it alone."""
        session = self._session
        with session.registry_lock:
            if session.registry.get(self._key) is self:
                session.registry.pop(self._key)
        if not self.address:
            return
        if self.server is not None and not self._shares(self.server):
            session.stop_server(self.server)
        elif self.alive():
            try:
                session.run(self._client().delete_agent(self.name), self._options.timeouts.control)
            except AgentNotFoundError:
                pass

    # -- start ---------------------------------------------------------------

    def _ensure_started(self) -> None:
        with self._start_lock:
            if not self.address:
                self._start()

    def _start(self) -> None:
        opts, session = self._options, self._session
        token: str | None
        if opts.launch_server:
            bind = "127.0.0.1" if opts.host == "localhost" else opts.host
            if not opts.local_mode:
                bind = "0.0.0.0"
            advertise = "127.0.0.1" if opts.host in ("localhost", "0.0.0.0") else opts.host
            server = session.launch(bind, opts.port, advertise, new_token(), opts.limits, opts.timeouts)
            address, token = server.address, server.token
        else:
            assert opts.port is not None
            server = None
            address = host_port(opts.host, opts.port)
            token = opts.token or os.environ.get(TOKEN_ENV) or None

        try:
            response = session.run(
                self._create_remote(address, token, server is not None, False), opts.timeouts.control
            )
        except BaseException:
            if server is not None and not self._shares(server):
                session.stop_server(server)  # launched for this agent alone: do not leave it behind
            raise
        if server is not None and not response.created:
            raise AgentExistsError(
                f"an agent named {self.name!r} already runs on the server at {address}; "
                "give this agent another name"
            )
        if not response.created:
            log.info("attached to the running agent %r on %s", self.name, address)
        self.address, self._token, self.server = address, token, server
        session.follow(address, token)

    async def _create_remote(self, address: str, token: str | None, launched: bool, replace: bool) -> Any:
        """Build the agent on its server (runs on the loop, which owns the channels): as code
        on servers this session launched (they accept it), else by a recipe the server accepts."""
        opts = self._options
        client = self._session.client(address, token, opts.limits, opts.timeouts)
        accepts_code = launched or (await client.info()).accepts_code
        return await client.create_agent(agent_spec(self._agent, address, accepts_code), replace=replace)

    def _client(self) -> ServerClient:
        opts = self._options
        return self._session.client(self.address, self._token, opts.limits, opts.timeouts)

    # -- calls ---------------------------------------------------------------

    def __call__(self, x: Any = None) -> Placeholder:
        """Send ``x`` (a Msg, a placeholder, a list of them, or None); returns at once."""
        self._ensure_started()
        shape, inputs = self._inputs(x)
        request = call_request(self.name, uuid.uuid4().hex, _caller(), shape, inputs)
        placeholder = Placeholder(self, request)
        self._session.remember_origin(request.task_id)
        with self._chain_lock:  # calls reach the server in the order they were made here
            placeholder._prev, self._last_ack = self._last_ack, placeholder._ack
        loop = self._session.loop.loop
        loop.call_soon_threadsafe(loop.call_later, SEND_WINDOW, self._start_send, placeholder)
        return placeholder

    def _start_send(self, placeholder: Placeholder) -> None:
        if not placeholder._sent:  # else a reader sent it already, in one round trip
            asyncio.ensure_future(self._send(placeholder))

    def observe(self, x: Any) -> None:
        """Add messages to the remote agent's memory (in mailbox order)."""
        self._ensure_started()
        request = observe_request(self.name, self._inputs(x)[1])
        ack: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._chain_lock:
            prev, self._last_ack = self._last_ack, ack

        async def send() -> None:
            await _after(prev)
            try:
                await self._client().observe(request)
            finally:
                ack.set_result(None)

        self._session.run(send(), self._options.timeouts.control)

    def _inputs(self, x: Any) -> tuple[str, list[Any]]:
        """How ``reply`` receives ``x`` ("none", "one" or "list") and the encoded inputs."""
        if x is None:
            return "none", []
        items = list(x) if isinstance(x, (list, tuple)) else [x]
        parts: list[Msg | Ref] = []
        for i, item in enumerate(items):
            if isinstance(item, Placeholder):
                parts.append(item._ref())
            elif isinstance(item, Msg):
                parts.append(item)
            else:
                where = input_label(i, len(items), self.name)
                raise MessageError(
                    f"{where} is a {type(item).__name__}; pass a Msg, a placeholder, a list of them, or None"
                )
        shape = "list" if isinstance(x, (list, tuple)) else "one"
        return shape, encode_inputs(parts, self._options.limits.max_message_bytes, self.name)

    async def _send(self, placeholder: Placeholder) -> None:
        """Send a call from the loop, after the previous call to this agent was acknowledged."""
        await _after(placeholder._prev)
        if not placeholder._claim_send():
            return  # the reader sent it already, in one round trip
        try:
            await self._client().call(placeholder._request)
        except BaseException as exc:
            placeholder._ack.set_exception(exc)
        else:
            placeholder._ack.set_result(None)

    def call_and_wait(self, request: Any, wait: float) -> Msg | RemoteError | None:
        """Send a call from the caller's thread and wait for its outcome (one round trip)."""
        opts = self._options
        client = self._session.sync_client(self.address, self._token, opts.limits, opts.timeouts)
        return client.call_and_wait(request, wait)

    async def fetch(
        self, task_id: str, ack: concurrent.futures.Future[None], timeout: float | None = None
    ) -> Msg:
        """The outcome of one of this agent's calls (runs on the loop)."""
        try:
            fetching = asyncio.ensure_future(self._client().fetch(task_id, self.name, timeout))
            try:
                await asyncio.wrap_future(ack)
            except BaseException:
                fetching.cancel()
                raise
            outcome = await fetching
        except ServerUnavailableError as exc:
            raise await self.explain(exc) from exc
        if isinstance(outcome, RemoteError):
            raise outcome
        return outcome

    async def explain(self, exc: ServerUnavailableError) -> ServerUnavailableError:
        """Add what happened to the server process, if this session launched it."""
        server = self.server
        if server is None:
            return exc
        await asyncio.get_running_loop().run_in_executor(None, server.exited.wait, 2.0)
        return ServerUnavailableError(f"agent {self.name!r}: {exc}; {server.describe_exit()}")

    def _repr_html_(self) -> str:
        from .notebook._reprs import agent_html

        return agent_html(self)

    def __repr__(self) -> str:
        where = self.address or ("not started (lazy_launch)" if self._options.lazy_launch else "starting")
        return f"<DistributedAgent {self.name!r} ({self.class_name}) on {where}>"


async def _after(prev: concurrent.futures.Future[None] | None) -> None:
    """Wait until the previous call to the same agent was acknowledged (or failed)."""
    if prev is not None and not prev.done():
        await asyncio.wait([asyncio.wrap_future(prev)])


def notice(text: str) -> None:
    """A one-line notice for the user (shown in the notebook cell that caused it)."""
    print(text, file=sys.stdout, flush=True)


def _caller() -> str:
    task = current_task()
    return task.agent if task is not None else "driver"
