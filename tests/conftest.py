from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator

import pytest

import agentnb
from agentnb._core._events import Event
from agentnb._runtime import _calls
from agentnb._runtime._session import get_session

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _stop_servers() -> Iterator[None]:
    """Every test stops the servers it launched."""
    yield
    agentnb.shutdown()


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait (without polling sleeps) until a process that is not our child exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def say_when_waiting(text: str, timeout: float = 30) -> None:
    """Print ``text`` once the main thread waits on a placeholder (for tests that interrupt it).

    The kernel's stop button must land in the wait itself, not in the lines
    before it: a thread looks at the main thread's frames until one is the
    wait (there is no event for "this thread now blocks"), for ``timeout`` s.
    """
    main = threading.main_thread().ident

    def waiting() -> bool:
        frame = sys._current_frames().get(main)
        while frame is not None:
            if frame.f_code is _calls.Call._result.__code__:
                return True
            frame = frame.f_back
        return False

    def watch() -> None:
        pause = threading.Event()
        for _ in range(int(timeout / 0.005)):
            if waiting():
                print(text, flush=True)
                return
            pause.wait(0.005)

    threading.Thread(target=watch, daemon=True).start()


def wait_state(placeholder: agentnb.Placeholder, state: str, timeout: float = 30) -> None:
    """Wait on the event feed until a call reaches ``state`` (e.g. "running")."""
    reached = threading.Event()

    def listen(event: Event) -> None:
        if event.task_id == placeholder.task_id and event.kind == state:
            reached.set()

    assert placeholder.call.acked_or_wait(timeout), f"{placeholder!r} was not acknowledged in {timeout} s"
    session = get_session()
    unsubscribe = session.subscribe(listen)
    try:  # the event may have come before the acknowledgement: its state says so then
        if placeholder.state != state:
            assert reached.wait(timeout), f"{placeholder!r} did not reach {state!r} in {timeout} s"
    finally:
        unsubscribe()


LONG = "test_long_sessions.py"
_idle: dict[str, subprocess.Popen[str]] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the idle-session driver now, in the background, and check it last."""
    long = [item for item in items if item.path.name == LONG]
    if not long:
        return
    items[:] = [item for item in items if item.path.name != LONG] + long
    from test_long_sessions import IDLE_S

    here = os.path.dirname(__file__)
    gate = os.path.join(tempfile.mkdtemp(prefix="agentnb-idle-"), "gate")
    _idle["proc"] = subprocess.Popen(
        [sys.executable, os.path.join(here, "scenarios", "idle_session.py"), str(IDLE_S), gate],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])),
    )


@pytest.fixture
def idle_session() -> Iterator[subprocess.Popen[str]]:
    proc = _idle.get("proc")
    if proc is None:
        pytest.skip("the idle-session driver was not started at collection")
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def pytest_unconfigure(config: pytest.Config) -> None:
    proc = _idle.pop("proc", None)
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)
