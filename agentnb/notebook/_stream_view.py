"""Streaming replies in the cell that made the call: their text grows in place.

A session listener: the first STREAMING event of a call made in a cell opens
a display there (written with that cell's parent header, as remote prints
are), fed by the call's pieces (:mod:`agentnb._runtime._stream`) and updated
in place at most ``RATE`` times a second, then once more when the reply is
done. A call whose pieces a program reads itself (``p.stream()``, ``async
for``) before it streams gets no display: the program shows what it wants.
At most ``MAX_LIVE`` displays are live at once; further calls stream
without one (their prints still come).
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from .._core._events import Event
from .._runtime._session import Session
from .._runtime._stream import PieceFeed, feed_of_task

log = logging.getLogger("agentnb")

#: Updates of one display per second, at most.
RATE = 10.0
#: Displays updated live at once, at most.
MAX_LIVE = 16
#: Calls remembered (so a call gets one display).
_REMEMBERED = 1000
#: A streaming event whose call's cell is not known yet is looked at again this often, this many times.
ORIGIN_PAUSE_S, ORIGIN_TRIES = 0.05, 20


class StreamText:
    """What a display shows: the agent's name and its text so far (a cursor while it streams)."""

    def __init__(self, agent: str, text: str, state: str) -> None:
        self.agent, self.text, self.state = agent, text, state

    def _repr_html_(self) -> str:
        tail = {"streaming": '<span class="agentnb-cursor">▍</span>', "error": " (failed)"}.get(
            self.state, ""
        )
        return (
            f'<pre class="agentnb-stream agentnb-stream-{self.state}" style="white-space:pre-wrap;margin:0">'
            f"<b>[{html.escape(self.agent)}]</b> {html.escape(self.text)}{tail}</pre>"
        )

    def __repr__(self) -> str:
        tail = {"streaming": "▍", "error": " (failed)"}.get(self.state, "")
        return f"[{self.agent}] {self.text}{tail}"


class _View:
    """One call's display, updated in place (throttled) as its pieces come."""

    def __init__(self, shell: Any, parent: Any, feed: PieceFeed, loop: Any, on_end: Any) -> None:
        from IPython.display import display

        self._shell, self._parent, self._feed, self._loop, self._on_end = shell, parent, feed, loop, on_end
        self._last = 0.0
        self._shown = ""
        self._scheduled = self._over = False
        self._lock = threading.Lock()
        first = self._text()
        self._shown = repr(first)
        self._handle = self._in_cell(lambda: display(first, display_id=True))
        feed.watch(self._changed)
        self._changed()

    def _in_cell(self, show: Any) -> Any:
        tokens = self._shell.set_thread_parent(self._parent)
        try:
            return show()
        finally:
            self._shell.reset_thread_parent(tokens)

    def _text(self) -> StreamText:
        feed = self._feed
        state = "streaming" if not feed.ended else "done" if feed.error is None else "error"
        if feed.outcome is not None and feed.outcome.WhichOneof("result") == "failure":
            state = "error"
        return StreamText(feed.agent, feed.text(), state)

    def _changed(self) -> None:
        """A piece came, or the stream ended (on the thread that reads the pieces)."""
        if self._feed.ended:
            with self._lock:
                over, self._over = self._over, True
            if not over:
                self._update()
                self._on_end()
            return
        with self._lock:
            if self._scheduled:
                return
            wait = self._last + 1.0 / RATE - time.monotonic()
            self._scheduled = True
        if wait <= 0:
            self._update()
        else:
            self._loop.call_soon(lambda: self._loop.loop.call_later(wait, self._update))

    def _update(self) -> None:
        with self._lock:
            self._scheduled = False
            self._last = time.monotonic()
        text = self._text()
        shown = repr(text)
        if self._handle is not None and shown != self._shown:  # nothing new: nothing sent
            self._shown = shown
            self._in_cell(lambda: self._handle.update(text))


class StreamViews:
    """Session listener: opens a display in the calling cell for each streaming call made in one."""

    def __init__(self, shell: Any, session: Session) -> None:
        self._shell = shell
        self._session = session
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._live = 0

    def __call__(self, event: Event, tries: int = 0) -> None:
        if event.kind != "streaming":
            return
        key = (event.address, event.task_id)
        origins = self._session.origins  # by task id; a call read at once, by its key till then
        parent = origins.get(event.task_id) or (origins.get(event.message_id) if event.message_id else None)
        if parent is None and tries < ORIGIN_TRIES:
            # a reply may stream before its call's acknowledgement reached this driver (under
            # load): look again shortly, on the loop (where listeners run)
            asyncio.get_running_loop().call_later(ORIGIN_PAUSE_S, self, event, tries + 1)
            return
        with self._lock:
            if key in self._seen or parent is None:
                return
            self._seen[key] = True
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
            if self._live >= MAX_LIVE:
                return
            self._live += 1
        link = next((k for k in self._session.links() if k.address == event.address and not k.gone), None)
        if link is None:
            self._ended()
            return
        feed = feed_of_task(link, event.task_id, event.agent)
        if feed.user:  # a program reads its pieces itself
            self._ended()
            return
        try:
            _View(self._shell, parent, feed, self._session.loop, self._ended)
        except Exception:  # noqa: BLE001 - a display that cannot be made: the call goes on without
            log.debug("agentnb: showing a stream in its cell failed", exc_info=True)
            self._ended()

    def _ended(self) -> None:
        with self._lock:
            self._live -= 1


def install(shell: Any, session: Session) -> None:
    """Show streaming replies in their calling cells (the notebook layer calls it once)."""
    session.subscribe(StreamViews(shell, session))
