"""Following a server's event feed for as long as the session uses the server.

A new feed starts where its session's use of the server starts: the first
event of a server the session launched, or, for a server it attached to (a
launcher), the last event before its first contact (what other drivers did
there earlier is theirs: their prints are not shown here). A feed that ends
while its server lives (a dropped connection, a restarted
launcher) is followed again from the last event number seen, so nothing is
shown twice and nothing is missed while the server's log still holds it (a
note says how many events it no longer held). agentnb says in one line when
the connection drops and when it is back. Output events go through the
session's :class:`~._output.OutputLedger` (each chunk once); the others update
task states and reach the listeners (the graph).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from .._core._errors import AgentnbError, AuthenticationError
from .._core._events import GONE, Event
from ._client import ServerClient
from ._codec import decode_event, decode_events

log = logging.getLogger("agentnb")

MAX_BACKOFF = 2.0


class TaskStates:
    """The last known state of recent tasks (bounded)."""

    def __init__(self, size: int = 200_000) -> None:
        self._states: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def update(self, event: Event) -> None:
        if event.kind in ("output", "input") or not event.task_id:
            return
        self._states[event.task_id] = event.kind
        self._states.move_to_end(event.task_id)
        while len(self._states) > self._size:
            self._states.popitem(last=False)

    def get(self, task_id: str) -> str | None:
        return self._states.get(task_id)


class Feed:
    """One server's event stream, read on the driver's loop until :meth:`stop`."""

    def __init__(
        self,
        client: ServerClient,
        handle: Callable[[Event], None],
        notice: Callable[[str], None],
        alive: Callable[[], bool],
        since: tuple[int, str] = (0, ""),
        watched: Callable[[], bool] = lambda: True,
    ) -> None:
        self.client = client
        self._handle = handle
        self._notice = notice
        self._alive = alive
        self._watched = watched  # someone listens to every event (else merged ones stay merged)
        self.seq, self.server_id = since  # (0, ""): from the server's first event
        self.drops = 0
        self._progress = asyncio.Condition()
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        self.task.cancel()

    async def reached(self, seq: int, server_id: str, timeout: float) -> bool:
        """Wait until every event up to ``seq`` of instance ``server_id`` was handled."""

        def done() -> bool:
            return self.seq >= seq or (bool(self.server_id) and self.server_id != server_id)

        async with self._progress:
            try:
                await asyncio.wait_for(self._progress.wait_for(done), timeout)
            except asyncio.TimeoutError:
                return False
        return True

    async def _run(self) -> None:
        address = self.client.address
        watched = self._watched
        lost = ""
        backoff = 0.1
        while self._alive():
            try:
                async for batch in self.client.events(self.seq, self.server_id):
                    if lost:
                        self._notice(f"agentnb: the connection to {address} is back")
                        lost, backoff = "", 0.1
                    if batch.server_id != self.server_id:
                        if self.server_id:
                            self.seq = 0  # another instance (a restarted launcher): its own numbers
                        self.server_id = batch.server_id
                    if batch.dropped:
                        self._notice(
                            f"agentnb: {batch.dropped:,} events of {address} (prints, graph updates) were "
                            "lost: the server's event log did not hold them any more"
                        )
                    for raw in batch.events:
                        self.seq = raw.seq
                        if watched():  # a listener (the graph) sees each state a call went through
                            for event in decode_events(raw, address):
                                self._handle(event)
                        else:  # only the last one counts (TaskStates, output)
                            self._handle(decode_event(raw, address))
                    async with self._progress:
                        self._progress.notify_all()
                ended = "the server ended the feed"
            except AuthenticationError as exc:
                log.warning("agentnb: stopped following %s: %s", address, exc)
                return
            except AgentnbError as exc:
                ended = str(exc)
            if self._alive() and not lost:
                self.drops += 1
                lost = ended
                self._notice(f"agentnb: lost the connection to {address}; reconnecting")
                log.debug("event feed of %s ended: %s", address, ended)
            if self._alive():
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
        # the server stopped (or the session stopped using it): what did not finish there never will
        self._handle(Event(GONE, "", "", address, timestamp=time.time(), preview="its server stopped"))
