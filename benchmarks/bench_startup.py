"""Start-up: importing agentnb, a cold ``to_dist()`` until its first reply, an idle server's memory.

Each figure beside baselines measured in the same run, every sample in a
fresh process (medians of ``--runs``):

* ``import agentnb`` (and ``from agentnb import AgentBase, Msg``, what a
  program's first line does), against ``python -c pass`` and ``import grpc``;
  target <= 150 ms.
* a cold ``to_dist()`` until the agent's first reply, in a process that has
  imported agentnb (the server process starts, imports and binds; the driver
  loads its session and links), against ``import grpc``; target <= 200 ms.
* an idle agent server's PSS (one agent), against a plain grpcio server
  process's; target <= the plain server + 2 MiB.

    python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _plain  # noqa: E402
from _common import row, save  # noqa: E402

COLD = """
import time
start = time.perf_counter()
from agentnb import AgentBase, Msg
class Echo(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, None)
imported = time.perf_counter()
Echo(name="cold").to_dist()(None).result(timeout=60)
print(imported - start, time.perf_counter() - imported)
"""

IDLE = """
import sys, time
from agentnb import AgentBase, Msg
class Echo(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, None)
e = Echo(name="idle").to_dist()
e(None).result(timeout=60)
print(e.server.pid, flush=True)
sys.stdin.readline()
"""


def _wall(code: str) -> float:
    """Seconds a fresh ``python -c code`` takes, start to exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def _pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    raise KeyError("Pss")


def idle_server_pss(settle: float = 2.0) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", IDLE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        pid = int(proc.stdout.readline())
        time.sleep(settle)  # idle: let its threads park
        return _pss(pid)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)


def plain_server_pss(settle: float = 2.0) -> float:
    with _plain.plain_process("sync") as (proc, _address):
        time.sleep(settle)
        return _pss(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    runs = args.runs
    bare = statistics.median(_wall("pass") for _ in range(runs))
    grpc_import = statistics.median(_wall("import grpc") for _ in range(runs))
    imports, colds = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], check=True, capture_output=True, text=True)
        imported, cold = map(float, out.stdout.split())
        imports.append(imported)
        colds.append(cold)
    bare_import = statistics.median(_wall("import agentnb") for _ in range(runs))
    rows = [
        row("python -c pass (s)", bare, bare, "s", "baseline", True),
        row("python -c 'import grpc' (s)", grpc_import, bare, "s", "baseline", True),
        row(
            "python -c 'import agentnb' (s)",
            bare_import,
            grpc_import,
            "s",
            "<= 0.150 s",
            bare_import <= 0.150,
            "beside import grpc",
        ),  # fmt: skip
        row(
            "from agentnb import AgentBase, Msg (s)",
            statistics.median(imports),
            grpc_import,
            "s",
            "<= 0.150 s",
            statistics.median(imports) <= 0.150,
            "in-process; beside import grpc",
        ),  # fmt: skip
        row(
            "cold to_dist() -> first reply (s)",
            statistics.median(colds),
            grpc_import,
            "s",
            "<= 0.200 s",
            statistics.median(colds) <= 0.200,
            "agentnb imported; beside import grpc",
        ),  # fmt: skip
    ]
    ours, plain = idle_server_pss(), plain_server_pss()
    rows.append(row("idle agent server, PSS (MiB)", ours / 2**20, plain / 2**20, "MiB", "<= plain + 2 MiB",
                    ours <= plain + 2 * 2**20, "one agent; a plain grpcio server process"))  # fmt: skip
    print(f"results: {save('startup', rows)}")


if __name__ == "__main__":
    main()
