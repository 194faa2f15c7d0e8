"""Scale: many agents on a few servers, as simulations write them; memory per agent and per server.

Every workload runs in a fresh process (a run's heap must not slow the next).

    python benchmarks/bench_scale.py [--quick] [--agentscope PYTHON]

Targets (issue 10):

* 1,000 agents on one server, created with ``to_dist(port=P)`` in a loop (as
  AgentScope's simulations do) and then called once each: faster than
  AgentScope 0.1.1 doing the same, in the same run. ``--agentscope`` names a
  Python that has it (``bash benchmarks/setup_agentscope.sh`` makes one);
  without it that row is not measured.
* 100,000 agents on 4 servers, created and called once each: under 30 s (issue 20; it was 60 s).
* A plain agent costs its server at most 2 KiB (RSS growth per agent, with 20,000
  agents, once their constructors' outcomes are released).
* An idle agent server's memory (PSS, what it adds to the machine), against a
  plain grpcio echo server's in the same run.
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
from _common import Echo, row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import Msg  # noqa: E402


def _status(pid: int, key: str) -> int:
    """A /proc figure of a process, in bytes (VmRSS from status, Pss from smaps_rollup)."""
    path = f"/proc/{pid}/smaps_rollup" if key == "Pss" else f"/proc/{pid}/status"
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


# -- workloads (each runs in its own process: python bench_scale.py --run NAME ARGS) --------


def simulate(agents: int, servers: int) -> dict[str, float]:
    """``agents`` agents spread over ``servers`` servers, created, then called once each."""
    first = [Echo(name=f"warm-{j}").to_dist() for j in range(servers)]  # the servers, started
    ports = [a.server.port for a in first]
    for a in first:
        a(Msg("user", 0)).result(timeout=60)
    start = time.perf_counter()
    made = [Echo(name=f"a{i}").to_dist(port=ports[i % servers]) for i in range(agents)]
    created = time.perf_counter()
    replies = [a(Msg("user", i)) for i, a in enumerate(made)]
    ok = sum(1 for i, p in enumerate(replies) if p.result(timeout=600).content == i)
    called = time.perf_counter()
    agentnb.shutdown()
    return {"create_s": created - start, "call_s": called - created, "ok": ok}


def agent_memory(agents: int) -> dict[str, float]:
    """RSS growth of one server per plain agent, once the constructors' outcomes are released."""
    first = Echo(name="first").to_dist()
    pid, port = first.server.pid, first.server.port
    first(Msg("user", 0)).result(timeout=60)
    _settle(first, 1)
    before = _status(pid, "VmRSS")
    for i in range(agents):
        Echo(name=f"a{i}").to_dist(port=port)
    first(Msg("user", 0)).result(timeout=600)  # after every build, in the server's order
    _settle(first, 1)
    grown = _status(pid, "VmRSS") - before
    agentnb.shutdown()
    return {"bytes_per_agent": grown / agents}


def _settle(agent: agentnb.DistributedAgent, results: int) -> None:
    """Wait (bounded) until the server holds at most ``results`` results (the rest released)."""
    deadline = time.monotonic() + 60
    while agent.link.info().results > results and time.monotonic() < deadline:
        time.sleep(0.1)


def server_memory(servers: int) -> dict[str, float]:
    """PSS and RSS of idle agent servers (one agent each), and of a plain grpcio server."""
    agents = [Echo(name=f"e{i}").to_dist() for i in range(servers)]
    for a in agents:
        a(Msg("user", 0)).result(timeout=60)
    time.sleep(1.0)  # let the servers go idle (threads parked)
    pss = [_status(a.server.pid, "Pss") for a in agents]
    rss = [_status(a.server.pid, "VmRSS") for a in agents]
    agentnb.shutdown()
    with _plain.plain_process("sync") as (proc, _):
        time.sleep(1.0)
        plain_pss, plain_rss = _status(proc.pid, "Pss"), _status(proc.pid, "VmRSS")
    return {
        "pss": sum(pss) / servers,
        "rss": sum(rss) / servers,
        "plain_pss": plain_pss,
        "plain_rss": plain_rss,
    }


WORKLOADS = {"simulate": simulate, "agent_memory": agent_memory, "server_memory": server_memory}


def _in_process(name: str, *args: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--run", name, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _agentscope(python: str, agents: int) -> dict[str, float]:
    out = subprocess.run(
        [python, os.path.join(HERE, "agentscope_scale.py"), str(agents)], capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--agentscope", metavar="PYTHON", help="a Python with agentscope 0.1.1 installed")
    parser.add_argument("--run", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        name, *numbers = args.run
        print(json.dumps(WORKLOADS[name](*map(int, numbers))))
        return
    rows = []
    rounds = 1 if args.quick else 3

    # 1,000 agents on one server, against AgentScope in the same run (A B A B)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(_in_process("simulate", 1000, 1))
        if args.agentscope:
            theirs.append(_agentscope(args.agentscope, 1000))
    assert all(r["ok"] == 1000 for r in ours + theirs), (ours, theirs)
    for key, label in (("create_s", "create"), ("call_s", "call once each")):
        mine = min(r[key] for r in ours)
        if theirs:
            base = min(r[key] for r in theirs)
            rows.append(row(f"1,000 agents, one server: {label} (s)", mine, base, "s", "< AgentScope",
                            mine < base, note="baseline: AgentScope 0.1.1, same run"))  # fmt: skip
        else:
            print(f"1,000 agents, one server: {label}: {mine:.3f} s (no --agentscope: not compared)")

    # 100,000 agents on 4 servers
    total = 10_000 if args.quick else 100_000
    big = _in_process("simulate", total, 4)
    assert big["ok"] == total, big
    seconds = big["create_s"] + big["call_s"]
    rows.append(row(f"{total:,} agents, 4 servers: create + call (s)", seconds, 30.0, "s", "< 30 s",
                    seconds < 30, note=f"create {big['create_s']:.1f} s, call {big['call_s']:.1f} s; "
                    "baseline: the target"))  # fmt: skip

    # memory per agent, and per server
    per_agent = _in_process("agent_memory", 2_000 if args.quick else 20_000)["bytes_per_agent"]
    rows.append(row("server memory per plain agent (bytes)", per_agent, 2048, "B", "<= 2 KiB",
                    per_agent <= 2048, note="RSS growth / agents; baseline: the target"))  # fmt: skip
    mem = _in_process("server_memory", 4 if args.quick else 10)
    rows.append(row("idle agent server, PSS (MiB)", mem["pss"] / 2**20, mem["plain_pss"] / 2**20, "MiB",
                    "report", True, note=f"RSS {mem['rss'] / 2**20:.0f} MiB (plain grpcio server: "
                    f"{mem['plain_rss'] / 2**20:.0f} MiB)"))  # fmt: skip
    print("results:", save("scale", rows))


if __name__ == "__main__":
    main()
