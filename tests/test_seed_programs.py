"""The seed's programs, with only the imports changed, over real server processes."""

from __future__ import annotations

import os
import subprocess
import sys

from agents import Timed, Turns

import agentnb


def test_the_conversation_loop_runs_until_exit() -> None:
    a = Turns(name="A").to_dist()
    b = Turns(name="B").to_dist()
    x = None
    turns = 0
    while x is None or x.content != "exit":
        x = a(x)
        x = b(x)
        turns += 1
    assert x.name == "B"
    assert turns == 3  # 1,2 / 3,4 / 5,exit


def overlap(p: dict, q: dict) -> bool:
    return p["start"] < q["end"] and q["start"] < p["end"]


def test_the_dataflow_graph_runs_ready_agents_in_parallel() -> None:
    # A-->B  A-->C  B-->D  C-->D  E-->F  D-->F, written as sequential calls
    A, B, C, D, E, F = (Timed(name=n, seconds=0.4).to_dist() for n in "ABCDEF")
    a = A()
    b = B(a)
    c = C(a)
    d = D([b, c])
    e = E()
    f = F([e, d])
    runs = {p.name: p.content for p in (a, b, c, d, e, f)}
    assert len({r["pid"] for r in runs.values()}) == 6  # six server processes
    assert overlap(runs["B"], runs["C"])  # B and C ran at the same time
    assert runs["E"]["start"] < runs["A"]["end"]  # E did not wait for A..D
    assert runs["D"]["start"] >= max(runs["B"]["end"], runs["C"]["end"])  # D waited for both
    assert runs["F"]["start"] >= max(runs["E"]["end"], runs["D"]["end"])
    assert [i["start"] for i in runs["D"]["inputs"]] == [runs["B"]["start"], runs["C"]["start"]]


def test_calls_return_before_A_finishes_and_C_does_not_wait_for_B() -> None:
    A, B, C = (Timed(name=n, seconds=0.5).to_dist() for n in "ABC")
    x = A()
    y = B(x)
    z = C(x)
    assert not x.done()  # all three calls have returned, and A is still working
    ran = {p.name: p.content for p in (x, y, z)}
    assert overlap(ran["B"], ran["C"])
    assert ran["C"]["start"] < ran["B"]["end"]


LAUNCHER = """
import sys
from agentnb import RpcAgentServerLauncher
from agents import Turns
host, name = sys.argv[1], sys.argv[2]
server = RpcAgentServerLauncher(agent_class=Turns, agent_kwargs={"name": name}, host=host, port=0)
server.launch()
print(server.port, flush=True)
server.wait_until_terminate()
"""


def test_the_two_machine_program_with_launchers(tmp_path) -> None:
    env = dict(os.environ, AGENTNB_TOKEN="two-machines-secret")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, host, name], stdout=subprocess.PIPE, text=True, env=env
        )
        for host, name in (("127.0.0.2", "A"), ("127.0.0.3", "B"))
    ]
    try:
        ip_a_port, ip_b_port = (int(p.stdout.readline()) for p in procs)
        os.environ["AGENTNB_TOKEN"] = "two-machines-secret"
        a = Turns(name="A").to_dist(host="127.0.0.2", port=ip_a_port, launch_server=False)
        b = Turns(name="B").to_dist(host="127.0.0.3", port=ip_b_port, launch_server=False)
        x = None
        while x is None or x.content != "exit":
            x = a(x)
            x = b(x)
        assert x.name == "B"
        assert a.server is None and b.server is None  # attached, not launched
        agentnb.shutdown()  # stops what this driver launched: nothing here
        assert all(p.poll() is None for p in procs)
        a2 = Turns(name="A").to_dist(host="127.0.0.2", port=ip_a_port, launch_server=False)
        assert a2(None).content == 1  # the launcher still serves
    finally:
        os.environ.pop("AGENTNB_TOKEN", None)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
