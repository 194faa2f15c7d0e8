"""One agent server: a gRPC server, its agents, its result store and its event feed.

gRPC's handler threads run the RPCs; replies run in an elastic pool of
worker threads (or inline, see :mod:`._host`). Nothing here needs an event
loop, so the same server runs as a process (``python -m agentnb.server``)
or in a launcher's threads inside someone else's program.
"""

from __future__ import annotations

import errno
import logging
import os
import pathlib
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc

from .._core import _connection as connection
from .._core._address import host_port, is_loopback
from .._core._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._core._errors import ServerLaunchError
from .._core._tls import TLS, warn_cleartext
from .._proto import agentnb_pb2 as pb
from .._runtime import _local as local
from .._runtime import _shm as shm
from .._runtime._channel import server_credentials, server_options
from .._runtime._recipe import Recipe, source_hash
from . import _debug, _output
from ._auth import TokenInterceptor
from ._console import Console
from ._events import EventBus
from ._handlers import add_servicer
from ._host import AgentHost
from ._lease import Lease
from ._local import InProcess
from ._recipes import RecipeError, Recipes, import_agent_class
from ._resolve import Resolver
from ._servicer import ServerFacts, Servicer
from ._store import ResultStore
from ._workers import ElasticPool

log = logging.getLogger("agentnb.server")

#: Threads that run gRPC handlers (more are made while some are stuck in inline replies).
HANDLER_THREADS = 256


@dataclass
class ServerConfig:
    """What a server needs to start.

    Attributes:
        host: the address to listen on ("0.0.0.0" for all interfaces).
        port: the port; 0 lets the OS pick one.
        token: the secret every RPC must carry.
        accepts_code: accept cloudpickled classes (only servers the driver
            launched itself, or launchers started with code explicitly allowed).
        advertise_host: the host others use to reach this server (default: host,
            or 127.0.0.1 when listening on all interfaces).
        limits: size and retention limits.
        timeouts: deadlines of the server's own calls (reading forwarded placeholders).
        agent_class: an agent to create at start (a class or "module:Class").
        agent_kwargs: its constructor's keyword arguments.
        allowed_modules: modules agent classes may be imported from (None: any).
        own_process: the server is the whole process (``python -m agentnb.server``),
            not a launcher's thread in someone else's program.
        trace: record events from the start (a launcher, or a server whose driver
            follows the feed); otherwise recording starts with the first subscriber.
        connection_file: write a connection file (address and token) for
            drivers of this user on this machine (launchers do; a driver's own
            servers need none).
        token_given: the token was chosen by whoever started the server (an
            option, a file, AGENTNB_TOKEN), not made up by it.
        tls: serve TLS with its certificate and key; its CA (default: the
            certificate) is what the server trusts when it reads placeholders
            from other servers. None: no TLS (listening beyond loopback warns).
        lease: stop unless the driver renews the lease (``RenewLease``) at least
            this often, in seconds (servers an engine started for a pool); 0: no lease.
        unix: also listen on a Unix socket in the per-user runtime folder, for
            drivers on this machine (not with TLS).
    """

    host: str = "127.0.0.1"
    port: int = 0
    token: str = ""
    accepts_code: bool = False
    advertise_host: str | None = None
    limits: Limits = DEFAULT_LIMITS
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    agent_class: Any = None
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    allowed_modules: Iterable[str] | None = None
    own_process: bool = False
    trace: bool = True
    connection_file: bool = False
    token_given: bool = True
    tls: TLS | None = None
    lease: float = 0.0
    unix: bool = False


def check_port_free(host: str, port: int) -> None:
    """Raise ServerLaunchError if ``host:port`` cannot be bound (before gRPC tries and logs)."""
    if not port:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: TIME_WAIT is fine
        try:
            sock.bind((host, port))
        except OSError as exc:
            where = host_port(host, port)
            if exc.errno == errno.EADDRINUSE:
                raise ServerLaunchError(
                    f"cannot listen on {where}: the port is taken (by another server?). To use an "
                    f"agent server already running there, attach with to_dist(host={host!r}, "
                    f"port={port}, launch_server=False); to start a new one, pick another port, or "
                    "port=None for a free one"
                ) from exc
            raise ServerLaunchError(
                f"cannot listen on {where}: {exc.strerror}; is {host!r} an address of this machine?"
            ) from exc


class AgentServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.server_id = uuid.uuid4().hex[:12]
        self.pid = os.getpid()
        self.port = 0
        self.address = ""
        self.started_at = 0.0
        self.tls = False
        self._stop_requested = threading.Event()
        self._grpc: grpc.Server | None = None
        self.connection_file: pathlib.Path | None = None
        self.unix = ""  # the Unix socket it also listens on, if any
        self._local: InProcess | None = None
        self.host: AgentHost
        self.lease: Lease | None = None

    def start(self) -> None:
        """Bind, start serving and create the configured agent; raises ServerLaunchError."""
        config = self.config
        limits = config.limits
        check_port_free(config.host, config.port)
        handlers = ElasticPool("agentnb-rpc", HANDLER_THREADS)
        self._grpc = grpc.server(
            handlers,
            options=server_options(limits),
            interceptors=[TokenInterceptor(config.token, lambda: self.address, self._token_seen)],
        )
        target = host_port(config.host, config.port)
        tls = config.tls if config.tls is not None and config.tls.serves else None
        try:
            if tls is not None:
                self.port = self._grpc.add_secure_port(target, server_credentials(tls))
            else:
                self.port = self._grpc.add_insecure_port(target)
        except RuntimeError as exc:
            raise ServerLaunchError(
                f"cannot listen on {target}: the port is in use or the address is not on this machine; "
                "pick another port, or port=None for a free one"
            ) from exc
        advertise = config.advertise_host or (
            "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
        )
        self.address = host_port(advertise, self.port)
        self.tls = tls is not None
        if config.unix and tls is None:
            self.unix = self._listen_unix()
        if tls is None and not is_loopback(config.host):
            warn_cleartext("listen", host_port(config.host, self.port), stacklevel=3)
        store = ResultStore(limits.max_results, limits.result_bytes, limits.result_ttl, self.server_id)
        bus = EventBus(self.server_id, limits.event_history, limits.event_history_bytes, config.trace)
        self.host = AgentHost(
            self.address,
            self.server_id,
            bus,
            store,
            Recipes(config.accepts_code, config.allowed_modules),
            Resolver(store, self.address, self.server_id, limits, config.timeouts, tls),
            ElasticPool("agentnb-reply", limits.workers),
            limits.max_message_bytes,
            limits.output_bytes_per_call,
            Console(bus, self.address, limits.answer_wait, config.accepts_code),
            limits.failures_kept,
        )
        self.started_at = time.time()
        facts = ServerFacts(
            self.server_id, self.pid, self.address, config.accepts_code, self.started_at, self.tls
        )
        if config.lease:
            self.lease = Lease(config.lease, self.request_stop)
        reconnect = config.timeouts.reconnect  # how long a watcher waits for a call named by key
        servicer = Servicer(self.host, facts, limits, self.request_stop, self.lease, reconnect)
        add_servicer(servicer, self._grpc)
        self._grpc.start()
        if config.own_process:  # its agents call each other in-process (a launcher's thread does not:
            self._local = InProcess(servicer, facts)  # its process's driver talks to it over the wire)
            local.register(self._local)
        shm.owner()  # sweeps the shared memory of processes that are gone, now and then
        _output.install()
        _debug.install()  # a reply's input() and breakpoint() ask its caller
        _output.install_logging(exclusive=config.own_process)
        if config.agent_class is not None:
            self._create_configured_agent()
        if config.connection_file:
            self.connection_file = connection.write(
                config.host, self.port,
                {"address": self.address, "token": config.token, "server_id": self.server_id,
                 "accepts_code": config.accepts_code, "unix": self.unix,
                 "tls_ca": str(config.tls.ca or config.tls.cert) if config.tls is not None else ""},
            )  # fmt: skip
        log.info("agentnb server %s listening on %s", self.server_id, self.address)

    def _listen_unix(self) -> str:
        """Listen on a Unix socket too (drivers on this machine skip TCP); its path, or ""."""
        assert self._grpc is not None
        path = connection.socket_path(self.config.host, self.port)
        if path is None:
            return ""
        connection.remove(pathlib.Path(path))  # a stale socket of a server that was on this port
        try:
            self._grpc.add_insecure_port(f"unix:{path}")
        except RuntimeError:
            log.info("agentnb server: could not listen on the Unix socket %s; TCP only", path)
            return ""
        return path

    def announcement(self) -> str:
        """What a launcher prints: where it listens and how drivers attach."""
        tls = ", TLS" if self.tls else ""
        lines = [f"agentnb server listening on {self.address} (pid {self.pid}{tls})"]
        if self.connection_file is not None:
            lines.append(f"  drivers of this user on this machine find its token in {self.connection_file}")
        where = "the token you gave it" if self.config.token_given else "the token in that file"
        lines.append(
            f"  drivers elsewhere: to_dist(host=..., port={self.port}, launch_server=False, token=...) "
            f"with {where}, or set AGENTNB_TOKEN to it"
        )
        return "\n".join(lines)

    def _create_configured_agent(self) -> None:
        cls = self.config.agent_class
        if isinstance(cls, str):
            try:
                cls = import_agent_class(cls, self.config.allowed_modules)
            except RecipeError as exc:
                self.stop(0)
                raise ServerLaunchError(f"the launcher's agent class: {exc.message}") from exc
        kwargs = dict(self.config.agent_kwargs)
        name = kwargs.get("name") or cls.__name__
        try:
            instance = cls(**kwargs)
        except Exception as exc:
            self.stop(0)
            raise ServerLaunchError(
                f"building the launcher's agent {name!r} ({cls.__qualname__}) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        recipe = Recipe(cls, instance.name, (), kwargs)
        spec = pb.AgentSpec(
            name=instance.name,
            class_name=cls.__qualname__,
            source_hash=source_hash(cls),
            fingerprint=recipe.fingerprint,
        )
        self.host.add(instance.name, instance, spec)

    def _token_seen(self) -> None:
        """An RPC carried the token: the driver is alive (a busy driver renews by its traffic)."""
        lease = self.lease
        if lease is not None:
            lease.renew()

    def request_stop(self) -> None:
        """Ask the server to stop (any thread)."""
        self._stop_requested.set()

    def wait_for_stop_request(self, timeout: float | None = None) -> bool:
        return self._stop_requested.wait(timeout)

    def stop(self, grace: float = 1.0) -> None:
        """Stop serving (bounded by ``grace``) and release the workers."""
        if self._grpc is None:
            return
        connection.remove(self.connection_file)
        if self.lease is not None:
            self.lease.close()
        if self._local is not None:
            local.unregister(self._local)
        host: AgentHost | None = getattr(self, "host", None)
        if host is not None:
            host.bus.close()
        self._grpc.stop(grace).wait(grace + 0.5)
        if self.unix:
            connection.remove(pathlib.Path(self.unix))
        if host is not None:
            host.close()
