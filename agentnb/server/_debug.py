"""Debugging replies from the calling cell: ``breakpoint()`` and post-mortem, over the console.

``breakpoint()`` in a reply opens :class:`RemotePdb` on the reply's frame: a
``pdb.Pdb`` whose screen and keyboard are the task's prompts (see
:mod:`._console`), so its listing and ``(Pdb)`` appear in the cell that
waits for the reply, and what is typed there (``p x``, ``n``, ``s``, ``l``,
``c``, ``q``) comes back. Tracing is per thread: the server's other agents
keep answering while this one is stopped. ``c`` goes on; ``q`` (or end of
file, or ``placeholder.cancel()``) stops the call.

A failed call's exception (its frames) is kept, for the last
``Limits.failures_kept`` failures, so ``%agentnb debug`` can open a
post-mortem debugger on them (``PostMortem``), as ``%debug`` does locally.

A debugger runs any code it is given (``p``, ``!``), so it opens only on
servers that accept code (those a driver launched, launchers started with
``--allow-code``): the trust of a token holder who may send code anyway.
Elsewhere ``breakpoint()`` says so and the reply goes on.
"""

from __future__ import annotations

import os
import pdb
import sys
import threading
from collections import OrderedDict
from types import FrameType, TracebackType
from typing import Any

import grpc

from .._core._context import current_task
from ._console import Console, TaskInput
from ._stream import PieceLog, Refused, log_of

#: Frames of these modules are agentnb's own: stepping never stops in them.
SKIP = ["agentnb.server.*", "agentnb._core.*", "agentnb._runtime.*", "agentnb._facade.*", "threading"]
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN = tuple(os.path.join(_PACKAGE, part) + os.sep for part in ("server", "_core", "_runtime", "_facade"))


class _Screen:
    """A debugger's stdout: text gathered until it asks for the next line."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def take(self) -> str:
        text, self._parts = "".join(self._parts), []
        return text


class _Keyboard:
    """A debugger's stdin: each line is a prompt of the task, answered from the caller."""

    def __init__(self, console: Console, agent: str, task_id: str, kind: str, screen: _Screen,
                 stop: PieceLog | None) -> None:  # fmt: skip
        self._console, self._agent, self._task_id, self._kind = console, agent, task_id, kind
        self._screen, self._stop = screen, stop

    def readline(self) -> str:
        answer = self._console.ask(self._agent, self._task_id, self._screen.take(), self._kind, self._stop)
        return "" if answer is None else answer + "\n"  # "": end of file (pdb quits)


class RemotePdb(pdb.Pdb):
    """``pdb`` whose screen and keyboard are a task's prompts in the calling cell."""

    def __init__(
        self, console: Console, agent: str, task_id: str, kind: str, stop: PieceLog | None = None
    ) -> None:
        screen = _Screen()
        keyboard = _Keyboard(console, agent, task_id, kind, screen, stop)
        super().__init__(stdin=keyboard, stdout=screen, skip=SKIP, nosigint=True, readrc=False)  # type: ignore[arg-type]
        self.use_rawinput = False
        self.post_mortem = kind == "post-mortem"
        self._top: FrameType | None = None

    def set_trace(self, frame: FrameType | None = None) -> None:
        self._top = frame  # the reply's frame: once it returns, tracing this thread ends
        super().set_trace(frame)

    def dispatch_return(self, frame: FrameType, arg: Any) -> Any:
        result = super().dispatch_return(frame, arg)
        if frame is self._top:  # never step on into agentnb, or into the next call this thread runs
            self._top = None
            self.set_continue()
            sys.settrace(None)
            return None
        return result

    def _nothing_to_run(self, arg: str) -> int:
        self.message("*** post-mortem: the call is over, there is no next line to run; up/down move "
                     "between its frames, p/pp print, c or q ends the debugger")  # fmt: skip
        return 0

    def do_next(self, arg: str) -> int | None:  # type: ignore[override]
        return self._nothing_to_run(arg) if self.post_mortem else super().do_next(arg)

    def do_step(self, arg: str) -> int | None:  # type: ignore[override]
        return self._nothing_to_run(arg) if self.post_mortem else super().do_step(arg)

    def do_until(self, arg: str) -> int | None:  # type: ignore[override]
        return self._nothing_to_run(arg) if self.post_mortem else super().do_until(arg)

    def do_return(self, arg: str) -> int | None:  # type: ignore[override]
        return self._nothing_to_run(arg) if self.post_mortem else super().do_return(arg)

    do_n, do_s, do_unt, do_r = do_next, do_step, do_until, do_return  # type: ignore[assignment]


def breakpointhook(*args: Any, **kwargs: Any) -> None:
    """``sys.breakpointhook`` of a server: in a reply, a debugger in the calling cell."""
    task = current_task()
    console: Console | None = task.console if task is not None else None
    if task is None or console is None:
        previous = getattr(breakpointhook, "previous", sys.__breakpointhook__)
        return previous(*args, **kwargs)  # type: ignore[no-any-return]
    if not console.debugging:
        print(
            "agentnb: breakpoint() skipped: this server does not accept code, and a debugger runs any "
            "code it is given (start the launcher with --allow-code to debug here)"
        )
        return None
    stop = log_of(task.entry) if task.entry is not None else None
    frame: FrameType | None = sys._getframe(1)
    RemotePdb(console, task.agent, task.task_id, "breakpoint", stop).set_trace(frame)
    return None


class Failures:
    """The exceptions of the last failed calls (their frames), for post-mortem debugging."""

    def __init__(self, console: Console, keep: int) -> None:
        self._console = console
        self._keep = keep if console.debugging else 0  # frames hold memory: only where debugging is allowed
        self._lock = threading.Lock()
        self._failed: OrderedDict[str, tuple[str, BaseException]] = OrderedDict()
        self._open: set[str] = set()

    def failed(self, task_id: str, agent: str, exc: BaseException) -> None:
        if not self._keep or exc.__traceback__ is None:
            return
        with self._lock:
            self._failed[task_id] = (agent, exc)
            while len(self._failed) > self._keep:
                self._failed.popitem(last=False)

    def post_mortem(self, task_id: str, context: Any) -> None:
        """Run a post-mortem debugger on a failed call's frames until it ends (``PostMortem``).

        Raises:
            Refused: debugging is not allowed here, the frames are not kept, or a
                debugger is open on them already.
        """
        if not self._console.debugging:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                "this server does not accept code, and a debugger runs any code it is given; start "
                "the launcher with --allow-code to debug here",
                "code_not_accepted",
            )
        with self._lock:
            kept = self._failed.get(task_id)
            if kept is not None and task_id in self._open:
                raise Refused(grpc.StatusCode.FAILED_PRECONDITION, "a debugger is open on this call already")
            if kept is not None:
                self._open.add(task_id)
        if kept is None:
            raise Refused(
                grpc.StatusCode.NOT_FOUND,
                f"the frames of task {task_id} are not kept here: this server keeps those of its last "
                f"{self._keep} failed calls (Limits.failures_kept)",
                "no_frames",
            )
        agent, exc = kept
        stop = PieceLog()
        context.add_callback(stop.stop)  # the driver went away: the debugger ends
        try:
            debugger = RemotePdb(self._console, agent, task_id, "post-mortem", stop)
            debugger.reset()
            debugger.interaction(None, _from_user_code(exc.__traceback__))
        except Exception:  # noqa: BLE001 - a stopped or quit debugger simply ends
            pass
        finally:
            with self._lock:
                self._open.discard(task_id)


def _from_user_code(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame that is not agentnb's own (the reply's)."""
    start = tb
    while start is not None and start.tb_frame.f_code.co_filename.startswith(_OWN) and start.tb_next:
        start = start.tb_next
    return start


_installed = threading.Lock()


def install() -> None:
    """Make ``sys.stdin`` task-aware and ``breakpoint()`` open a debugger in the caller (idempotent)."""
    with _installed:
        if not isinstance(sys.stdin, TaskInput):
            sys.stdin = TaskInput(sys.stdin)
        if sys.breakpointhook is not breakpointhook:
            breakpointhook.previous = sys.breakpointhook  # type: ignore[attr-defined]
            sys.breakpointhook = breakpointhook
