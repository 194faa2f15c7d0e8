"""Calls: latency, throughput, payloads and the cost of tracing, each against plain grpcio.

Every figure is paired with a baseline measured in the same run on the same
machine: a plain grpcio echo server (sync, or aio) in its own process, called
by a plain grpcio client with the same bytes.

    python benchmarks/bench_calls.py [--calls 3000] [--quick]

Targets (issue 20): sequential p50 <= 1.2x the plain sync echo over TCP, and
below it over Unix sockets (agentnb's driver reaches the servers it launched
by one); p99 <= 2x; one agent with 8 calls in flight >= 0.8x the plain aio
echo; 1 MiB round trip <= 1.5x the plain echo of the same bytes (10 MiB: see
bench_shm, on one host against Ray); tracing (the graph's event feed) costs
<= 5 % of pipelined throughput. With ``--agentscope PYTHON`` and ``--ray
PYTHON`` (Pythons that have AgentScope 0.1.1 or Ray), the same calls to
their agents and actors, in the same run: agentnb should be ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _plain  # noqa: E402
from _common import Echo, p50, p99, row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import Msg  # noqa: E402

TEXT = "hello agents"


def agent_sequential(calls: int, content: object, warmup: int = 200) -> list[float]:
    agent = Echo(name="seq").to_dist()
    msg = Msg("user", content)
    for _ in range(warmup):
        agent(msg).result(timeout=60)
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        agent(msg).result(timeout=60)
        out.append(time.perf_counter() - start)
    agentnb.shutdown()
    return out


def agent_in_flight(calls: int, concurrency: int) -> float:
    """Calls per second with ``concurrency`` calls in flight from asyncio (await)."""
    agent = Echo(name="pipe").to_dist()
    msg = Msg("user", TEXT)

    async def run() -> float:
        for _ in range(100):
            await agent(msg)
        start = time.perf_counter()

        async def worker(n: int) -> None:
            for _ in range(n):
                await agent(msg)

        await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
        return (calls // concurrency * concurrency) / (time.perf_counter() - start)

    try:
        return asyncio.run(run())
    finally:
        agentnb.shutdown()


def threaded_rate(call: Callable[[], object], calls: int, threads: int) -> float:
    """Calls per second of ``threads`` threads, each making ``call`` in turn, started together."""
    barrier = threading.Barrier(threads + 1)

    def worker(n: int) -> None:
        barrier.wait()
        for _ in range(n):
            call()

    with ThreadPoolExecutor(threads) as pool:
        jobs = [pool.submit(worker, calls // threads) for _ in range(threads)]
        barrier.wait()
        start = time.perf_counter()
        for job in jobs:
            job.result()
        return (calls // threads * threads) / (time.perf_counter() - start)


def agent_threads(calls: int, threads: int) -> float:
    """Calls per second from ``threads`` threads, each calling and reading in turn."""
    agent = Echo(name="threads").to_dist()
    msg = Msg("user", TEXT)
    for _ in range(100):
        agent(msg).result(timeout=60)
    rate = threaded_rate(lambda: agent(msg).result(timeout=60), calls, threads)
    agentnb.shutdown()
    return rate


def plain_threads(address: str, calls: int, threads: int) -> float:
    with grpc.insecure_channel(address, options=_plain.OPTIONS) as channel:
        echo = channel.unary_unary(_plain.METHOD)
        payload = TEXT.encode()
        for _ in range(100):
            echo(payload)
        return threaded_rate(lambda: echo(payload, timeout=30), calls, threads)


def traced_in_flight(trace: bool, calls: int) -> float:
    """Pipelined throughput in a fresh process, with tracing on or off."""
    code = f"import bench_calls; print(bench_calls.agent_in_flight({calls}, 8))"
    env = dict(
        os.environ, AGENTNB_TRACE="1" if trace else "0", PYTHONPATH=os.path.dirname(os.path.abspath(__file__))
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = {"agentscope": ("AgentScope 0.1.1", "agentscope_calls.py"), "ray": ("Ray", "ray_calls.py")}


def peer_figures(python: str, script: str, calls: int, rounds: int) -> dict[str, float]:
    """The figures a peer's script prints (it runs in that peer's Python)."""
    out = subprocess.run(
        [python, os.path.join(HERE, script), str(calls), str(rounds)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds (a smoke run)")
    for key, (label, _) in PEERS.items():
        parser.add_argument(f"--{key}", metavar="PYTHON", help=f"a Python that has {label}: compare with it")
    args = parser.parse_args()
    calls = 300 if args.quick else args.calls
    rounds = 1 if args.quick else 3
    rows = []
    mine: dict[str, float] = {}  # agentnb's figures, for the peers' rows

    # sequential: A B A B, the best round of each (the machine's noise hurts both alike)
    seq_plain, seq_unix, seq_ours = [], [], []
    with _plain.plain_server("sync") as address, _plain.plain_server("unix") as unix:
        for _ in range(rounds):
            seq_plain.append(_plain.sequential(address, TEXT.encode(), calls))
            seq_unix.append(_plain.sequential(unix, TEXT.encode(), calls))
            seq_ours.append(agent_sequential(calls, TEXT))
    best_plain = min(seq_plain, key=p50)
    best_unix = min(seq_unix, key=p50)
    best_ours = min(seq_ours, key=p50)
    mine["seq_p50_ms"], mine["seq_p99_ms"] = p50(best_ours) * 1e3, p99(best_ours) * 1e3
    ours_ms, tcp_ms, unix_ms = p50(best_ours) * 1e3, p50(best_plain) * 1e3, p50(best_unix) * 1e3
    rows.append(row("sequential call, p50", ours_ms, tcp_ms, "ms", "<= 1.2x", ours_ms <= 1.2 * tcp_ms,
                    note="baseline: plain grpcio over TCP"))  # fmt: skip
    rows.append(row("sequential call, p50, below the TCP floor", ours_ms, tcp_ms, "ms", "< 1x",
                    ours_ms < tcp_ms, note="agentnb over a Unix socket"))  # fmt: skip
    rows.append(row("sequential call, p50 vs the Unix socket floor", ours_ms, unix_ms, "ms", "report", True,
                    note="baseline: plain grpcio over a Unix socket"))  # fmt: skip
    rows.append(row("sequential call, p99", p99(best_ours) * 1e3, p99(best_plain) * 1e3, "ms", "<= 2x",
                    p99(best_ours) <= 2 * p99(best_plain)))  # fmt: skip

    # one agent, 8 in flight (asyncio) and 8 threads
    with _plain.plain_server("aio") as address:
        plain_rate = max(_plain.in_flight(address, TEXT.encode(), calls, 8) for _ in range(rounds))
    ours_rate = max(agent_in_flight(calls, 8) for _ in range(rounds))
    mine["in_flight_per_s"] = ours_rate
    rows.append(row("one agent, 8 in flight (calls/s)", ours_rate, plain_rate, "/s", ">= 0.8x",
                    ours_rate >= 0.8 * plain_rate))  # fmt: skip
    with _plain.plain_server("sync") as address:
        plain_rate = max(plain_threads(address, calls, 8) for _ in range(rounds))
    ours_rate = max(agent_threads(calls, 8) for _ in range(rounds))
    mine["threads_per_s"] = ours_rate
    rows.append(row("one agent, 8 threads (calls/s)", ours_rate, plain_rate, "/s", "report", True))

    # payloads: the same bytes through plain grpcio and through an agent
    for size, label in ((1 << 20, "1 MiB"), (10 << 20, "10 MiB")):
        payload = os.urandom(size)
        n = 20 if args.quick else (100 if size == 1 << 20 else 30)
        with _plain.plain_server("sync") as address:
            plain = min(p50(_plain.sequential(address, payload, n, warmup=3)) for _ in range(rounds))
        ours = min(p50(agent_sequential(n, payload, warmup=3)) for _ in range(rounds))
        mine["1mib_ms" if size == 1 << 20 else "10mib_ms"] = ours * 1e3
        target = 1.5 if size == 1 << 20 else 2.0
        rows.append(row(f"{label} round trip, p50", ours * 1e3, plain * 1e3, "ms", f"<= {target:g}x",
                        ours <= target * plain))  # fmt: skip

    # tracing: pipelined throughput with the event feed followed, and without
    traced, untraced = [], []
    for _ in range(rounds):
        traced.append(traced_in_flight(True, calls))
        untraced.append(traced_in_flight(False, calls))
    cost = 1 - max(traced) / max(untraced)
    rows.append(row("tracing on, 8 in flight (calls/s)", max(traced), max(untraced), "/s", "cost <= 5%",
                    cost <= 0.05, note=f"cost {cost:.1%}"))  # fmt: skip

    # the peers: the same calls to AgentScope's agents and Ray's actors
    figures = (
        ("seq_p50_ms", "sequential call, p50", "ms"), ("seq_p99_ms", "sequential call, p99", "ms"),
        ("in_flight_per_s", "one agent, 8 in flight (calls/s)", "/s"),
        ("threads_per_s", "one agent, 8 threads (calls/s)", "/s"),
        ("1mib_ms", "1 MiB round trip, p50", "ms"), ("10mib_ms", "10 MiB round trip, p50", "ms"),
    )  # fmt: skip
    for key, (label, script) in PEERS.items():
        python = getattr(args, key)
        if not python:
            print(f"(no --{key}: agentnb not compared with {label})")
            continue
        theirs = peer_figures(python, script, calls, rounds)
        for figure, workload, unit in figures:
            if figure not in theirs:
                continue
            faster = mine[figure] > theirs[figure] if unit == "/s" else mine[figure] < theirs[figure]
            rows.append(row(f"{workload} vs {label}", mine[figure], theirs[figure], unit, f"ahead of {label}",
                            faster, note=f"baseline: {label}, same run"))  # fmt: skip
    print("results:", save("calls", rows))


if __name__ == "__main__":
    main()
