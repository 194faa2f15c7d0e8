"""On an engine's worker: start the pool's agent servers as child processes, and stop them.

Each server is ``python -m agentnb.server --handshake``, a child of the
worker process (a Dask worker, a Ray actor), started exactly as a driver
starts its own servers (:func:`agentnb._runtime._process.spawn`): its token
and TLS paths arrive on stdin, it reports its address in one ready line, and
it exits when the worker dies (the parent-death signal, and EOF on the stdin
pipe the worker holds). It also holds a lease: it stops when the driver stops
renewing it (see :mod:`agentnb.server._lease`).

A process rather than threads inside the worker: the agents' Python never
competes with the engine's own event loop for the worker's interpreter lock
(the worker keeps answering its scheduler's heartbeats while agents compute),
a crash or a ``print`` storm in an agent stays in the server, agents' memory
is the server's own (the pool shows it per server), and a server stops
without stopping the worker.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from typing import Any

from .._core._config import Timeouts
from .._core._tls import TLS
from .._runtime._process import ServerProcess, spawn
from . import _tls
from ._spec import ServerSpec


class WorkerServers:
    """The pool's servers on this worker: started by :meth:`start`, stopped by :meth:`stop`.

    Args:
        spec: the pool's server spec (token included).
        ip: the address other hosts reach this worker at; the servers listen
            there and advertise it.
        worker: the engine's name for this worker (a Dask worker's address, a
            Ray node's id), for the pool's listing and its errors.
    """

    def __init__(self, spec: ServerSpec, ip: str, worker: str) -> None:
        self.spec, self.ip, self.worker = spec, ip, worker
        self.servers: list[ServerProcess] = []
        self._tls_folder: str | None = None
        self._lock = threading.Lock()

    def start(self) -> list[dict[str, Any]]:
        """Start ``per_worker`` servers; returns what the driver needs of each (no token)."""
        spec = self.spec
        tls = self._tls()
        timeouts = Timeouts(launch=spec.launch)
        infos = []
        for _ in range(spec.per_worker):
            server = spawn(self.ip, 0, self.ip, spec.token, spec.limits, timeouts, tls, lease=spec.lease)
            with self._lock:
                self.servers.append(server)
            infos.append(self.describe(server))
        return infos

    def describe(self, server: ServerProcess) -> dict[str, Any]:
        return {
            "address": server.address,
            "host": self.ip,
            "pid": server.pid,
            "worker": self.worker,
            "node": socket.gethostname(),
            "tls": self._tls_folder is not None,
            "unix": server.unix,  # a driver on this machine may dial it instead of TCP
        }

    def _tls(self) -> TLS | None:
        spec = self.spec
        if spec.ca_cert is None or spec.ca_key is None:
            return None
        cert, key = _tls.issue(spec.ca_cert, spec.ca_key, self.ip)
        tls = _tls.write(None, cert, key, spec.ca_cert)
        assert tls.cert is not None
        self._tls_folder = os.path.dirname(str(tls.cert))
        return tls

    def wait_any_exit(self, timeout: float | None) -> ServerProcess | None:
        """Block until one of the servers exits (None on timeout)."""
        done = threading.Event()
        with self._lock:
            servers = list(self.servers)
        for server in servers:
            server.on_exit(done.set)
        if not done.wait(timeout):
            return None
        return next((s for s in servers if s.exited.is_set()), None)

    def stop(self, timeouts: Timeouts | None = None) -> None:
        """Stop every server (closing its stdin, then signals; each step bounded)."""
        with self._lock:
            servers, self.servers = self.servers, []
        threads = [threading.Thread(target=s.stop, args=(timeouts or Timeouts(stop=2.0),)) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        if self._tls_folder is not None:
            shutil.rmtree(self._tls_folder, ignore_errors=True)
