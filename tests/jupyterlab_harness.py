"""A real JupyterLab server on loopback, for the browser tests (the page side: notebook_page.py).

Everything here is real: a ``jupyter lab`` process and its kernels. Nothing
user-level is touched: the server gets its own root, config, data, runtime,
settings, workspaces and IPython directories under a temp dir.

Pitfalls this module gets past (found on this machine):

* ``jupyter_server`` refuses to run as root without ``--allow-root``; the token
  goes in ``--IdentityProvider.token`` (``--ServerApp.token`` is deprecated).
* The "get notified about Jupyter news?" toast covers the page and fetches
  from the network: turned off by a settings file and ``--LabApp.news_url=None``.
* Kernels run in sessions of their own and agent servers in sessions of the
  kernel's children, so stopping the Lab process group alone is not enough:
  :meth:`JupyterLab.stop` shuts kernels down through the REST API, then the
  server, then kills (by pid) any descendant that outlived them.

Typical use (with :mod:`notebook_page`)::

    with start_jupyterlab(tmp_path / "lab") as lab, open_browser(tmp_path / "profile") as browser:
        lab.write_notebook("graph.ipynb", ["import agentnb", "agentnb.graph()"])
        nb = NotebookPage.open(browser, lab, "graph.ipynb")
        nb.run_cell(0)
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

# "http://127.0.0.1:PORT/lab?token=..." is logged once the server has picked its port
_RUNNING_AT = re.compile(r"https?://127\.0\.0\.1:(\d+)/")
_EOF = object()


class LabError(RuntimeError):
    """JupyterLab or the page did not do what the harness asked; says where to look."""


# ---------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """``(ppid, start time)`` of a live process, from ``/proc``; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid``, as ``{pid: start time}`` (to be safe from pid reuse)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            starts[int(entry.name)] = stat[1]
    found: dict[int, int] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child not in found and child in starts:
            found[child] = starts[child]
            todo.extend(children.get(child, []))
    return found


def _alive(pid: int, start: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[1] == start and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text[text.rindex(")") + 2] == "Z"


def _wait_gone(procs: dict[int, int], timeout: float) -> dict[int, int]:
    """Wait (on pidfds, no sleeping) until the processes exit; return those still alive."""
    deadline = time.monotonic() + timeout
    left = {pid: start for pid, start in procs.items() if _alive(pid, start)}
    for pid, start in list(left.items()):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            left.pop(pid)
            continue
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)
        if not _alive(pid, start):
            left.pop(pid)
    return left


# ---------------------------------------------------------------- JupyterLab


@dataclass
class JupyterLab:
    """A running ``jupyter lab`` server this test process started.

    Attributes:
        root: the server's root dir (notebooks live here; its dot-dirs hold
            config, runtime, settings and the log).
        port: the port it listens on (127.0.0.1 only).
        token: the token every request needs.
        proc: the server process (in a session of its own).
        log: the server's combined stdout/stderr.
        leftovers: pids that outlived a graceful stop and had to be killed.
    """

    root: Path
    port: int
    token: str
    proc: subprocess.Popen[bytes]
    log: Path
    leftovers: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str, reset: bool = True) -> str:
        """The URL that opens notebook ``name`` (relative to :attr:`root`) in JupyterLab.

        With ``reset`` the page starts from an empty workspace, so notebooks
        opened earlier on this server do not come back as hidden tabs.
        """
        return f"{self.base_url}/lab/tree/{name}?token={self.token}" + ("&reset" if reset else "")

    def api(self, method: str, path: str, timeout: float = 10) -> Any:
        """Call the Jupyter server REST API; returns the decoded JSON (None when empty)."""
        request = urllib.request.Request(
            f"{self.base_url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """Write a notebook of code cells (no outputs, Python 3 kernel) under :attr:`root`."""
        notebook = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
                for src in cells
            ],
            "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = self.root / name
        path.write_text(json.dumps(notebook, indent=1))
        return path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip().splitlines()[-lines:]) or "(log empty)"

    def stop(self, timeout: float = 15) -> None:
        """Shut kernels down, stop the server, then kill by pid whatever outlived them."""
        tree = descendants(self.proc.pid)
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                for kernel in self.api("GET", "/api/kernels"):
                    self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=timeout)
            tree.update(descendants(self.proc.pid))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)  # jupyter_server shuts down on SIGTERM
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        for pid in _wait_gone(tree, timeout):
            self.leftovers.append(f"{pid} {_cmdline(pid)}")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def _lab_env(root: Path) -> dict[str, str]:
    """Environment that keeps the server, its kernels and their IPython away from user dirs."""
    dirs = {
        "JUPYTER_CONFIG_DIR": ".jupyter/config",
        "JUPYTER_DATA_DIR": ".jupyter/data",
        "JUPYTER_RUNTIME_DIR": ".jupyter/runtime",
        "JUPYTERLAB_SETTINGS_DIR": ".jupyter/lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": ".jupyter/lab-workspaces",
        "IPYTHONDIR": ".jupyter/ipython",
    }
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1")
    for name, rel in dirs.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        env[name] = str(root / rel)
    # no "get notified about Jupyter news?" toast (it covers the page) and no news fetch
    news = Path(env["JUPYTERLAB_SETTINGS_DIR"], "@jupyterlab", "apputils-extension")
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


def _pump(stream: Any, log: Path, lines: queue.Queue[object]) -> None:
    """Copy the server's output to its log file, line by line, and hand each line over."""
    with log.open("wb") as out:
        for line in iter(stream.readline, b""):
            out.write(line)
            out.flush()
            lines.put(line.decode(errors="replace"))
    lines.put(_EOF)


@contextlib.contextmanager
def start_jupyterlab(
    root: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[JupyterLab]:
    """Start ``jupyter lab`` on 127.0.0.1 (an OS-chosen port) serving ``root``; stop it on exit.

    Args:
        root: an empty directory the server serves (and keeps its own dirs in).
        timeout: seconds to wait for the server to answer.
        env: extra environment variables for the server and its kernels.

    Yields:
        The running server.

    Raises:
        LabError: the server exited early or did not answer in time (with its log tail).
    """
    token = secrets.token_hex(16)
    log = root / ".jupyter" / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        "--port=0",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read cell outputs from the model
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    full_env = _lab_env(root) | (env or {})
    proc = subprocess.Popen(
        cmd, cwd=root, env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[object] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, log, lines), daemon=True, name="lab-log").start()
    lab = JupyterLab(root=root, port=0, token=token, proc=proc, log=log)
    try:
        lab.port = _wait_port(lines, time.monotonic() + timeout, lab)
        _wait_serving(lab, time.monotonic() + timeout)
        yield lab
    finally:
        lab.stop()


def _wait_port(lines: queue.Queue[object], deadline: float, lab: JupyterLab) -> int:
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise LabError(f"jupyter lab printed no URL in time; log {lab.log}:\n{lab.log_tail()}") from None
        if line is _EOF:
            lab.proc.wait(5)
            raise LabError(
                f"jupyter lab exited with code {lab.proc.returncode} before serving; "
                f"log {lab.log}:\n{lab.log_tail()}"
            )
        if match := _RUNNING_AT.search(str(line)):
            return int(match.group(1))


def _wait_serving(lab: JupyterLab, deadline: float) -> None:
    """The URL is logged just before the socket is bound: wait until /api/status answers."""
    while True:
        try:
            lab.api("GET", "/api/status", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError):
            pass
        try:
            lab.proc.wait(0.05)  # pause between tries, and notice an exit at once
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                raise LabError(
                    f"jupyter lab did not answer in time; log {lab.log}:\n{lab.log_tail()}"
                ) from None
        else:
            raise LabError(f"jupyter lab exited with code {lab.proc.returncode}; log:\n{lab.log_tail()}")
