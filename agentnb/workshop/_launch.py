"""Launchers in background processes, standing in for other machines in a workshop.

On a real second machine you would run, in a terminal there::

    python -m agentnb.server --host ip_a --port 12001 \\
        --agent-class agentnb.workshop:Talker --agent-kwargs '{"name": "A"}'

:func:`start_launcher` runs exactly that command from a notebook, on a
loopback alias (127.0.0.2, 127.0.0.3, ... work on Linux without setup), waits
until the server listens, and reports its port. The server makes its token (or takes
``AGENTNB_TOKEN``) and writes it into a connection file, where drivers of
the same user on the same machine find it.

A launcher started here is tied to this process: it stops with
:meth:`Launcher.stop`, :func:`stop_launchers`, at exit, and (on Linux) when
this process dies. Started again with the same arguments, the live one is
returned: re-running a notebook cell starts nothing new.
"""

from __future__ import annotations

import atexit
import collections
import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from agentnb import ServerLaunchError

_LISTENING = re.compile(r"agentnb server listening on (\S+):(\d+) \(pid (\d+)\)")

# Run the server as `python -m agentnb.server`, after asking Linux to stop it
# when this (the parent) process dies: set in the child itself, the only
# place where the parent-death signal is reliable.
_CHILD = (
    "import signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    import ctypes\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"
    "from agentnb.server.__main__ import main\n"
    "main(sys.argv[1:])\n"
)


@dataclass
class Launcher:
    """An agent server running in a background process (``python -m agentnb.server``)."""

    command: list[str]
    proc: subprocess.Popen[str]
    host: str = ""
    port: int = 0
    log: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=50))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL), and wait for it."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        _launchers.pop(_key_of(self), None)

    def __repr__(self) -> str:
        state = "running" if self.alive() else f"exited with code {self.proc.returncode}"
        return f"<Launcher {self.address} pid {self.proc.pid} {state}>"


_launchers: dict[tuple[str, ...], Launcher] = globals().get("_launchers", {})
_lock = threading.Lock()


def _key_of(launcher: Launcher) -> tuple[str, ...]:
    return tuple(launcher.command)


def start_launcher(
    agent_class: str | None = None,
    agent_kwargs: dict[str, Any] | None = None,
    host: str = "127.0.0.2",
    port: int = 0,
    timeout: float = 30.0,
) -> Launcher:
    """Start ``python -m agentnb.server`` in the background and wait until it listens.

    Args:
        agent_class: an agent to create at start, as ``"module:Class"``.
        agent_kwargs: its keyword arguments (JSON-compatible).
        host: the address to listen on (a loopback alias stands in for a machine).
        port: the port; 0 lets the OS pick one (see :attr:`Launcher.port`).
        timeout: seconds to wait for the server to listen.

    Raises:
        ServerLaunchError: it exited or did not listen in time; the message
            holds its last log lines.
    """
    args = ["--host", host, "--port", str(port)]
    if agent_class:
        args += ["--agent-class", agent_class, "--agent-kwargs", json.dumps(agent_kwargs or {})]
    command = [sys.executable, "-c", _CHILD, *args]
    with _lock:
        live = _launchers.get(tuple(command))
        if live is not None and live.alive():
            return live
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        launcher = Launcher(command, proc)
        ready = threading.Event()
        threading.Thread(target=_read_log, args=(launcher, ready), daemon=True).start()
        if not ready.wait(timeout) or not launcher.port:
            launcher.stop()
            tail = "\n".join(launcher.log) or "(no output)"
            raise ServerLaunchError(
                f"the launcher `python -m agentnb.server {' '.join(args)}` did not start within "
                f"{timeout} s (exit code {proc.poll()}); its last lines:\n{tail}"
            )
        _launchers[tuple(command)] = launcher
        return launcher


def _read_log(launcher: Launcher, ready: threading.Event) -> None:
    """Keep the server's last log lines; report its address once it listens (and keep reading)."""
    assert launcher.proc.stderr is not None
    for line in launcher.proc.stderr:
        launcher.log.append(line.rstrip())
        match = _LISTENING.search(line)
        if match and not ready.is_set():
            launcher.host, launcher.port = match.group(1), int(match.group(2))
            ready.set()
    ready.set()  # it exited


def stop_launchers() -> None:
    """Stop every launcher this process started."""
    for launcher in list(_launchers.values()):
        launcher.stop()


atexit.register(stop_launchers)
