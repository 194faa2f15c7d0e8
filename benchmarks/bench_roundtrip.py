"""Sequential call round trip: an agentnb agent vs a plain grpcio unary echo.

Both servers run in their own process on this machine; both clients call
sequentially (each call waits for its reply). Prints the median and p90 of
each and the ratio of medians (target: agentnb <= 1.5x the plain echo).

    python benchmarks/bench_roundtrip.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import agentnb  # noqa: E402
from agentnb import AgentBase, Msg  # noqa: E402


class Echo(AgentBase):
    def reply(self, x=None):
        return Msg(self.name, x.content)


def timed(fn, calls: int) -> list[float]:
    for _ in range(min(200, calls)):  # warm up
        fn()
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def plain_grpc(calls: int, payload: bytes) -> list[float]:
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "_echo_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            echo = channel.unary_unary("/bench.Echo/Echo")
            return timed(lambda: echo(payload, timeout=10), calls)
    finally:
        server.stdin.close()
        server.wait(10)


def agentnb_calls(calls: int, text: str) -> list[float]:
    agent = Echo(name="echo").to_dist()
    msg = Msg("user", text)
    try:
        return timed(lambda: agent(msg).result(timeout=10), calls)
    finally:
        agentnb.shutdown()


def report(name: str, samples: list[float]) -> float:
    med = statistics.median(samples) * 1e3
    p90 = statistics.quantiles(samples, n=10)[-1] * 1e3
    print(f"{name:>22}: median {med:.3f} ms  p90 {p90:.3f} ms  ({len(samples)} calls)")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    text = "hello agents"
    base = report("plain grpcio echo", plain_grpc(args.calls, text.encode()))
    ours = report("agentnb agent call", agentnb_calls(args.calls, text))
    ratio = ours / base
    print(f"{'ratio':>22}: {ratio:.2f}x  (target <= 1.5x)  {'OK' if ratio <= 1.5 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
