"""The payload round trips of bench_shm.py, made to a Ray actor (run by a Python that has ray).

    python benchmarks/ray_payloads.py ROUNDS

Prints one JSON line: the 1 MiB and 10 MiB round trips (p50, ms, the best of ROUNDS),
the bytes echoed by an actor as bench_shm's agent echoes them.
"""

from __future__ import annotations

import json
import os
import statistics
import sys

import ray
from ray_calls import Echo, sequential


def main() -> None:
    rounds = int(sys.argv[1])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    actor = Echo.remote()
    out = {}
    for size, key in ((1 << 20, "1mib_ms"), (10 << 20, "10mib_ms")):
        payload = os.urandom(size)
        n = 100 if size == 1 << 20 else 30
        out[key] = min(statistics.median(sequential(actor, payload, n, 3)) for _ in range(rounds)) * 1e3
    ray.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
