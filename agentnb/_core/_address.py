"""Host and address helpers shared by the driver and the server."""

from __future__ import annotations

import ipaddress
import socket


def host_port(host: str, port: int) -> str:
    """``host:port``, with IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_ip_towards(host: str) -> str | None:
    """The address of this machine that packets to ``host`` leave from (None if no route)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, 9))  # UDP: sets the route, sends nothing
            return str(sock.getsockname()[0])
    except OSError:
        return None
