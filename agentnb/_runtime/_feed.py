"""Following a server's event feed: task states for placeholders, events for listeners."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from .._errors import AgentnbError
from .._events import Event
from ._client import ServerClient
from ._codec import decode_event

log = logging.getLogger("agentnb")

Listener = Callable[[Event], None]


class TaskStates:
    """The last known state of recent tasks (bounded)."""

    def __init__(self, size: int = 100_000) -> None:
        self._states: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def update(self, event: Event) -> None:
        if event.kind == "output" or not event.task_id:
            return
        self._states[event.task_id] = event.kind
        self._states.move_to_end(event.task_id)
        while len(self._states) > self._size:
            self._states.popitem(last=False)

    def get(self, task_id: str) -> str | None:
        return self._states.get(task_id)


class Feed:
    """One server's event stream, read on the driver's loop until the server goes."""

    def __init__(self, client: ServerClient, states: TaskStates, listeners: list[Listener]) -> None:
        self.client = client
        self._states = states
        self._listeners = listeners
        self.task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        address = self.client.address
        try:
            async for batch in self.client.events(0):
                if batch.dropped:
                    log.warning("missed %d events from %s (the driver was too slow)", batch.dropped, address)
                for raw in batch.events:
                    self._dispatch(decode_event(raw, address))
        except AgentnbError as exc:
            log.debug("event feed of %s ended: %s", address, exc)

    def _dispatch(self, event: Event) -> None:
        self._states.update(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must not stop the feed
                log.exception("agentnb event listener %r failed", listener)
