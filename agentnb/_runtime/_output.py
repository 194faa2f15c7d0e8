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
from collections.abc import Callable, Iterable, Sequence

from .._core._events import Event
from .._proto import agentnb_pb2 as pb

Listener = Callable[[Event], None]
#: Registers a callback to run once something happened (a producer call's ``when_done``).
WhenDone = Callable[[Callable[[], None]], None]
#: Runs ``fn(*args)`` after a delay, from any thread.
Later = Callable[..., None]

#: Tasks whose next chunk number is remembered (duplicates of older ones may be shown twice).
REMEMBERED = 100_000
#: A consumer's output waits at most this long for its producers' output (shown first).
PRODUCERS_FIRST_S = 2.0


def when_all(waits: Sequence[WhenDone], fn: Callable[[], None], later: Later, timeout: float) -> None:
    """Run ``fn`` once, when every one of ``waits`` has fired, or after ``timeout`` seconds."""
    once = threading.Lock()
    left = [len(waits)]

    def go(force: bool = False) -> None:
        with once:
            left[0] -= 1
            if left[0] < 0 or (left[0] > 0 and not force):
                return
            left[0] = -1
        fn()

    for wait in waits:
        wait(go)
    later(timeout, go, True)


class OutputLedger:
    def __init__(self, dispatch: Callable[[Event], None], later: Later) -> None:
        self._dispatch = dispatch
        self._later = later
        self._next: OrderedDict[str, int] = OrderedDict()
        self._held: dict[str, list[Event]] = {}  # live output waiting for its producers' to show
        self._lock = threading.RLock()

    def after(self, task_id: str, producers: Sequence[WhenDone]) -> None:
        """Show the live output of ``task_id`` only once its producers finished (their output
        shown), at most ``PRODUCERS_FIRST_S`` later: feeds of different servers race, and a
        consumer's prints must follow its producers'."""
        with self._lock:
            self._held.setdefault(task_id, [])
        when_all(producers, lambda: self._show_held(task_id), self._later, PRODUCERS_FIRST_S)

    def _show_held(self, task_id: str) -> None:
        with self._lock:
            for event in self._held.pop(task_id, ()):
                if self._take(task_id, event.chunk):
                    self._dispatch(event)

    def live(self, event: Event) -> None:
        """An OUTPUT event from a feed."""
        with self._lock:
            held = self._held.get(event.task_id)
            if held is not None:
                held.append(event)
                return
            if event.task_id and not self._take(event.task_id, event.chunk):
                return
            self._dispatch(event)

    def settled(self, task_id: str, agent: str, address: str, outcome: pb.Outcome) -> None:
        """A call's outcome arrived: show what it printed that the feed has not shown yet."""
        if task_id in self._held:
            self._show_held(task_id)  # (its producers are done: the call settles after them)
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
