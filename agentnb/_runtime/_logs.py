"""The logs of servers a driver launches: their names, and sweeping those nobody can read
(with the Unix sockets of servers that were killed).

A server's stderr goes to ``agentnb-server-<driver pid>-<server pid>.log`` in
the temp folder (``agentnb-server-<driver pid>-<random>.log`` for the moment
between creating the file and starting the process). A clean stop deletes
it; a server that crashed keeps it, because the driver's error message points
at it. Once both processes are gone nobody will read it, so the first server
a driver launches sweeps the logs whose driver and server no longer run
(this user's files only).
"""

from __future__ import annotations

import os
import pathlib
import re
import tempfile
import threading
from typing import IO

from .._core._connection import process_running, sweep_sockets

PREFIX = "agentnb-server-"
_NAME = re.compile(rf"{PREFIX}(\d+)-(\d+|[A-Za-z0-9_]+)\.log")
#: At most this many files are looked at per sweep (a huge temp folder costs little).
MAX_SWEPT = 10_000

_swept = False
_swept_lock = threading.Lock()


def new_log() -> IO[bytes]:
    """A new log file named after this driver (:func:`name_after` adds the server's pid)."""
    return tempfile.NamedTemporaryFile(prefix=f"{PREFIX}{os.getpid()}-", suffix=".log", delete=False)


def name_after(path: str, server_pid: int) -> str:
    """Rename the log to carry the server's pid too; returns its path (the old one if that fails)."""
    new = os.path.join(os.path.dirname(path), f"{PREFIX}{os.getpid()}-{server_pid}.log")
    try:
        os.replace(path, new)
    except OSError:
        return path
    return new


def sweep(folder: str | None = None) -> list[str]:
    """Delete this user's server logs whose driver and server processes are both gone.

    Returns:
        The paths deleted.
    """
    deleted = []
    uid = os.getuid()
    for count, path in enumerate(pathlib.Path(folder or tempfile.gettempdir()).glob(f"{PREFIX}*.log")):
        if count >= MAX_SWEPT:
            break
        match = _NAME.fullmatch(path.name)
        if match is None:
            continue
        pids = [int(match[1])] + ([int(match[2])] if match[2].isdigit() else [])
        if any(process_running(pid) for pid in pids):
            continue
        try:
            if path.stat().st_uid != uid:
                continue
            path.unlink()
        except OSError:
            continue
        deleted.append(str(path))
    return deleted


def sweep_once() -> None:
    """Sweep stale logs and Unix sockets, the first time this process launches a server."""
    global _swept
    with _swept_lock:
        if _swept:
            return
        _swept = True
    sweep()
    sweep_sockets()
