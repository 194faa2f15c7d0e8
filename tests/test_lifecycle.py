"""Server processes: lazy launch, own session, exit with the driver, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from agents import Echo
from conftest import wait_for_exit

from agentnb import CodeNotAcceptedError, Msg, RpcAgentServerLauncher
from agentnb._runtime._session import get_session

HERE = os.path.dirname(__file__)


def run_script(code: str, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=HERE, **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def test_lazy_launch_starts_the_server_at_the_first_call() -> None:
    before = {s.address for s in get_session().launched()}
    e = Echo(name="E").to_dist(lazy_launch=True)
    assert {s.address for s in get_session().launched()} == before and "lazy" in repr(e)
    assert e(Msg("user", "now")).content == "now"
    assert e.server is not None and e.address in {s.address for s in get_session().launched()}


def test_a_class_defined_in_main_runs_in_a_server_this_driver_launched() -> None:
    result = run_script(
        """
        from agentnb import AgentBase, Msg
        import os

        class Local(AgentBase):              # defined in __main__, as in a notebook
            def reply(self, x=None):
                print("in", self.name)
                return Msg(self.name, [x.content * 2, os.getpid() != PARENT])

        PARENT = os.getpid()
        a = Local(name="L").to_dist()
        print("reply", a(Msg("user", 21)).content)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "reply [42, True]" in result.stdout
    assert "[L] in L" in result.stdout  # the remote print, shown by the driver


def test_a_main_class_is_refused_by_a_launcher_that_does_not_accept_code() -> None:
    with RpcAgentServerLauncher(host="127.0.0.1", port=0, token="t") as server:

        class Inline(Echo):
            pass

        Inline.__module__ = "__main__"
        inline = Inline(name="I").to_dist(port=server.port, launch_server=False, token="t")
        with pytest.raises(CodeNotAcceptedError, match="does not accept code") as info:
            inline(Msg("user", "hi")).result(timeout=30)
        assert "put the class in a module the server can import" in str(info.value).lower()
        # an importable class is built there by import path
        e = Echo(name="E").to_dist(port=server.port, launch_server=False, token="t")
        assert e(Msg("user", "ok")).content == "ok"


def test_a_launcher_with_code_allowed_accepts_a_main_class() -> None:
    with RpcAgentServerLauncher(host="127.0.0.1", port=0, token="t", allow_code=True) as server:

        class Inline(Echo):
            pass

        Inline.__module__ = "__main__"
        i = Inline(name="I").to_dist(port=server.port, launch_server=False, token="t")
        assert i(Msg("user", "ok")).content == "ok"


def test_servers_exit_when_the_driver_is_killed() -> None:
    driver = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
            import sys
            from agents import Echo
            agents = [Echo(name=f"E{i}").to_dist() for i in range(2)]
            print(*[a.server.pid for a in agents], flush=True)
            sys.stdin.read()
            """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=HERE),
    )
    pids = [int(p) for p in driver.stdout.readline().split()]
    assert len(pids) == 2
    driver.send_signal(signal.SIGKILL)
    driver.wait(10)
    assert all(wait_for_exit(pid, 5) for pid in pids)


def test_servers_run_in_their_own_session() -> None:
    e = Echo(name="E").to_dist()
    assert os.getsid(e.server.pid) == e.server.pid != os.getsid(0)


def test_the_command_line_server_hosts_an_importable_agent() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentnb.server",
            "--port",
            "0",
            "--agent-class",
            "agents:Counter",
            "--agent-kwargs",
            json.dumps({"name": "C", "start": 10}),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=HERE, AGENTNB_TOKEN="cli"),
    )
    try:
        for line in proc.stderr:
            if "listening on" in line:
                port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                break
        c = Echo(name="C").to_dist(port=port, launch_server=False, token="cli")
        assert c(None).content == 11  # the launcher's Counter(start=10), not a new Echo
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_launcher_reads_its_token_from_a_file_or_the_environment(tmp_path, monkeypatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    with RpcAgentServerLauncher(Echo, {"name": "E"}, host="127.0.0.1", token_file=token_file) as server:
        e = Echo(name="E").to_dist(port=server.port, launch_server=False, token="from-a-file")
        assert e(Msg("user", "file")).content == "file"
    monkeypatch.setenv("AGENTNB_TOKEN", "from-the-env")
    with RpcAgentServerLauncher(Echo, {"name": "E"}, host="127.0.0.1") as server:
        assert server.token == "from-the-env"
        e = Echo(name="E").to_dist(port=server.port, launch_server=False)  # token from the env too
        assert e(Msg("user", "env")).content == "env"
