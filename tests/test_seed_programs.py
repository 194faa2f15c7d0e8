"""The seed's programs, with only the imports changed, over real server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from agents import Timed, Turns
from agents import Turns as A
from agents import Turns as B

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


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


# The seed's launcher program, as written (its "machines" are loopback aliases
# of this one; the port is a free one instead of 12001/12002).
LAUNCHER = """
from agentnb import RpcAgentServerLauncher
from agents import Turns as {cls}
server = RpcAgentServerLauncher(
    agent_class={cls}, agent_kwargs={{"name": "{cls}"}}, host="{ip}", port={port})
server.launch()
server.wait_until_terminate()
"""


def start_launcher(cls: str, ip: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    port = free_port(ip)
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER.format(cls=cls, ip=ip, port=port)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    announced = [proc.stderr.readline() for _ in range(3)]
    assert announced[0].startswith(f"agentnb server listening on {ip}:{port}"), announced
    assert "find its token in" in announced[1] and "AGENTNB_TOKEN" in announced[2], announced
    return proc, port


def test_the_two_machine_program_with_launchers_and_no_token_set_by_hand(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("AGENTNB_TOKEN", raising=False)
    monkeypatch.setenv("AGENTNB_RUNTIME_DIR", str(tmp_path / "runtime"))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])
    )
    (server_a, port_a), (server_b, port_b) = (
        start_launcher("A", "127.0.0.2", env),
        start_launcher("B", "127.0.0.3", env),
    )
    try:
        ip_a, ip_b = "127.0.0.2", "127.0.0.3"
        # the seed's driver program, as written
        a = A(name="A").to_dist(host=ip_a, port=port_a, launch_server=False)
        b = B(name="B").to_dist(host=ip_b, port=port_b, launch_server=False)
        x = None
        while x is None or x.content != "exit":
            x = a(x)
            x = b(x)
        assert x.name == "B"
        assert a.server is None and b.server is None  # attached, not launched
        agentnb.shutdown()  # stops what this driver launched: nothing here
        assert server_a.poll() is None and server_b.poll() is None
        a2 = A(name="A").to_dist(host=ip_a, port=port_a, launch_server=False)
        assert a2(None).content == 1  # the launcher still serves
    finally:
        for proc in (server_a, server_b):
            proc.terminate()
        for proc in (server_a, server_b):
            proc.wait(10)
    assert list((tmp_path / "runtime").glob("server-*.json")) == []  # the launchers removed their files
