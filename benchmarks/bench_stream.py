"""Streaming replies: time to the first piece and pieces per second, beside a plain grpcio stream.

A reply of 1,000 pieces (8 bytes each) streamed by an agent on its own
server and read with ``p.stream()``, against a plain grpcio server stream
of 1,000 messages of 8 bytes (a server process of its own, a sync client),
in the same run; medians of ``--runs``. Pieces per second count from the
call (the stream's request) to the last piece. Targets: at least 0.5x the
plain stream's pieces per second; time to the first piece is reported (it
includes making the call: the server's answer with its task id, then the
stream). A server sends the pieces that piled up since its last message in
one message, where the plain stream sends one message per piece.

    python benchmarks/bench_stream.py [--runs 20] [--pieces 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _plain  # noqa: E402
from _common import row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import AgentBase, Msg  # noqa: E402

SIZE = 8
#: The paced reply: this many pieces, PAUSE seconds apart (a model making tokens).
PACED, PAUSE = 100, 0.001


class Tokens(AgentBase):
    """Streams ``n`` pieces of ``size`` bytes as fast as it can."""

    def reply(self, x=None):
        n, size, pause = x.content
        piece = "x" * size
        for i in range(n):
            if pause and i:
                time.sleep(pause)  # the pace of a model making tokens
            yield piece
        return Msg(self.name, n)


def agentnb_stream(agent: object, count: int, pause: float = 0.0) -> tuple[float, float]:
    """One streamed reply: (seconds to the first piece, seconds to the last)."""
    start = time.perf_counter()
    first = 0.0
    p = agent(Msg("bench", [count, SIZE, pause]))  # type: ignore[operator]
    for i, _ in enumerate(p.stream(timeout=60)):
        if i == 0:
            first = time.perf_counter() - start
    last = time.perf_counter() - start
    assert p.content == count
    return first, last


def _median(samples: list[tuple[float, float]], which: int) -> float:
    return statistics.median(sample[which] for sample in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pieces", type=int, default=1000)
    opts = parser.parse_args()
    count, runs = opts.pieces, range(opts.runs)
    tokens = Tokens(name="tokens").to_dist()
    for _ in range(3):  # warm up: connections, the server's threads
        agentnb_stream(tokens, count)
    ours = [agentnb_stream(tokens, count) for _ in runs]
    paced = [agentnb_stream(tokens, PACED, PAUSE) for _ in runs]
    agentnb.shutdown()
    with _plain.plain_server("stream") as address:
        channel = grpc.insecure_channel(address, options=_plain.OPTIONS)
        for _ in range(3):
            _plain.stream_once(channel, count, SIZE)
        plain = [_plain.stream_once(channel, count, SIZE) for _ in runs]
        plain_paced = [_plain.stream_once(channel, PACED, SIZE, PAUSE) for _ in runs]
        channel.close()
    whole, base_whole = _median(ours, 1), _median(plain, 1)
    rate, base_rate = count / whole, count / base_whole  # from the call to the last piece
    rows = [
        row(f"{count:,} pieces: pieces per second", rate, base_rate, "/s", ">= 0.5x", rate >= 0.5 * base_rate,
            "read with p.stream(), from the call to the last piece; baseline: a plain grpcio server "
            "stream, same run"),
        row(f"{count:,} pieces: time to the first piece", _median(ours, 0) * 1e3, _median(plain, 0) * 1e3,
            "ms", "report", True, "agentnb's includes making the call"),
        row(f"{count:,} pieces: whole reply", whole * 1e3, base_whole * 1e3, "ms", "report", True,
            "from the call to the last piece"),
        row(f"{PACED} pieces 1 ms apart: time to the first piece", _median(paced, 0) * 1e3,
            _median(plain_paced, 0) * 1e3, "ms", "report", True, "a model's pace: pieces go as they come"),
        row(f"{PACED} pieces 1 ms apart: whole reply", _median(paced, 1) * 1e3, _median(plain_paced, 1) * 1e3,
            "ms", "report", True, "from the call to the last piece"),
    ]  # fmt: skip
    print(save("stream", rows))


if __name__ == "__main__":
    main()
