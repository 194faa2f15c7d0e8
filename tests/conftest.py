from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Iterator

import pytest

import agentnb
from agentnb._events import Event
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


def wait_state(placeholder: agentnb.Placeholder, state: str, timeout: float = 30) -> None:
    """Wait on the event feed until a call reaches ``state`` (e.g. "running")."""
    reached = threading.Event()

    def listen(event: Event) -> None:
        if event.task_id == placeholder.task_id and event.kind == state:
            reached.set()

    session = get_session()
    session.listeners.append(listen)
    try:
        if placeholder.state != state:
            assert reached.wait(timeout), f"{placeholder!r} did not reach {state!r} in {timeout} s"
    finally:
        session.listeners.remove(listen)
