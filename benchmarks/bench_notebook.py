"""Notebook-facing start-up costs, each beside a baseline measured in the same run.

* reattach: a re-run ``to_dist()`` cell finding its live agent (target <= 5 ms),
  against a plain call round trip to that agent;
* cold start: ``to_dist()`` of a new agent until its first reply (target <= 0.25 s),
  against a plain Python process that imports grpc, binds a port and says so.

    python benchmarks/bench_notebook.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import agentnb
from agentnb import AgentBase, Msg
from agentnb._runtime._session import get_session

BIND = (
    "import grpc\nfrom concurrent import futures\n"
    "s = grpc.server(futures.ThreadPoolExecutor(1))\n"
    "print(s.add_insecure_port('127.0.0.1:0'), flush=True)\n"
)


class Echo(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, None if x is None else x.content)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def plain_spawn_bind(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", BIND], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        out.append(time.perf_counter() - start)
        proc.kill()
        proc.wait()
    return out


def cold_starts(runs: int, spare: bool = False) -> list[float]:
    """``to_dist()`` + first reply; with ``spare``, as in a notebook, where a server
    is started ahead while the user reads and types (we wait for it between runs)."""
    session = get_session()
    session.keep_spare(spare)
    out = []
    for i in range(runs):
        if spare and session._spare is not None:
            session._spare[1].result(30)  # the user's think time between cells
        start = time.perf_counter()
        Echo(name=f"cold{i}-{spare}").to_dist()(None).result(timeout=30)
        out.append(time.perf_counter() - start)
    session.keep_spare(False)
    return out


def reattaches(runs: int) -> tuple[list[float], list[float]]:
    agent = Echo(name="again").to_dist()
    calls, again = [], []
    for _ in range(runs):
        start = time.perf_counter()
        agent(Msg("user", "x")).result(timeout=30)
        calls.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert Echo(name="again").to_dist() is agent
        again.append(time.perf_counter() - start)
    return again, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = median_ms(plain_spawn_bind(args.runs))
    print(f"{'plain spawn+import+bind':>28}: {base:8.1f} ms")
    for label, spare in (("cold to_dist -> first reply", False), ("... with a warm spare", True)):
        cold = median_ms(cold_starts(args.runs, spare))
        verdict = "OK" if cold <= 250 else "OVER TARGET"
        print(f"{label:>28}: {cold:8.1f} ms  ({cold / base:.2f}x baseline; "
              f"target <= 250 ms: {verdict})")  # fmt: skip
    again, calls = reattaches(200)
    again_ms, call_ms = median_ms(again), median_ms(calls)
    verdict = "OK" if again_ms <= 5 else "OVER TARGET"
    print(f"{'call round trip':>28}: {call_ms:8.3f} ms")
    print(f"{'reattach (re-run to_dist)':>28}: {again_ms:8.3f} ms  ({again_ms / call_ms:.2f}x a call; "
          f"target <= 5 ms: {verdict})")  # fmt: skip
    agentnb.shutdown()


if __name__ == "__main__":
    main()
