"""``RpcAgentServerLauncher``: run an agent server in this process, in the background."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from .._core._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._core._errors import ServerLaunchError
from .._core._tls import TLS
from .._core._token import resolve_token
from ._app import AgentServer, ServerConfig


class RpcAgentServerLauncher:
    """Host agents on this machine for drivers elsewhere (the seed's launcher).

    Args:
        agent_class: an agent to create at start: a class, or ``"module:Class"``.
        agent_kwargs: its constructor's keyword arguments (``name`` included).
        host: the address to listen on; ``"localhost"`` means loopback only.
        port: the port; None lets the OS pick one (see :attr:`port`).
        token: the secret drivers must present; default ``token_file``, then
            ``AGENTNB_TOKEN``, then a fresh random token (see :attr:`token`).
            Either way it is written to a connection file (mode 0600) that
            drivers of this user on this machine read, so they attach with no
            token set; :meth:`launch` prints where.
        token_file: a file holding the token.
        allow_code: accept cloudpickled classes from drivers. Off by default:
            anyone with the token could then run code here.
        allowed_modules: the only modules (and their submodules) agent classes
            may be imported from, e.g. ``["mypkg.agents"]``; None: any module
            the server can import (a class must still be an AgentBase subclass).
        tls: serve TLS: ``agentnb.TLS(cert=..., key=...)`` (see
            :func:`agentnb.make_self_signed`). Without it, listening beyond
            loopback warns: the token would travel in clear.
        limits: size and retention limits.
        timeouts: ``timeouts.launch`` bounds :meth:`launch`.

    Example:
        >>> with RpcAgentServerLauncher(Echo, {"name": "E"}, port=12001) as server:
        ...     server.wait_until_terminate()
    """

    def __init__(
        self,
        agent_class: type | str | None = None,
        agent_kwargs: dict[str, Any] | None = None,
        host: str = "localhost",
        port: int | None = None,
        *,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        allow_code: bool = False,
        allowed_modules: Iterable[str] | None = None,
        tls: TLS | None = None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        if isinstance(allowed_modules, str):
            allowed_modules = [allowed_modules]
        if tls is not None and not tls.serves:
            raise ValueError("a launcher serves TLS with a certificate and its key: TLS(cert=..., key=...)")
        self.token, generated = resolve_token(token, token_file)
        self._config = ServerConfig(
            host="127.0.0.1" if host == "localhost" else host,
            port=port or 0,
            token=self.token,
            accepts_code=allow_code,
            limits=limits,
            agent_class=agent_class,
            agent_kwargs=dict(agent_kwargs or {}),
            connection_file=True,
            token_given=not generated,
            allowed_modules=None if allowed_modules is None else tuple(allowed_modules),
            tls=tls,
            unix=True,
        )
        self._timeouts = timeouts
        self._server: AgentServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def address(self) -> str:
        """``host:port`` once launched."""
        return self._server.address if self._server else ""

    @property
    def port(self) -> int:
        return self._server.port if self._server else 0

    def launch(self) -> None:
        """Start serving in background threads; returns when the server is ready."""
        if self._server is not None:
            raise RuntimeError("this launcher was already launched")
        server = AgentServer(self._config)
        try:
            server.start()
        except ServerLaunchError:
            raise
        except Exception as exc:
            raise ServerLaunchError(
                f"the agent server on {self._config.host}:{self._config.port} failed to start: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._server = server
        print(server.announcement(), file=sys.stderr, flush=True)

        def serve() -> None:
            server.wait_for_stop_request()
            server.stop(grace=1.0)
            self._stopped.set()

        self._thread = threading.Thread(target=serve, name="agentnb-launcher", daemon=True)
        self._thread.start()

    def wait_until_terminate(self, timeout: float | None = None) -> bool:
        """Block until the server stops (a Shutdown RPC, :meth:`shutdown`, Ctrl-C or SIGTERM).

        Returns:
            True if it stopped, False if ``timeout`` passed first.
        """
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: self.shutdown(0))
        try:
            return self._stopped.wait(timeout)
        except KeyboardInterrupt:
            self.shutdown()
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop the server and wait (at most ``timeout``, default ``timeouts.stop`` + 2 s)."""
        server = self._server
        if server is not None and not self._stopped.is_set():
            server.request_stop()
        self._stopped.wait(timeout if timeout is not None else self._timeouts.stop + 2)

    def __enter__(self) -> RpcAgentServerLauncher:
        self.launch()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped.is_set() else "running" if self._server else "not launched"
        return f"<RpcAgentServerLauncher {self.address or self._config.host} {state}>"
