"""Big payloads on one host: through shared memory, against the plain grpcio floor and Ray.

    python benchmarks/bench_shm.py [--quick] [--ray PYTHON]

Targets (issue 20), each against a baseline measured in the same run:

* a 1 MiB round trip (a message of 1 MiB to an agent that replies with it,
  read at once) at most 1.5x plain grpcio's echo of the same bytes;
* a 10 MiB round trip faster than Ray's actor doing the same (``--ray``
  names a Python that has Ray: ``bash benchmarks/setup_ray.sh`` makes one);
* and, for the record, the same round trips with shared memory turned off
  (``Limits(shm_threshold=0)``: the gRPC stream carries them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _plain  # noqa: E402
from _common import Echo, p50, row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import Limits, Msg  # noqa: E402


def round_trips(size: int, calls: int, limits: Limits) -> list[float]:
    agent = Echo(name="big").to_dist(limits=limits)
    msg = Msg("user", os.urandom(size))
    for _ in range(3):
        agent(msg).result(timeout=60)
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        reply = agent(msg).result(timeout=60)
        out.append(time.perf_counter() - start)
    assert reply.content == msg.content
    agentnb.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--ray", metavar="PYTHON", help="a Python with ray installed")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    rows = []
    ray = None
    if args.ray:
        out = subprocess.run([args.ray, os.path.join(HERE, "ray_payloads.py"), str(rounds)],
                             capture_output=True, text=True, timeout=900)  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        ray = json.loads(out.stdout.strip().splitlines()[-1])
    for size, label, key in ((1 << 20, "1 MiB", "1mib_ms"), (10 << 20, "10 MiB", "10mib_ms")):
        n = 20 if args.quick else (100 if size == 1 << 20 else 30)
        with _plain.plain_server("sync") as address:
            payload = os.urandom(size)
            plain = min(p50(_plain.sequential(address, payload, n, warmup=3)) for _ in range(rounds)) * 1e3
        shared = min(p50(round_trips(size, n, Limits())) for _ in range(rounds)) * 1e3
        stream = min(p50(round_trips(size, n, Limits(shm_threshold=0))) for _ in range(rounds)) * 1e3
        rows.append(row(f"{label} round trip, shared memory, p50 (ms)", shared, plain, "ms", "<= 1.5x floor",
                        shared <= 1.5 * plain, note="baseline: plain grpcio echo, same run"))  # fmt: skip
        rows.append(row(f"{label} round trip, shm vs gRPC stream (ms)", shared, stream, "ms", "report", True,
                        note="baseline: agentnb with Limits(shm_threshold=0), same run"))  # fmt: skip
        if ray is not None:
            rows.append(row(f"{label} round trip vs Ray (ms)", shared, ray[key], "ms", "< Ray",
                            shared < ray[key], note="baseline: a Ray actor, same run"))  # fmt: skip
    print("results:", save("shm", rows))


if __name__ == "__main__":
    main()
