"""The graph's render thread: wakes on changes, draws at most ``rate`` times a second, idles silently."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("agentnb")

#: The longest pause after an expensive draw (a 1,000-agent layout's parsing): a shape change
#: is still drawn within about a second.
MAX_PAUSE = 1.0


class Pump:
    """Calls ``render`` after changes (coalesced, throttled) and ``settled`` once changes stop.

    * Idle: the thread waits for :meth:`wake`; nothing runs, nothing is sent.
    * At most one ``render`` per ``1 / rate`` seconds, and at most about a
      quarter of the CPU spent rendering (an expensive draw slows the pace,
      but never waits more than ``MAX_PAUSE`` for the next one).
    * ``wake(urgent=True)`` skips the remaining throttle delay (the end of a
      cell wants the latest drawing now).
    * ``settled`` runs once no change came for ``settle`` seconds after a render.
    """

    def __init__(
        self, render: Callable[[], float | None], settled: Callable[[], None], rate: float, settle: float
    ) -> None:
        self._render, self._settled = render, settled
        self._interval, self._settle = 1.0 / rate, settle
        self._cv = threading.Condition()
        self._pending = self._urgent = self._stopping = False
        self._thread = threading.Thread(target=self._run, name="agentnb-graph", daemon=True)
        self._thread.start()

    def wake(self, urgent: bool = False) -> None:
        with self._cv:
            self._pending = True
            self._urgent = self._urgent or urgent
            self._cv.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        next_at = 0.0
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._stopping)  # idle
                while not (self._stopping or self._urgent) and (delay := next_at - time.monotonic()) > 0:
                    self._cv.wait(delay)
                if self._stopping:
                    return
                self._pending = self._urgent = False  # changes from here on wake the next round
            cost = self._guard(self._render)
            pause = min(4 * (cost or 0.0), MAX_PAUSE)  # drawing takes at most ~a quarter of the CPU
            next_at = time.monotonic() + max(self._interval, pause)
            with self._cv:
                woke = self._cv.wait_for(lambda: self._pending or self._stopping, self._settle)
            if not woke:
                self._guard(self._settled)

    @staticmethod
    def _guard(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception:  # noqa: BLE001 - the thread must survive a bad draw
            log.exception("agentnb graph: drawing failed")
            return None
