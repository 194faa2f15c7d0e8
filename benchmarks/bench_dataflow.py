"""Long dataflows: a chain of placeholders through many agents costs the same per step however long.

Each workload in a fresh process, the baseline in the same run:

* a chain through 1,000 agents on one server, against 1,000 chained calls of
  one agent (``x = a(x)`` a thousand times): target <= 2x;
* the same chain through 1,000 agents spread over 4 servers: target <= 3x;
* per-step cost of chains of 100, 1,000 and 3,000 agents on 4 servers
  (linear: the step cost does not grow with the chain).

    python benchmarks/bench_dataflow.py [--steps 1000]
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

from _common import row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import AgentBase, Msg  # noqa: E402


class Step(AgentBase):
    """One step of a dataflow: 1 + the number it got."""

    def reply(self, x=None):
        return Msg(self.name, 1 + (x.content if x is not None else 0))


def _agents(count: int, servers: int) -> list[agentnb.DistributedAgent]:
    first = [Step(name=f"s{i}").to_dist() for i in range(servers)]
    for agent in first:
        agent(None).result(timeout=60)
    ports = [int(a.address.rsplit(":", 1)[1]) for a in first]
    rest = [Step(name=f"s{i}").to_dist(port=ports[i % servers]) for i in range(servers, count)]
    rest[-1](None).result(timeout=600) if rest else None
    return first + rest


def chain(steps: int, servers: int, one_agent: bool) -> dict[str, float]:
    """Seconds for ``steps`` chained calls: through ``steps`` agents, or of one agent."""
    agents = _agents(1 if one_agent else steps, servers)
    start = time.perf_counter()
    x: agentnb.Msg = Msg("user", 0)
    for i in range(steps):
        x = agents[0 if one_agent else i](x)
    assert x.result(timeout=600).content == steps
    seconds = time.perf_counter() - start
    agentnb.shutdown()
    return {"s": seconds}


def _run(name: str, *args: object) -> dict[str, float]:
    code = f"import bench_dataflow, json; print(json.dumps(bench_dataflow.{name}(*{args!r})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    n = args.steps
    one = _run("chain", n, 1, True)["s"]
    across1 = _run("chain", n, 1, False)["s"]
    across4 = _run("chain", n, 4, False)["s"]
    rows = [
        row(
            f"chain through {n:,} agents, 1 server (s)",
            across1,
            one,
            "s",
            "<= 2x",
            across1 <= 2 * one,
            f"baseline: {n:,} chained calls of one agent",
        ),  # fmt: skip
        row(
            f"chain through {n:,} agents, 4 servers (s)",
            across4,
            one,
            "s",
            "<= 3x",
            across4 <= 3 * one,
            f"baseline: {n:,} chained calls of one agent",
        ),  # fmt: skip
    ]
    short = _run("chain", 100, 4, False)["s"] / 100
    for steps in (n, 3 * n):
        per_step = (across4 if steps == n else _run("chain", steps, 4, False)["s"]) / steps
        rows.append(row(f"per step, {steps:,}-agent chain, 4 servers (ms)", per_step * 1e3, short * 1e3,
                        "ms", "<= 1.5x (linear)", per_step <= 1.5 * short,
                        "baseline: per step of a 100-agent chain"))  # fmt: skip
    print(f"results: {save('dataflow', rows)}")


if __name__ == "__main__":
    main()
