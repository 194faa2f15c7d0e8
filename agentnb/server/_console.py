"""A server's console: ``input()`` in a reply (and its debuggers) asks the caller, who answers.

A reply runs in a server process that has no terminal. Its ``input()``
reads ``sys.stdin``, which :func:`install` replaces by :class:`TaskInput`:
in a thread running a reply, a line read is a *prompt* of that task. The
prompt (what was printed before it on the same line, or a debugger's screen
and ``(Pdb)``) goes to the caller as an INPUT event on the server's feed;
the driver asks its user (in the notebook cell that waits, or on a script's
terminal) and answers with ``AnswerInput``. The reply's thread waits, and
the server's other agents keep answering.

Every wait ends: answered; told to stop (``placeholder.cancel()``: the reply
fails with CallCancelled); after ``Limits.answer_wait`` seconds, or when
nobody follows the feed, with end of file (``input()`` raises EOFError, a
debugger quits); or when the server stops.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, TextIO

import grpc

from .._core._context import current_task
from .._core._errors import RemoteError
from . import _output
from ._events import MAX_TEXT, EventBus, Kind
from ._stream import Refused, log_of

if TYPE_CHECKING:
    from ._stream import PieceLog

#: Prompt numbers remembered per task (so a task's prompts never reuse a number).
_TASKS = 10_000


class _Prompt:
    __slots__ = ("event", "answer", "answered")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.answer: str | None = None
        self.answered = False


class Console:
    """The prompts of one server's replies that wait for their callers' answers.

    Args:
        bus: the server's event feed (prompts travel on it).
        address: the server's address, for errors.
        wait_s: how long a prompt waits for its answer (``Limits.answer_wait``).
        debugging: debuggers may open (the server accepts code: a debugger runs any code).
    """

    def __init__(self, bus: EventBus, address: str, wait_s: float, debugging: bool) -> None:
        self._bus = bus
        self.address = address
        self.wait_s = wait_s
        self.debugging = debugging
        self._lock = threading.Lock()
        self._prompts: dict[tuple[str, int], _Prompt] = {}
        self._numbers: OrderedDict[str, int] = OrderedDict()
        self._closed = False

    def ask(
        self,
        agent: str,
        task_id: str,
        text: str,
        kind: str = "input",
        stop: PieceLog | None = None,
        key: str = "",
    ) -> str | None:
        """Show ``text`` (its last line is the prompt) to the caller and wait for the answer.

        Returns:
            The answer (without a newline), or None for end of file.

        Raises:
            RemoteError: the call was told to stop (CallCancelled).
        """
        if not self._bus.recording or self._closed:
            return None  # nobody follows this server's feed: nobody could answer
        prompt = _Prompt()
        with self._lock:
            number = self._numbers.pop(task_id, 0)
            self._numbers[task_id] = number + 1
            while len(self._numbers) > _TASKS:
                self._numbers.popitem(last=False)
            self._prompts[(task_id, number)] = prompt
        remove = stop.listen(prompt.event.set) if stop is not None else None
        try:
            if len(text) > MAX_TEXT:
                text = "(agentnb: the start of this text was cut)\n" + text[-MAX_TEXT:]
            self._bus.publish(
                Kind.INPUT, task_id, agent, text=text, chunk=number, preview=kind, message_id=key
            )
            deadline = time.monotonic() + self.wait_s
            while not prompt.answered:
                if stop is not None and stop.stopping:
                    raise RemoteError(
                        agent, self.address, "CallCancelled",
                        "the call was stopped while it waited for an answer (placeholder.cancel())",
                    )  # fmt: skip
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                prompt.event.wait(left)
                prompt.event.clear()
            return prompt.answer
        finally:
            with self._lock:
                self._prompts.pop((task_id, number), None)
            if remove is not None:
                remove()

    def ask_task(self, task: Any, text: str, kind: str) -> str | None:
        """:meth:`ask` for the reply a :class:`TaskContext` describes (stopped as its call is)."""
        entry = task.entry
        stop = log_of(entry) if entry is not None else None
        return self.ask(task.agent, task.task_id, text, kind, stop, entry.key if entry is not None else "")

    def answer(self, task_id: str, number: int, text: str, eof: bool) -> None:
        """Answer a waiting prompt (raises Refused NOT_FOUND if none waits under that number)."""
        with self._lock:
            prompt = self._prompts.get((task_id, number))
            if prompt is None or prompt.answered:
                raise Refused(
                    grpc.StatusCode.NOT_FOUND,
                    f"no prompt {number} of task {task_id} waits on this server (answered already, "
                    "stopped, or it gave up waiting)",
                    "no_prompt",
                )
            prompt.answer, prompt.answered = (None if eof else text), True
        prompt.event.set()

    def waiting(self, task_id: str) -> bool:
        """Whether a prompt of this task waits for its answer."""
        with self._lock:
            return any(key[0] == task_id for key in self._prompts)

    def close(self) -> None:
        """The server stops: every prompt reads end of file."""
        self._closed = True
        with self._lock:
            prompts = list(self._prompts.values())
        for prompt in prompts:
            prompt.event.set()


class TaskInput(io.TextIOBase):
    """``sys.stdin`` of a server: in a reply's thread a line read is asked of the caller."""

    def __init__(self, real: TextIO | None) -> None:
        self._real = real

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        task = current_task()
        if task is None or task.console is None:
            return self._real.readline(-1 if size is None else size) if self._real is not None else ""
        # the prompt: what the reply printed on this line so far (input() writes it to stdout)
        answer = task.console.ask_task(task, _output.take_partial(), "input")
        return "" if answer is None else answer + "\n"

    def read(self, size: int | None = -1) -> str:
        return self.readline(size)

    def fileno(self) -> int:
        if self._real is None:
            raise io.UnsupportedOperation("fileno")
        return self._real.fileno()

    @property
    def buffer(self) -> Any:
        """The real stdin's bytes (a server watches its parent through it)."""
        return getattr(self._real, "buffer", None)

    def __getattr__(self, name: str) -> Any:
        """Anything else is the real stdin's (its ``name``, ``mode``, ...)."""
        if name.startswith("__") or self.__dict__.get("_real") is None:
            raise AttributeError(name)
        return getattr(self._real, name)
