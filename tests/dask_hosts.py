"""A Dask cluster on separate hosts (network namespaces): ``dask scheduler`` and ``dask worker``
processes, started as an operator would, each in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
from conftest import wait_for_exit
from hosts import Host

DASK = os.path.join(os.path.dirname(sys.executable), "dask")
PORT = 8786  # each host has its own port space


class DaskHosts:
    """A scheduler on ``scheduler_host``; workers started on hosts with :meth:`add_worker`."""

    def __init__(self, scheduler_host: Host) -> None:
        self.scheduler_host = scheduler_host
        self.address = f"tcp://{scheduler_host.ip}:{PORT}"
        self.procs: list[subprocess.Popen[str]] = []
        self.workers: dict[str, subprocess.Popen[str]] = {}  # host ip -> its `dask worker`

    def start(self) -> DaskHosts:
        proc = self._start(
            self.scheduler_host,
            [DASK, "scheduler", "--host", self.scheduler_host.ip, "--port", str(PORT), "--no-dashboard"],
        )
        self._wait_for_line(proc, "Scheduler at:")
        return self

    def add_worker(self, host: Host) -> subprocess.Popen[str]:
        """``dask worker <scheduler>`` on ``host`` (with its nanny, as by default)."""
        proc = self._start(
            host,
            [DASK, "worker", self.address, "--host", host.ip, "--nthreads", "1", "--no-dashboard",
             "--name", host.name],
        )  # fmt: skip
        self.workers[host.ip] = proc
        self._drain(proc)
        return proc

    def kill_worker(self, host: Host) -> None:
        """kill -9 the whole ``dask worker`` of ``host``: its nanny and its worker process."""
        proc = self.workers.pop(host.ip)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def _start(self, host: Host, argv: list[str]) -> subprocess.Popen[str]:
        proc = host.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.procs.append(proc)
        return proc

    def _wait_for_line(self, proc: subprocess.Popen[str], text: str) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if text in line:
                self._drain(proc)
                return
        raise AssertionError(f"the dask process exited ({proc.wait(10)}) before saying {text!r}")

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        """Keep reading a process's stderr so it never blocks on a full pipe."""
        stream = proc.stderr
        if stream is not None:
            threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def agentnb_servers_under(pids: list[int]) -> list[int]:
    """Agent server processes that are children of the given processes."""
    found = []
    for pid in pids:
        try:
            children = psutil.Process(pid).children()
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                if "agentnb.server" in " ".join(child.cmdline()):
                    found.append(child.pid)
            except psutil.NoSuchProcess:
                continue
    return found


def all_gone(pids: list[int], timeout: float) -> bool:
    """Whether every process in ``pids`` exits within ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    return all(wait_for_exit(pid, max(0.0, deadline - time.monotonic())) for pid in pids)
