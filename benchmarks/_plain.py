"""Plain grpcio echo servers and clients: the floor agentnb's figures are compared with.

Run as a process: ``python _plain.py sync|aio`` prints its port and serves
until stdin closes. Both echo the request bytes back (no protobuf, no
agentnb), with message limits big enough for 10 MiB payloads.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager

import grpc

METHOD = "/bench.Echo/Echo"
SIZE = 64 * 1024 * 1024
OPTIONS = [("grpc.max_send_message_length", SIZE), ("grpc.max_receive_message_length", SIZE)]


def _handlers(handler: object) -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(handler)}
    )


def serve_sync(unix: str = "") -> None:
    """Serve on a free loopback port, or on the Unix socket ``unix``; print the port (or the target)."""
    server = grpc.server(futures.ThreadPoolExecutor(8), handlers=[_handlers(lambda r, c: r)], options=OPTIONS)
    if unix:
        server.add_insecure_port(f"unix:{unix}")
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"unix:{unix}" if unix else port, flush=True)
    sys.stdin.read()
    server.stop(0)


async def serve_aio() -> None:
    async def echo(request: bytes, context: object) -> bytes:
        return request

    server = grpc.aio.server(handlers=[_handlers(echo)], options=OPTIONS)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


@contextmanager
def plain_process(kind: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A plain echo server process ("sync", "aio", or "unix": sync on a Unix socket); yields it
    and its address."""
    unix = os.path.join(tempfile.mkdtemp(prefix="plain-"), "echo.sock") if kind == "unix" else ""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), kind, unix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        yield proc, line if line.startswith("unix:") else f"127.0.0.1:{int(line)}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


@contextmanager
def plain_server(kind: str) -> Iterator[str]:
    """A plain echo server process ("sync" or "aio"); yields its address."""
    with plain_process(kind) as (_, address):
        yield address


def sequential(address: str, payload: bytes, calls: int, warmup: int = 200) -> list[float]:
    """Seconds per call of a sync client calling one at a time."""
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        echo = channel.unary_unary(METHOD)
        for _ in range(warmup):
            echo(payload, timeout=30)
        out = []
        for _ in range(calls):
            start = time.perf_counter()
            echo(payload, timeout=30)
            out.append(time.perf_counter() - start)
        return out


def in_flight(address: str, payload: bytes, calls: int, concurrency: int) -> float:
    """Calls per second of an aio client keeping ``concurrency`` calls in flight."""

    async def run() -> float:
        async with grpc.aio.insecure_channel(address, options=OPTIONS) as channel:
            echo = channel.unary_unary(METHOD)
            for _ in range(100):
                await echo(payload)
            start = time.perf_counter()

            async def worker(n: int) -> None:
                for _ in range(n):
                    await echo(payload)

            await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
            return (calls // concurrency * concurrency) / (time.perf_counter() - start)

    return asyncio.run(run())


STREAM = "/bench.Stream/Pieces"


def serve_stream() -> None:
    """A server stream: the request says how many pieces of how many bytes, and the
    microseconds between two ("1000,8,0")."""

    def pieces(request: bytes, context: object) -> Iterator[bytes]:
        count, size, pause = (int(n) for n in request.decode().split(","))
        piece = b"x" * size
        for i in range(count):
            if pause and i:
                time.sleep(pause / 1e6)  # the pace of a model making tokens
            yield piece

    handler = grpc.method_handlers_generic_handler(
        "bench.Stream", {"Pieces": grpc.unary_stream_rpc_method_handler(pieces)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(8), handlers=[handler], options=OPTIONS)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


def stream_once(channel: grpc.Channel, count: int, size: int, pause: float = 0.0) -> tuple[float, float]:
    """One server stream of ``count`` pieces, ``pause`` seconds apart: (seconds to the first
    piece, seconds to the last)."""
    start = time.perf_counter()
    first = 0.0
    request = f"{count},{size},{int(pause * 1e6)}".encode()
    for i, _ in enumerate(channel.unary_stream(STREAM)(request, timeout=60)):
        if i == 0:
            first = time.perf_counter() - start
    return first, time.perf_counter() - start


if __name__ == "__main__":
    if sys.argv[1] == "sync":
        serve_sync()
    elif sys.argv[1] == "unix":
        serve_sync(sys.argv[2])
    elif sys.argv[1] == "stream":
        serve_stream()
    else:
        asyncio.run(serve_aio())
