"""A server's lease: a server started for an engine's pool stops once its driver stops renewing.

A driver's own servers watch their driver directly (the parent-death signal
and a stdin pipe). A server an engine started for a pool (on a Dask worker or
a Ray node, maybe on another machine) is a child of the engine's worker, not
of the driver, so it cannot watch the driver that way: the driver renews its
lease over gRPC every second (``RenewLease``), and a server whose lease lapsed
stops itself. A kernel killed with ``kill -9`` thus leaves no server behind,
while the engine's workers live on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("agentnb.server")

#: How often an expiry is checked, at most (a fraction of the lease's length).
CHECK_EVERY = 0.25


class Lease:
    """Calls ``on_expired`` once if :meth:`renew` was not called for ``seconds``.

    The lease runs from the moment it is made: the driver's first renewal is
    due within ``seconds`` of the server's start.
    """

    def __init__(self, seconds: float, on_expired: Callable[[], None]) -> None:
        if seconds <= 0:
            raise ValueError(f"a lease lasts a positive number of seconds, got {seconds}")
        self.seconds = seconds
        self._on_expired = on_expired
        self._renewed = time.monotonic()
        self._stopped = threading.Event()
        self.expired = False
        self._thread = threading.Thread(target=self._watch, name="agentnb-lease", daemon=True)
        self._thread.start()

    def renew(self) -> None:
        """The driver is alive (any thread; a plain store, no lock)."""
        self._renewed = time.monotonic()

    def left(self) -> float:
        """Seconds until the lease lapses."""
        return self.seconds - (time.monotonic() - self._renewed)

    def close(self) -> None:
        """Stop watching (the server stops for another reason)."""
        self._stopped.set()

    def _watch(self) -> None:
        while not self._stopped.wait(max(0.01, min(CHECK_EVERY, self.left()))):
            if self.left() <= 0:
                self.expired = True
                log.warning(
                    "agentnb server: no lease renewal from its driver for %.1f s: stopping "
                    "(the driver stopped, or cannot reach this server)",
                    self.seconds,
                )
                self._on_expired()
                return


def resident_bytes() -> int:
    """This process's resident memory in bytes (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
