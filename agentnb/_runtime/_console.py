"""The driver's end of the servers' consoles: remote prompts asked of the user, and answered.

A reply's ``input()``, its ``breakpoint()`` and a post-mortem debugger reach
the driver as INPUT events on their server's feed (see
:mod:`agentnb.server._console`). :class:`Console`, a listener of the
session, keeps them until they are asked, and sends the answer back with
``AnswerInput`` (the server's token: only token holders answer). Where they
are asked:

* **in a script**, a thread of its own asks on the terminal as they come;
* **in a notebook**, only the thread that runs a cell can use the kernel's
  stdin, so prompts are asked by that thread while it waits for a
  placeholder (``p.content``, ``p.result()``, ``p.stream()``) or runs
  ``%agentnb debug``: in the cell that waits. A prompt that comes while no
  cell waits is asked by the next cell that does (a line in the calling
  cell says so).

The stop button at a prompt leaves the reply waiting (read the placeholder
again to answer, ``p.cancel()`` to stop the call); at a post-mortem prompt
it ends the debugger.
"""

from __future__ import annotations

import builtins
import logging
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._core._events import Event

log = logging.getLogger("agentnb")

#: Registers a callback run once when what is awaited happened (at once if it has).
Register = Callable[[Callable[[], None]], Any]

#: Prompts whose answers are remembered (a feed followed again repeats events).
_ANSWERED = 10_000
#: Prompts waiting to be asked, at most (the oldest go first); debugger sessions announced.
_PENDING = 1000

_TIPS = {
    "breakpoint": "stopped at breakpoint(); pdb: n next, s step, p EXPR print, l list, w where, "
    "c continue, q stop the call",
    "post-mortem": "post-mortem debugger on the frames of its failed call; p EXPR print, l list, "
    "up/down, w where, c or q end it",
}


@dataclass(frozen=True)
class Prompt:
    """One remote prompt: what to show (its last line is the prompt itself), whose, and where."""

    address: str
    task_id: str
    number: int
    agent: str
    kind: str  # "input", "breakpoint" or "post-mortem"
    text: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.address, self.task_id, self.number)


class Console:
    """The session's pending remote prompts, and the one thread at a time that asks them."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._pending: OrderedDict[tuple[str, str, int], Prompt] = OrderedDict()
        self._answered: set[tuple[str, str, int]] = set()
        self._answered_order: deque[tuple[str, str, int]] = deque()
        self._wakers: list[Callable[[], None]] = []
        self._sessions: set[tuple[str, str]] = set()  # debugger sessions announced
        self._in_cells = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Condition(self._lock)
        #: Called with a line of agentnb's own for the cell a task came from (the notebook sets it).
        self.notice: Callable[[str, str], None] = lambda text, task_id: None

    # -- prompts arrive (a session listener, on the loop thread) ----------------------------

    def __call__(self, event: Event) -> None:
        if event.kind in ("done", "error"):
            if self._pending:
                self.forget(event.task_id)  # its prompts, if any, gave up with it
            return
        if event.kind != "input":
            return
        prompt = Prompt(event.address, event.task_id, event.chunk, event.agent, event.preview or "input",
                        event.text)  # fmt: skip
        with self._lock:
            if prompt.key in self._answered or prompt.key in self._pending:
                return
            self._pending[prompt.key] = prompt
            while len(self._pending) > _PENDING:
                self._pending.popitem(last=False)  # its reply reads end of file when its wait ends
            wakers = list(self._wakers)
            self._ready.notify_all()
            in_cells, idle = self._in_cells, not self._wakers
        for wake in wakers:
            wake()
        if not in_cells:
            self._start_thread()
        elif idle and prompt.kind != "post-mortem":
            self.notice(
                f"agentnb: agent {prompt.agent!r} waits for an answer ({prompt.kind}); read its placeholder "
                "(p.content) to answer here, or p.cancel() to stop the call",
                prompt.task_id,
            )

    def forget(self, task_id: str) -> None:
        """Drop the prompts of a task that ended or was told to stop (nobody waits for them)."""
        with self._lock:
            for key in [k for k in self._pending if k[1] == task_id]:
                del self._pending[key]

    def serve_in_cells(self) -> None:
        """Notebook mode: ask in the thread that runs a cell, while it waits."""
        self._in_cells = True

    # -- waiting in a cell's thread ---------------------------------------------------------

    def wait_serving(self, register: Register, timeout: float | None, only: str = "") -> bool:
        """Wait until ``register``'s callback runs (at most ``timeout`` s), asking the prompts
        that come meanwhile (only task ``only``'s, if given); True if it ran."""
        fired = threading.Event()
        wake = threading.Event()

        def done() -> None:
            fired.set()
            wake.set()

        register(done)
        deadline = None if timeout is None else _now() + timeout
        with self._lock:
            self._wakers.append(wake.set)
        try:
            while not fired.is_set():
                prompt = self._take(only)
                if prompt is not None:
                    self._ask(prompt)
                    continue
                left = None if deadline is None else deadline - _now()
                if left is not None and left <= 0:
                    return False
                wake.wait(left)
                wake.clear()
            return True
        finally:
            with self._lock:
                self._wakers.remove(wake.set)

    def _take(self, only: str = "") -> Prompt | None:
        with self._lock:
            for key, prompt in self._pending.items():
                if not only or prompt.task_id == only:
                    del self._pending[key]
                    return prompt
        return None

    # -- a script: a thread asks on the terminal -----------------------------------------

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._serve_forever, name="agentnb-console", daemon=True)
            self._thread.start()

    def _serve_forever(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._ready.wait()
            prompt = self._take()
            if prompt is not None:
                try:
                    self._ask(prompt)
                except KeyboardInterrupt:
                    return
                except Exception:  # noqa: BLE001 - the console thread must go on
                    log.exception("agentnb: asking a remote prompt failed")

    # -- asking ---------------------------------------------------------------------------

    def _ask(self, prompt: Prompt) -> None:
        """Show the prompt, read the answer here, send it back."""
        shown, _, line = prompt.text.rpartition("\n")
        if prompt.kind in _TIPS and (prompt.address, prompt.task_id) not in self._sessions:
            if len(self._sessions) >= _PENDING:
                self._sessions.clear()
            self._sessions.add((prompt.address, prompt.task_id))
            print(f"agentnb: agent {prompt.agent!r} on {prompt.address}: {_TIPS[prompt.kind]}", flush=True)
        if shown:
            sys.stdout.write(shown + "\n")
            sys.stdout.flush()
        asked = f"[{prompt.agent}] {line}" if prompt.kind == "input" else line
        try:
            text, eof = builtins.input(asked), False
        except EOFError:
            text, eof = "", True
        except KeyboardInterrupt:
            if prompt.kind == "post-mortem":
                self._answer(prompt, "", True)  # the stop button ends a post-mortem debugger
            else:
                with self._lock:  # asked again by the next wait
                    self._pending[prompt.key] = prompt
                    self._pending.move_to_end(prompt.key, last=False)
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. StdinNotImplementedError: no stdin here
            print(f"agentnb: agent {prompt.agent!r} asked for input, which this frontend cannot answer "
                  f"({type(exc).__name__}); it reads end of file", flush=True)  # fmt: skip
            text, eof = "", True
        self._answer(prompt, text, eof)

    def _answer(self, prompt: Prompt, text: str, eof: bool) -> None:
        with self._lock:
            self._answered.add(prompt.key)
            self._answered_order.append(prompt.key)
            while len(self._answered_order) > _ANSWERED:
                self._answered.discard(self._answered_order.popleft())
        link = next((k for k in self._session.links() if k.address == prompt.address and not k.gone), None)
        if link is None:
            print(f"agentnb: cannot answer agent {prompt.agent!r}: this session has no link to "
                  f"{prompt.address}", flush=True)  # fmt: skip
            return
        try:
            self._session.run(
                link.client.answer(prompt.task_id, prompt.number, text, eof),
                link.timeouts.control + link.timeouts.reconnect,
            )
        except Exception as exc:  # noqa: BLE001 - a prompt that gave up waiting: nothing to do
            log.debug("agentnb: answering %s failed: %s", prompt.key, exc)


def _now() -> float:
    return time.monotonic()


# The console that asks in a notebook cell's thread (None in scripts).
_in_cells: Console | None = None


def serve_in_cells(console: Console) -> None:
    """Turn notebook mode on for ``console`` (the notebook layer does, once)."""
    global _in_cells
    console.serve_in_cells()
    _in_cells = console


def serving_here() -> bool:
    """Whether this thread asks remote prompts while it waits (a notebook cell's thread)."""
    return _in_cells is not None and threading.current_thread() is threading.main_thread()


def wait(register: Register, timeout: float | None, only: str = "") -> bool:
    """Wait until ``register``'s callback runs (at most ``timeout`` s); True if it ran.

    In a notebook cell's thread, remote prompts that come meanwhile are asked here.
    """
    console = _in_cells
    if console is not None and threading.current_thread() is threading.main_thread():
        return console.wait_serving(register, timeout, only)
    done = threading.Event()
    register(done.set)
    return done.wait(timeout)
