"""Memory given back after big messages, beside the speed the allocator tuning buys.

    python benchmarks/bench_memory.py [--quick]

Targets (issue 16), each against figures measured in the same run:

* a server, and its driver, back within 30 MiB of their RSS before within
  30 s of 400 replies of 500 KB (16 reader threads) and of 64 readers of
  8 MiB replies (64 threads, all in flight at once);
* 1 MiB and 10 MiB round trips (p50) close to what they were before the
  memory was given back: within 1.2x of the same calls with trimming off
  (``AGENTNB_MALLOC_TRIM=0``: the allocator tuning as it was), reported beside
  the plain grpcio echo floor and an untuned allocator
  (``MALLOC_TRIM_THRESHOLD_`` set: agentnb leaves glibc alone).

Each allocator setting runs in a process of its own (a driver and its server),
one after another.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _plain  # noqa: E402
from _common import Echo, p50, row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import AgentBase, Msg  # noqa: E402
from agentnb._runtime import _memory  # noqa: E402

MiB = 1 << 20
BACK_WITHIN = 30 * MiB
DEADLINE_S = 30.0
MODES = {
    "tuned, trimmed": {},
    "tuned, not trimmed": {"AGENTNB_MALLOC_TRIM": "0"},
    "untuned": {"MALLOC_TRIM_THRESHOLD_": "131072"},
}


class Blob(AgentBase):
    """Replies with ``size`` bytes."""

    def __init__(self, name: str, size: int) -> None:
        super().__init__(name)
        self.size = size

    def reply(self, x=None):
        return Msg(self.name, b"x" * self.size)


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def episode(pids: dict[str, int], burst: Callable[[], None]) -> dict[str, Any]:
    """RSS of each process before, at its peak during, and after ``burst`` (polled until all
    are back within 30 MiB of before, at most 30 s)."""
    before = {who: rss(pid) for who, pid in pids.items()}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            for who, pid in pids.items():
                peak[who] = max(peak[who], rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    burst()
    gc.collect()
    done.set()
    sampler.join()
    ended = time.monotonic()
    while True:
        after = {who: rss(pid) for who, pid in pids.items()}
        waited = time.monotonic() - ended
        if all(after[w] <= before[w] + BACK_WITHIN for w in pids) or waited >= DEADLINE_S:
            break
        time.sleep(0.25)
    return {"before": before, "peak": peak, "after": after, "seconds": waited}


def round_trip(agent: Any, size: int, calls: int) -> float:
    msg = Msg("user", os.urandom(size))
    for _ in range(3):
        agent(msg).result(timeout=60)
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        agent(msg).result(timeout=60)
        out.append(time.perf_counter() - start)
    return p50(out)


def after_quiet(agent: Any, size: int, samples: int) -> float:
    """A round trip after a quiet spell (the trimmer has given the memory back)."""
    msg = Msg("user", os.urandom(size))
    out = []
    for _ in range(samples):
        time.sleep(_memory.QUIET_S + 1.0)
        start = time.perf_counter()
        agent(msg).result(timeout=60)
        out.append(time.perf_counter() - start)
    return p50(out)


def child(quick: bool, memory: bool) -> dict[str, Any]:
    """One allocator setting: the memory episodes, then the round trips."""
    first = Blob(name="small0", size=500_000).to_dist()
    port = int(first.link.address.rsplit(":", 1)[1])
    small = [first] + [Blob(name=f"small{i}", size=500_000).to_dist(port=port) for i in range(1, 8)]
    big = [Blob(name=f"big{i}", size=8 * MiB).to_dist(port=port) for i in range(8)]
    echo = Echo(name="echo").to_dist(port=port)
    echo(Msg("user", "warm")).result(timeout=60)
    pids = {"server": first.server.pid, "driver": os.getpid()}
    out: dict[str, Any] = {}
    if memory:
        replies = 100 if quick else 400

        def small_burst() -> None:
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda i: len(small[i % 8](Msg("user", "x")).content), range(replies)))

        def big_burst() -> None:
            with ThreadPoolExecutor(64) as pool:
                list(pool.map(lambda i: len(big[i % 8](Msg("user", "x")).content), range(64)))

        out["small"] = episode(pids, small_burst)
        out["big"] = episode(pids, big_burst)
    n = 10 if quick else 40
    out["rt_1mib"] = round_trip(echo, MiB, n)
    out["rt_10mib"] = round_trip(echo, 10 * MiB, n // 2)
    out["quiet_10mib"] = after_quiet(echo, 10 * MiB, 1 if quick else 2)
    agentnb.shutdown()
    return out


def run_mode(mode: str, quick: bool, memory: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "AGENTNB_MALLOC_TRIM"}
    cmd = [sys.executable, os.path.abspath(__file__), "--child"] + ["--quick"] * quick + ["--memory"] * memory
    done = subprocess.run(cmd, env={**env, **MODES[mode]}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_rows(label: str, key: str, ours: dict[str, Any], old: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for who in ("server", "driver"):
        mine, theirs = ours[key], old[key]
        over = (mine["after"][who] - mine["before"][who]) / MiB
        was = (theirs["after"][who] - theirs["before"][who]) / MiB
        ok = over <= BACK_WITHIN / MiB and mine["seconds"] < DEADLINE_S
        note = (
            f"before {mine['before'][who] / MiB:.0f}, peak {mine['peak'][who] / MiB:.0f}, after "
            f"{mine['after'][who] / MiB:.0f} MiB, {mine['seconds']:.1f} s after; baseline: trimming off, "
            f"same run (peak {theirs['peak'][who] / MiB:.0f} MiB, after {theirs['seconds']:.0f} s)"
        )
        rows.append(row(f"{who} RSS over before, {label} (MiB)", over, was, "MiB", "<= 30 MiB in 30 s", ok,
                        note=note))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.quick, args.memory)))
        return
    n = 10 if args.quick else 40
    with _plain.plain_server("sync") as address:
        plain = {s: p50(_plain.sequential(address, os.urandom(s), n, warmup=3)) for s in (MiB, 10 * MiB)}
    new = run_mode("tuned, trimmed", args.quick, memory=True)
    old = run_mode("tuned, not trimmed", args.quick, memory=True)
    untuned = run_mode("untuned", args.quick, memory=False)
    rows = memory_rows("400 replies of 500 KB", "small", new, old)
    rows += memory_rows("64 readers of 8 MiB", "big", new, old)
    for label, size, key in (("1 MiB", MiB, "rt_1mib"), ("10 MiB", 10 * MiB, "rt_10mib")):
        ms, was, floor, bare = new[key] * 1e3, old[key] * 1e3, plain[size] * 1e3, untuned[key] * 1e3
        note = f"baseline: trimming off, same run; plain grpcio {floor:.2f} ms, untuned {bare:.2f} ms"
        target = "<= 1.2x not trimmed"
        rows.append(row(f"{label} round trip, p50 (ms)", ms, was, "ms", target, ms <= 1.2 * was, note=note))
        rows.append(row(f"{label} round trip vs plain grpcio (ms)", ms, floor, "ms", "report", True,
                        note="baseline: plain grpcio echo, same run"))  # fmt: skip
    ms, was, bare = new["quiet_10mib"] * 1e3, old["quiet_10mib"] * 1e3, untuned["quiet_10mib"] * 1e3
    quiet = f"10 MiB round trip after {_memory.QUIET_S + 1:.0f} s quiet (ms)"
    rows.append(row(quiet, ms, was, "ms", "report", True,
                    note=f"the memory was given back: its pages fault in again; baseline: trimming off, "
                    f"same run; untuned allocator {bare:.2f} ms"))  # fmt: skip
    print("results:", save("memory", rows))


if __name__ == "__main__":
    main()
