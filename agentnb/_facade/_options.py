"""The options of ``to_dist``, checked once and shared by agents made alike."""

from __future__ import annotations

from dataclasses import dataclass

from .._core import _connection as connection
from .._core._address import host_port, is_loopback
from .._core._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from .._core._tls import TLS, warn_cleartext


@dataclass(frozen=True)
class DistOptions:
    """The arguments of :meth:`agentnb.AgentBase.to_dist` (its signature is the one place
    they are written with their defaults), checked."""

    host: str
    port: int | None
    launch_server: bool
    local_mode: bool
    lazy_launch: bool
    token: str | None
    timeouts: Timeouts
    limits: Limits
    tls: TLS | None = None

    @classmethod
    def build(
        cls,
        host: str,
        port: int | None,
        launch_server: bool = True,
        local_mode: bool = True,
        lazy_launch: bool = False,
        token: str | None = None,
        timeouts: Timeouts | None = None,
        limits: Limits | None = None,
        tls: TLS | None = None,
    ) -> DistOptions:
        """Check the arguments (raising ValueError that says what to pass) and warn where a
        token would travel in clear; agents made alike share the result."""
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
        if launch_server and tls is not None and not tls.serves:
            raise ValueError(
                "to_dist(launch_server=True, tls=...) starts a server that serves TLS: give it "
                "TLS(cert=..., key=...) (see agentnb.make_self_signed); TLS(ca=...) alone is for "
                "attaching with launch_server=False"
            )
        if tls is None and launch_server and not local_mode:
            warn_cleartext("listen", "0.0.0.0 (all interfaces)", stacklevel=3)
        elif tls is None and not launch_server and not is_loopback(host):
            warn_cleartext("connect", host_port(host, port or 0), stacklevel=3)
        if tls is None and not launch_server and port is not None:
            tls = connection.tls_of(host, port)  # a TLS launcher of this user on this machine
        options = cls(
            host, port, launch_server, local_mode, lazy_launch, token,
            timeouts or DEFAULT_TIMEOUTS, limits or DEFAULT_LIMITS, tls,
        )  # fmt: skip
        # Agents made alike share one options object (a simulation makes 100,000)
        shared = _SHARED_OPTIONS.setdefault(options, options)
        if len(_SHARED_OPTIONS) > 256:
            _SHARED_OPTIONS.clear()
        return shared

    def server_address(self) -> tuple[str, str]:
        """Where a server launched for these options listens, and the host it is named by."""
        bind = "127.0.0.1" if self.host == "localhost" else self.host
        if not self.local_mode:
            bind = "0.0.0.0"
        advertise = "127.0.0.1" if self.host in ("localhost", "0.0.0.0") else self.host
        return bind, advertise


_SHARED_OPTIONS: dict[DistOptions, DistOptions] = {}
