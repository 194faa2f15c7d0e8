"""One agent server: a grpc.aio server, its agents, its result store and event feed."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc

from .._address import host_port
from .._config import DEFAULT_LIMITS, Limits
from .._errors import ServerLaunchError
from .._proto import agentnb_pb2 as pb
from .._proto import agentnb_pb2_grpc as pb_grpc
from .._runtime._client import channel_options
from . import _output
from ._auth import TokenInterceptor
from ._events import EventBus
from ._host import AgentHost
from ._servicer import Servicer, import_class
from ._store import ResultStore

log = logging.getLogger("agentnb.server")


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
        agent_class: an agent to create at start (a class or "module:Class").
        agent_kwargs: its constructor's keyword arguments.
        own_process: the server is the whole process (``python -m agentnb.server``),
            not a launcher's thread in someone else's program.
    """

    host: str = "127.0.0.1"
    port: int = 0
    token: str = ""
    accepts_code: bool = False
    advertise_host: str | None = None
    limits: Limits = DEFAULT_LIMITS
    agent_class: Any = None
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    own_process: bool = False


class AgentServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.server_id = uuid.uuid4().hex[:12]
        self.pid = os.getpid()
        self.port = 0
        self.address = ""
        self._stop_requested: asyncio.Event | None = None

    async def start(self) -> None:
        """Bind, start serving and create the configured agent; raises ServerLaunchError."""
        config = self.config
        self._stop_requested = asyncio.Event()
        options = channel_options(config.limits) + [("grpc.so_reuseport", 0)]
        self._grpc = grpc.aio.server(
            options=options, interceptors=[TokenInterceptor(config.token, lambda: self.address)]
        )
        target = host_port(config.host, config.port)
        try:
            self.port = self._grpc.add_insecure_port(target)
        except RuntimeError as exc:
            raise ServerLaunchError(
                f"cannot listen on {target}: the port is in use or the address is not on "
                "this machine; pick another port, or port=None for a free one"
            ) from exc
        advertise = config.advertise_host or (
            "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
        )
        self.address = host_port(advertise, self.port)
        limits = config.limits
        self.host = AgentHost(
            self.address,
            self.server_id,
            EventBus(self.server_id),
            ResultStore(limits.max_results, limits.result_ttl),
            limits.max_message_bytes,
            limits.workers,
            lambda where: log.exception("unexpected error in %s", where),
        )
        pb_grpc.add_AgentServerServicer_to_server(Servicer(self), self._grpc)
        await self._grpc.start()
        _output.install()
        _output.install_logging(exclusive=config.own_process)
        if config.agent_class is not None:
            await self._create_configured_agent()
        log.info("agentnb server %s listening on %s", self.server_id, self.address)

    async def _create_configured_agent(self) -> None:
        cls = self.config.agent_class
        if isinstance(cls, str):
            cls = import_class(cls)
        kwargs = dict(self.config.agent_kwargs)
        name = kwargs.get("name") or cls.__name__
        instance = await self.host.build(lambda: cls(**kwargs), name)
        spec = pb.AgentSpec(name=instance.name, class_name=cls.__qualname__)
        self.host.add(instance.name, instance, spec)

    def request_stop(self) -> None:
        """Ask the server to stop (call on its loop)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def wait_for_stop_request(self) -> None:
        assert self._stop_requested is not None
        await self._stop_requested.wait()

    async def stop(self, grace: float = 1.0) -> None:
        self.host.bus.close()
        await self._grpc.stop(grace)
        await self.host.close()
