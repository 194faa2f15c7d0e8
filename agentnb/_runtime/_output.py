"""Remote output, shown once and in order: the live feed and call outcomes meet here.

A reply's printed text reaches the driver twice: live, as OUTPUT events on the
server's feed, and with the call's outcome (what it printed before it
returned). Both carry the chunk's number within its task, so this ledger
shows each chunk once, in order, whichever comes first; the outcome's copy
is written before the result is handed over, so a cell shows a reply's
prints before the line that uses its result, and nothing printed before
the reply returned is lost even if the feed lagged or dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from .._core._events import Event
from .._proto import agentnb_pb2 as pb

Listener = Callable[[Event], None]

#: Tasks whose next chunk number is remembered (duplicates of older ones may be shown twice).
REMEMBERED = 100_000


class OutputLedger:
    def __init__(self, dispatch: Callable[[Event], None]) -> None:
        self._dispatch = dispatch
        self._next: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.RLock()

    def live(self, event: Event) -> None:
        """An OUTPUT event from a feed."""
        with self._lock:
            if event.task_id and not self._take(event.task_id, event.chunk):
                return
            self._dispatch(event)

    def settled(self, task_id: str, agent: str, address: str, outcome: pb.Outcome) -> None:
        """A call's outcome arrived: show what it printed that the feed has not shown yet."""
        if not outcome.output and not outcome.output_cut:
            return
        with self._lock:
            for chunk in outcome.output:
                if self._take(task_id, chunk.chunk):
                    self._dispatch(
                        Event("output", task_id, agent, address, text=chunk.text, chunk=chunk.chunk)
                    )
            if outcome.output_cut:
                note = f"(agentnb: {outcome.output_cut:,} more characters of output were cut)\n"
                self._dispatch(Event("output", task_id, agent, address, text=note))

    def _take(self, task_id: str, chunk: int) -> bool:
        expected = self._next.get(task_id, 0)
        if chunk < expected:
            return False
        self._next[task_id] = chunk + 1
        self._next.move_to_end(task_id)
        if len(self._next) > REMEMBERED:
            self._next.popitem(last=False)
        return True


def dispatch_to(
    listeners: Iterable[Listener], log_failure: Callable[[Listener], None]
) -> Callable[[Event], None]:
    """A dispatcher that calls each listener, never letting one stop the others."""

    def dispatch(event: Event) -> None:
        for listener in list(listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must not stop the feed
                log_failure(listener)

    return dispatch
