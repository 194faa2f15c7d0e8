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

import concurrent.futures
import json
import os
import pathlib
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from .._core._config import Limits, Timeouts
from .._core._errors import ServerLaunchError
from .._core._tls import TLS
from . import _memory
from . import _shm as shm
from ._logs import name_after, new_log, sweep_once

T = TypeVar("T")
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
        shm.sweep(self.pid)  # its shared-memory segments, however it ended (kill -9 included)
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


class _Spawner:
    """One long-lived thread that starts every server of this process: a server's
    parent-death signal fires when the *thread* that started it exits, so none may be
    started from a thread that ends (a worker of the user's, a spare's helper)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = 0

    def run(self, fn: Callable[[], T], timeout: float) -> T:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._thread = threading.Thread(target=self._serve, name="agentnb-spawner", daemon=True)
                self._thread.start()
                self._pid = os.getpid()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, done))
        return done.result(timeout)

    def _serve(self) -> None:
        while True:
            fn, done = self._jobs.get()
            try:
                done.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)


_spawner = _Spawner()


class Starting:
    """A server process on its way up: started and configured, its ready line not read yet."""

    def __init__(self, server: ServerProcess, timeouts: Timeouts) -> None:
        self.server = server
        self._timeouts = timeouts
        self._ready = threading.Lock()
        self._done = False

    def ready(self) -> ServerProcess:
        """Wait (bounded) until it is ready; raises ServerLaunchError."""
        with self._ready:
            if not self._done:
                ready = _wait_ready(self.server, self._timeouts.launch)
                self.server.address, self.server.port = ready["address"], int(ready["port"])
                self.server.unix = str(ready.get("unix") or "")
                self._done = True
        return self.server


def start(
    host: str,
    port: int,
    advertise_host: str | None,
    token: str,
    limits: Limits,
    timeouts: Timeouts,
    tls: TLS | None = None,
    lease: float = 0.0,
) -> Starting:
    """Start a server process and hand it its configuration; :meth:`Starting.ready` waits for it.

    Its token and TLS file paths go over stdin, never on its command line.
    ``lease``: the server stops unless its lease is renewed this often (see
    :mod:`agentnb.server._lease`; servers an engine starts for a pool).
    """
    sweep_once()
    log = new_log()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # glibc gives each thread that ever allocated its own arena and keeps its
    # memory: a server's pool threads come and go (two arenas saved about 400
    # bytes per hosted agent at 30,000 agents), and malloc_trim cannot give back
    # the top of any arena but the main one (see _memory).
    env.setdefault("MALLOC_ARENA_MAX", _memory.arenas_for_servers())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "agentnb.server", "--handshake"]

    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            env=env,
            close_fds=True,
        )

    proc = _spawner.run(popen, timeouts.launch)
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
        pass  # it died at once; waiting for it reports how
    return Starting(server, timeouts)


def spawn(
    host: str,
    port: int,
    advertise_host: str | None,
    token: str,
    limits: Limits,
    timeouts: Timeouts,
    tls: TLS | None = None,
    lease: float = 0.0,
) -> ServerProcess:
    """Start a server process and wait (bounded) until it is ready."""
    return start(host, port, advertise_host, token, limits, timeouts, tls, lease).ready()


#: A server started ahead by the first to_dist() of a process, while the driver loads
#: its session and links (its key: host, advertised host, limits, TLS).
_early: tuple[tuple[Any, ...], Starting] | None = None
_early_lock = threading.Lock()


def start_early(key: tuple[Any, ...], token: str, timeouts: Timeouts) -> None:
    """Start the server the first ``to_dist()`` of this process will ask for, now."""
    global _early
    host, advertise, limits, tls = key
    with _early_lock:
        if _early is not None:
            return
        _early = (key, start(host, 0, advertise, token, limits, timeouts, tls))


def take_early(key: tuple[Any, ...]) -> Starting | None:
    """The server started ahead, if it suits ``key`` (one that does not is stopped)."""
    global _early
    with _early_lock:
        early, _early = _early, None
    if early is None:
        return None
    if early[0] != key:
        threading.Thread(target=_stop_when_ready, args=(early[1],), daemon=True).start()
        return None
    return early[1]


def drop_early() -> None:
    """Stop a server started ahead that nobody took (no key suits the empty one)."""
    take_early(())


def _stop_when_ready(early: Starting) -> None:
    try:
        server = early.ready()
    except BaseException:  # noqa: BLE001 - it never started: nothing to stop
        return
    server.stop(early._timeouts)


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
