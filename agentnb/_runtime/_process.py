"""Starting and stopping server processes that this driver owns.

A server is started as ``[sys.executable, "-m", "agentnb.server", "--handshake"]``
in a new session (so the notebook's stop button does not reach it), gets its
configuration and token on stdin, binds (port 0 by default) and reports the
real address in one ready line. The driver waits for that line with a deadline
while watching for an early exit; a reaper thread records the exit code.
Stopping goes RPC (by the caller), then SIGTERM, then SIGKILL, each bounded.
Its stderr goes to a log named after both processes (see :mod:`._logs`).
"""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .._core._config import Limits, Timeouts
from .._core._errors import ServerLaunchError
from .._core._tls import TLS
from ._logs import name_after, new_log, sweep_once

READY = "AGENTNB_READY"
PACKAGE_PARENT = str(pathlib.Path(__file__).resolve().parent.parent.parent)


class ServerProcess:
    """A server process this driver launched."""

    def __init__(
        self, proc: subprocess.Popen[bytes], log_path: str, token: str, bind: tuple[str, int]
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self.token = token
        self.bind = bind
        self.address = ""
        self.port = 0
        self.unix = ""  # the Unix socket it also listens on ("": TCP only)
        self.exited = threading.Event()
        self._on_exit: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._reap, name=f"agentnb-reap-{proc.pid}", daemon=True).start()

    def _reap(self) -> None:
        self.proc.wait()
        with self._lock:
            self.exited.set()
            callbacks, self._on_exit = self._on_exit, []
        for callback in callbacks:
            callback()

    def on_exit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (in the reaper thread) when the process exits; at once if it has."""
        with self._lock:
            if not self.exited.is_set():
                self._on_exit.append(callback)
                return
        callback()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.exited.is_set() else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = pathlib.Path(self.log_path).read_text(errors="replace")
        except OSError:
            return "(log unavailable)"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(log empty)"

    def describe_exit(self) -> str:
        code = self.returncode
        if code is None:
            return f"the server process (pid {self.pid}) is still running"
        how = f"code {code}"
        if code < 0:
            try:
                how += f" ({signal.Signals(-code).name})"
            except ValueError:
                pass
        return (
            f"the server process (pid {self.pid}) exited with {how}; "
            f"last lines of its log {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, timeouts: Timeouts) -> None:
        """Wait for a graceful exit, then SIGTERM, then SIGKILL; each stage bounded.

        The log of a server that stopped cleanly is deleted; others are kept
        for the error messages that point at them.
        """
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # the lifeline: the server stops when it closes
            except OSError:
                pass
        if not self.exited.wait(timeouts.stop):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
                if self.exited.wait(timeouts.stop):
                    break
        if self.returncode == 0:
            pathlib.Path(self.log_path).unlink(missing_ok=True)


def spawn(
    host: str,
    port: int,
    advertise_host: str | None,
    token: str,
    limits: Limits,
    timeouts: Timeouts,
    run_in_loop_thread: Callable[[Callable[[], Any]], Any],
    tls: TLS | None = None,
    lease: float = 0.0,
) -> ServerProcess:
    """Start a server process and wait (bounded) until it is ready.

    Its token and TLS file paths go over stdin, never on its command line.
    ``lease``: the server stops unless its lease is renewed this often (see
    :mod:`agentnb.server._lease`; servers an engine starts for a pool).
    """
    sweep_once()
    log = new_log()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # glibc gives each thread that ever allocated its own arena and keeps its
    # memory; a server's pool threads come and go, so two arenas save about
    # 400 bytes per hosted agent at 30,000 agents and cost no measurable speed.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "agentnb.server", "--handshake"]

    def popen() -> subprocess.Popen[bytes]:
        # Spawned from the long-lived loop thread: the parent-death signal the
        # server sets fires when the spawning *thread* exits.
        return subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            env=env,
            close_fds=True,
        )

    proc = run_in_loop_thread(popen)
    log.close()
    server = ServerProcess(proc, name_after(log.name, proc.pid), token, (host, port))
    config = {
        "host": host,
        "port": port,
        "advertise_host": advertise_host,
        "token": token,
        "accepts_code": True,
        "parent_pid": os.getpid(),
        "sys_path": [p for p in sys.path if p],
        "limits": asdict(limits),
        "trace": os.environ.get("AGENTNB_TRACE", "1") != "0",
        "tls": tls.to_dict() if tls is not None else None,
        "lease": lease,
        # drivers on this machine skip TCP (AGENTNB_UNIX=0: TCP only, e.g. to measure each)
        "unix": os.environ.get("AGENTNB_UNIX", "1") != "0",
    }
    assert proc.stdin is not None
    try:
        proc.stdin.write((json.dumps(config) + "\n").encode())
        proc.stdin.flush()
    except BrokenPipeError:
        pass  # it died at once; the wait below reports how
    ready = _wait_ready(server, timeouts.launch)
    server.address, server.port = ready["address"], int(ready["port"])
    server.unix = str(ready.get("unix") or "")
    return server


def _wait_ready(server: ServerProcess, timeout: float) -> dict[str, Any]:
    proc = server.proc
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                server.stop(Timeouts(stop=1.0))
                raise ServerLaunchError(
                    f"the agent server (pid {server.pid}) did not report ready within "
                    f"{timeout} s; last lines of its log {server.log_path}:\n{server.log_tail()}"
                )
            if sel.select(min(remaining, 0.1)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:  # stdout closed: it exited
                    server.exited.wait(min(max(remaining, 0.1), 5.0))
                    raise ServerLaunchError(f"the agent server failed to start: {server.describe_exit()}")
                buffer += chunk
    proc.stdout.close()
    line = buffer.split(b"\n", 1)[0].decode(errors="replace")
    if not line.startswith(READY + " "):
        server.stop(Timeouts(stop=1.0))
        raise ServerLaunchError(
            f"the agent server sent an unexpected first line {line!r}; log: {server.log_path}"
        )
    return json.loads(line[len(READY) + 1 :])
