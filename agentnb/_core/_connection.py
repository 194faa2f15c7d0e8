"""Connection files: how a driver finds the token of a launcher on the same machine.

Like Jupyter's kernel connection files: a launcher (``RpcAgentServerLauncher``
or ``python -m agentnb.server``) writes ``server-<host>-<port>.json`` with its
address and token into a per-user runtime folder (mode 0700; the file 0600),
and removes it when it stops. A driver of the same user that attaches to
``host:port`` without a token reads it there, so the seed's two-machine
program runs as written when its "machines" share one computer. Drivers on
other machines pass ``token=`` or set ``AGENTNB_TOKEN``.

The same folder holds the Unix sockets servers listen on besides TCP
(``sock-<host>-<port>.sock``): drivers on the same machine use them.

The folder is ``$AGENTNB_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/agentnb``,
else ``~/.local/share/agentnb/runtime``. Files of servers whose process is
gone are ignored and swept.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import tempfile
from typing import Any

from ._tls import TLS

RUNTIME_ENV = "AGENTNB_RUNTIME_DIR"
_WILDCARDS = ("0.0.0.0", "::")
#: A Unix socket's path must fit in sockaddr_un (108 bytes on Linux, 104 on macOS).
MAX_SOCKET_PATH = 100


def runtime_dir() -> pathlib.Path:
    """The per-user folder of connection files (made, mode 0700, if missing)."""
    explicit = os.environ.get(RUNTIME_ENV)
    if explicit:
        folder = pathlib.Path(explicit)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = pathlib.Path(os.environ["XDG_RUNTIME_DIR"]) / "agentnb"
    else:
        folder = pathlib.Path.home() / ".local" / "share" / "agentnb" / "runtime"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _name(host: str, port: int) -> str:
    host = "127.0.0.1" if host == "localhost" else host
    return f"server-{host.strip('[]').replace(':', '_')}-{port}.json"


def write(host: str, port: int, info: dict[str, Any]) -> pathlib.Path:
    """Write the connection file of a server listening on ``host:port`` (mode 0600, atomically)."""
    folder = runtime_dir()
    path = folder / _name(host, port)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".server-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**info, "pid": os.getpid()}, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def remove(path: pathlib.Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def find(host: str, port: int) -> dict[str, Any] | None:
    """The connection info of a live server of this user at ``host:port`` (or on all interfaces)."""
    try:
        folder = runtime_dir()
    except OSError:
        return None
    for candidate in (host, *_WILDCARDS):
        path = folder / _name(candidate, port)
        info = _read(path)
        if info is not None:
            return info
    return None


def tls_of(host: str, port: int) -> TLS | None:
    """The TLS settings (its CA) for a TLS launcher of this user on this machine, if there is one."""
    info = find(host, port)
    ca = info.get("tls_ca") if info is not None else None
    return TLS(ca=ca) if ca else None


def _read(path: pathlib.Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not process_running(info.get("pid")):
        remove(path)  # its server is gone
        return None
    return info


def process_running(pid: Any) -> bool:
    """Whether a process with this pid exists (of any user); False for anything not a pid."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def socket_path(host: str, port: int) -> str | None:
    """The path of the Unix socket of the server listening on ``host:port``, in the runtime
    folder (None if it would be too long). Named after the address, so a launcher that
    restarts on its port is found at the same path; a stale file there is replaced."""
    try:
        folder = runtime_dir()
    except OSError:
        return None
    path = str(folder / _name(host, port).replace("server-", "sock-").replace(".json", ".sock"))
    return path if len(path.encode()) <= MAX_SOCKET_PATH else None


def sweep_sockets(limit: int = 10_000) -> list[str]:
    """Remove the Unix sockets nothing listens on any more (servers killed before they could);
    returns their paths."""
    try:
        folder = runtime_dir()
    except OSError:
        return []
    removed = []
    for count, path in enumerate(folder.glob("sock-*.sock")):
        if count >= limit:
            break
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                remove(path)
                removed.append(str(path))
            except OSError:
                continue
    return removed


def sweep(folder: pathlib.Path) -> None:
    """Remove the connection files of servers that are gone."""
    for path in folder.glob("server-*.json"):
        _read(path)
