"""Big replies give their memory back: a server's RSS returns once nothing holds them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from agents import Blob, Echo

import agentnb
from agentnb import Msg
from agentnb._runtime import _memory

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(_memory._off, reason="not glibc, or MALLOC_* set: the allocator is left alone"),
]
MiB = 1 << 20


def rss(pid: int) -> int:
    """A process's resident memory in bytes, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def rss_back(pid: int, limit: int, deadline_s: float) -> tuple[bool, int]:
    """Poll ``pid``'s RSS until it is at most ``limit`` bytes or ``deadline_s`` passes."""
    deadline = time.monotonic() + deadline_s
    pause = threading.Event()
    while True:
        now = rss(pid)
        if now <= limit or time.monotonic() >= deadline:
            return now <= limit, now
        pause.wait(0.2)


def test_a_server_gives_back_the_memory_of_400_replies_of_500_kb_once_they_are_released() -> None:
    echo = Echo(name="E").to_dist()
    echo(Msg("user", "warm")).result(timeout=60)  # a small message: nothing tuned, nothing kept
    port = int(echo.link.address.rsplit(":", 1)[1])
    blobs = [Blob(name=f"B{i}", size=500_000).to_dist(port=port) for i in range(8)]
    pid = echo.server.pid
    before = rss(pid)

    def read(i: int) -> agentnb.Placeholder:
        p = blobs[i % 8](Msg("user", "x"))
        assert len(p.content) == 500_000
        return p

    with ThreadPoolExecutor(16) as readers:  # read as they come, by many threads (many arenas)
        held = list(readers.map(read, range(400)))  # kept: the server keeps them too
    grown = rss(pid) - before
    assert grown > 60 * MiB, f"the replies took only {grown / MiB:.0f} MiB: this test shows nothing"
    del held  # the replies are dropped: the driver releases them, the server forgets them
    back, now = rss_back(pid, before + 30 * MiB, 30.0)
    assert back, (
        f"the server's RSS is {(now - before) / MiB:.0f} MiB over its {before / MiB:.0f} MiB before, "
        f"30 s after the replies were released"
    )
    assert echo(Msg("user", "still here")).content == "still here"
