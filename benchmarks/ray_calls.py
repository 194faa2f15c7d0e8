"""The calls of bench_calls.py, made to a Ray actor (run by a Python that has ray).

    python benchmarks/ray_calls.py CALLS ROUNDS

Prints one JSON line: sequential latencies (p50, p99, ms), calls per second with 8
in flight from asyncio, and the 1 MiB and 10 MiB round trips (p50, ms). The actor
echoes what it gets, as bench_calls' agent does; each figure is the best of ROUNDS.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time

import ray


@ray.remote
class Echo:
    def reply(self, x):
        return x


def sequential(actor, payload, calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        ray.get(actor.reply.remote(payload))
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        ray.get(actor.reply.remote(payload))
        out.append(time.perf_counter() - start)
    return out


def in_flight(actor, payload, calls: int, concurrency: int) -> float:
    async def run() -> float:
        for _ in range(100):
            await actor.reply.remote(payload)
        start = time.perf_counter()

        async def worker(n: int) -> None:
            for _ in range(n):
                await actor.reply.remote(payload)

        await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
        return (calls // concurrency * concurrency) / (time.perf_counter() - start)

    return asyncio.run(run())


def threads(actor, payload, calls: int, count: int) -> float:
    """Calls per second of ``count`` threads, each calling and waiting in turn."""
    from concurrent.futures import ThreadPoolExecutor

    def worker(n: int) -> None:
        for _ in range(n):
            ray.get(actor.reply.remote(payload))

    worker(50)
    start = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(worker, [calls // count] * count))
    return (calls // count * count) / (time.perf_counter() - start)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    calls, rounds = int(sys.argv[1]), int(sys.argv[2])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    actor = Echo.remote()
    text = "hello agents"
    seq = min((sequential(actor, text, calls, 200) for _ in range(rounds)), key=statistics.median)
    out = {
        "seq_p50_ms": statistics.median(seq) * 1e3,
        "seq_p99_ms": p99(seq) * 1e3,
        "in_flight_per_s": max(in_flight(actor, text, calls, 8) for _ in range(rounds)),
        "threads_per_s": max(threads(actor, text, calls, 8) for _ in range(rounds)),
    }
    for size, key in ((1 << 20, "1mib_ms"), (10 << 20, "10mib_ms")):
        payload = os.urandom(size)
        n = 100 if size == 1 << 20 else 30
        out[key] = min(statistics.median(sequential(actor, payload, n, 3)) for _ in range(rounds)) * 1e3
    ray.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
