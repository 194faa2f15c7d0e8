"""Agent meshes at scale: 100,000 and 1,000,000 agents, memory per agent, in-process calls.

Every workload runs in a fresh process (a run's heap must not slow the next).

    python benchmarks/bench_mesh.py [--quick]

Targets (issue 20), each beside a baseline measured in the same run:

* 100,000 agents on 4 servers, created and called once each (a message of
  their own each, every reply read back): under 30 s. Baseline: the same
  with a plain ``to_dist`` loop (``bench_scale.simulate``; 55 to 66 s before
  meshes existed).
* 1,000,000 agents on 8 servers created and one round of "guess 2/3 of the
  average" played (every player guesses, a judge on a server of its own reads
  all the guesses and names the winners): under 60 s. AgentScope's published
  figure: 64,000 agents on 4 machines of 64 cores, about 30 s a round.
* Server memory per mesh agent (RSS growth over agents): at most 2 KiB, beside
  a plain agent's (``to_dist``) in the same run.
* A mesh call made inside the server that hosts the mesh (a referee calling
  its players in-process) against the same call from the driver over gRPC.
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

import bench_scale  # noqa: E402
from _common import Echo, row, save  # noqa: E402

import agentnb  # noqa: E402
from agentnb import AgentBase, Msg  # noqa: E402
from agentnb.workshop._guess import Judge, Player  # noqa: E402


class Referee(AgentBase):
    """Calls every agent of its mesh from inside its server and counts the replies."""

    def __init__(self, name: str, players: agentnb.Mesh) -> None:
        super().__init__(name)
        self.players = players

    def reply(self, x=None):
        start = time.perf_counter()
        replies = self.players(x).gather(timeout=600)
        return Msg(self.name, {"count": len(replies), "seconds": time.perf_counter() - start})


# -- workloads (each runs in its own process: python bench_mesh.py --run NAME ARGS) --------


def mesh_each(agents: int, servers: int) -> dict[str, float]:
    """``agents`` Echo agents over ``servers`` servers as a mesh: made, then one message each
    (the servers are started first, as ``bench_scale.simulate`` does)."""
    first = [Echo(name=f"warm-{j}").to_dist() for j in range(servers)]
    for agent in first:
        agent(Msg("user", 0)).result(timeout=60)
    start = time.perf_counter()
    mesh = Echo.mesh(agents, names="a{i}", placement=first)
    made = time.perf_counter()
    replies = mesh.each([Msg("user", i) for i in range(agents)])
    ok = sum(1 for i, m in enumerate(replies.gather(timeout=600)) if m.content == i)
    called = time.perf_counter()
    agentnb.shutdown()
    return {"create_s": made - start, "call_s": called - made, "ok": ok}


def game(players: int, servers: int) -> dict[str, float]:
    """A mesh of players over ``servers`` servers and one round judged on a server of its own."""
    start = time.perf_counter()
    mesh = Player.mesh(players, names="P{i}", kwargs={"seed": 0}, placement=servers)
    judge = Judge("Judge", details=False).to_dist()
    placed = time.perf_counter()
    mesh.wait(timeout=600)
    built = time.perf_counter()
    guesses = mesh(Msg("Judge", None))
    verdict = judge(guesses).result(timeout=600).content
    played = time.perf_counter()
    agentnb.shutdown()
    return {
        "place_s": placed - start, "build_s": built - placed, "round_s": played - built,
        "total_s": played - start, "players": verdict["players"], "target": verdict["target"],
    }  # fmt: skip


def memory(agents: int, kind: str) -> dict[str, float]:
    """RSS growth of one server per agent of a mesh (``kind``: Echo or Player), results released."""
    first = Echo(name="first").to_dist()
    server = first.server
    first(Msg("user", 0)).result(timeout=60)
    bench_scale._settle(first, 1)
    before = bench_scale._status(server.pid, "VmRSS")
    cls, kwargs = (Player, {"seed": 0}) if kind == "Player" else (Echo, {})
    mesh = cls.mesh(agents, kwargs=kwargs, placement=[first])
    mesh.wait(timeout=600)
    del mesh  # (its agents stay on the server)
    first(Msg("user", 0)).result(timeout=600)
    bench_scale._settle(first, 1)
    grown = bench_scale._status(server.pid, "VmRSS") - before
    agentnb.shutdown()
    return {"bytes_per_agent": grown / agents}


def in_process(agents: int) -> dict[str, float]:
    """The same mesh call made by a referee on the mesh's server, and from the driver."""
    mesh = Echo.mesh(agents, placement=1)
    referee = Referee("referee", mesh).to_dist(port=mesh.owned[0].port)
    mesh(Msg("user", 0)).gather(timeout=600)  # warm both paths up
    referee(Msg("user", 0)).result(timeout=600)
    inside = referee(Msg("user", 1)).result(timeout=600).content
    start = time.perf_counter()
    count = len(mesh(Msg("user", 1)).gather(timeout=600))
    outside = time.perf_counter() - start
    agentnb.shutdown()
    assert inside["count"] == count == agents, (inside, count)
    return {"inside_s": inside["seconds"], "outside_s": outside}


WORKLOADS = {"mesh_each": mesh_each, "game": game, "memory": memory, "in_process": in_process,
             "simulate": bench_scale.simulate, "agent_memory": bench_scale.agent_memory}  # fmt: skip


def _in_process(name: str, *args: object) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--run", name, *map(str, args)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--run", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        name, *rest = args.run
        print(json.dumps(WORKLOADS[name](*[int(a) if a.isdigit() else a for a in rest])))
        return
    rows = []
    big = 10_000 if args.quick else 100_000

    plain = _in_process("simulate", big, 4)
    mesh = _in_process("mesh_each", big, 4)
    assert plain["ok"] == mesh["ok"] == big, (plain, mesh)
    ours, theirs = mesh["create_s"] + mesh["call_s"], plain["create_s"] + plain["call_s"]
    rows.append(row(f"{big:,} agents, 4 servers, mesh: create + call each (s)", ours, theirs, "s", "< 30 s",
                    ours < 30, note=f"mesh() returns in {mesh['create_s']:.1f} s, its agents built and "
                    f"called in {mesh['call_s']:.1f} s; "
                    f"baseline: a to_dist loop, same run (create {plain['create_s']:.1f} s, call "
                    f"{plain['call_s']:.1f} s)"))  # fmt: skip

    players = 100_000 if args.quick else 1_000_000
    played = _in_process("game", players, 8)
    assert played["players"] == players, played
    rows.append(row(f"{players:,} agents, 8 servers: create + one round (s)", played["total_s"], 60.0, "s",
                    "< 60 s", played["total_s"] < 60,
                    note=f"servers {played['place_s']:.1f} s, build {played['build_s']:.1f} s, round "
                    f"{played['round_s']:.1f} s; baseline: the target (AgentScope's published figure: "
                    "64,000 agents on 4 machines of 64 cores, ~30 s a round)"))  # fmt: skip

    count = 20_000 if args.quick else 100_000
    plain_agent = _in_process("agent_memory", 20_000)["bytes_per_agent"]
    for kind in ("Echo", "Player"):
        per_agent = _in_process("memory", count, kind)["bytes_per_agent"]
        rows.append(row(f"server memory per mesh agent, {kind} (bytes)", per_agent, plain_agent, "B",
                        "<= 2 KiB", per_agent <= 2048, note=f"RSS growth / {count:,} agents; baseline: a "
                        "plain Echo agent (to_dist), same run"))  # fmt: skip

    calls = _in_process("in_process", 20_000 if args.quick else 100_000)
    rows.append(row("a mesh call inside its server vs from the driver (s)", calls["inside_s"],
                    calls["outside_s"], "s", "faster in-process", calls["inside_s"] < calls["outside_s"],
                    note=f"{20_000 if args.quick else 100_000:,} agents on one server, every reply read; "
                    "baseline: the driver over gRPC, same run"))  # fmt: skip
    print("results:", save("mesh", rows))


if __name__ == "__main__":
    main()
