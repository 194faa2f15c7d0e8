"""A process's first to_dist() starts its server while the session loads, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = """
import os
import agentnb
from agentnb import Msg
from agents import Echo

def children():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    found.append(int(pid))
        except OSError:
            pass
    return found

first = Echo(name="E").to_dist()
second = Echo(name="F").to_dist()
print(first(Msg("user", "hi")).content, second(Msg("user", "ho")).content)
print(sorted(children()) == sorted([first.server.pid, second.server.pid]))
agentnb.shutdown()
print(children())
"""


def test_the_first_to_dist_uses_the_server_started_ahead_and_shutdown_leaves_no_process() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=HERE
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["hi ho", "True", "[]"]
