"""Engines: 100,000 agents on a 4-worker Dask LocalCluster's servers, beside 4 plain agentnb servers.

Both paths in the same run, each in a fresh process (a run's heap must not slow the next):

* **plain**: 4 servers this driver launches, agents made with ``to_dist(port=P)``
  round-robin (as ``bench_scale.py`` does);
* **dask**: a ``LocalCluster`` of 4 process workers, ``agentnb.servers(client)``
  (one server per worker, started by a worker plugin, leases renewed every
  second), agents made with ``to_dist(placement=pool)``.

Each creates the agents, then calls each once and reads every reply; the
servers and the cluster are started (and one agent per server warmed up)
before the clock starts. Target (issue 18): the engine path costs at most 10 %
more than the plain one.

    python benchmarks/bench_engines.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import Echo, row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import Msg  # noqa: E402

SERVERS = 4


def _create_and_call(agents: int, make: Callable[[int], agentnb.DistributedAgent]) -> dict[str, float]:
    """Make ``agents`` agents with ``make(i)``, then call each once and read every reply (timed)."""
    start = time.perf_counter()
    made = [make(i) for i in range(agents)]
    created = time.perf_counter()
    replies = [a(Msg("user", i)) for i, a in enumerate(made)]
    ok = sum(1 for i, p in enumerate(replies) if p.result(timeout=600).content == i)
    called = time.perf_counter()
    return {"create_s": created - start, "call_s": called - created, "ok": ok}


def plain(agents: int) -> dict[str, float]:
    """``agents`` agents on 4 servers this driver launched."""
    first = [Echo(name=f"warm-{j}").to_dist() for j in range(SERVERS)]
    ports = [a.server.port for a in first]
    for a in first:
        a(Msg("user", 0)).result(timeout=60)
    result = _create_and_call(agents, lambda i: Echo(name=f"a{i}").to_dist(port=ports[i % SERVERS]))
    agentnb.shutdown()
    return result


def dask(agents: int) -> dict[str, float]:
    """``agents`` agents on the servers of a 4-worker LocalCluster."""
    from distributed import Client, LocalCluster  # only this workload needs Dask

    cluster = LocalCluster(n_workers=SERVERS, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, Client(cluster) as client:
        pool = agentnb.servers(client)
        first = [Echo(name=f"warm-{j}").to_dist(placement=pool) for j in range(SERVERS)]
        assert len({a.address for a in first}) == SERVERS
        for a in first:
            a(Msg("user", 0)).result(timeout=60)
        result = _create_and_call(agents, lambda i: Echo(name=f"a{i}").to_dist(placement=pool))
        agentnb.shutdown()
    return result


WORKLOADS = {"plain": plain, "dask": dask}


def _in_process(name: str, agents: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--run", name, str(agents)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 agents (a smoke run)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of plain then dask (best of each)")
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        name, agents = args.run
        print(json.dumps(WORKLOADS[name](int(agents))))
        return
    total = 10_000 if args.quick else 100_000
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "dask": []}
    for _ in range(args.rounds):  # A B A B: load from elsewhere hits both alike
        for name in runs:
            result = _in_process(name, total)
            assert result["ok"] == total, (name, result)
            runs[name].append(result)
            print(f"  {name}: create {result['create_s']:.1f} s, call {result['call_s']:.1f} s", flush=True)
    best = {name: min(r["create_s"] + r["call_s"] for r in results) for name, results in runs.items()}
    ratio = best["dask"] / best["plain"]
    print(f"engine path / plain path: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")
    rows = [
        row(f"{total:,} agents, 4-worker Dask LocalCluster vs 4 plain servers (s)", best["dask"],
            best["plain"], "s", "<= 10 % more", ratio <= 1.10,
            note="create + call once each; baseline: 4 plain agentnb servers, same run"),
    ]  # fmt: skip
    print("results:", save("engines", rows))


if __name__ == "__main__":
    main()
