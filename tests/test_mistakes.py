"""Common mistakes, each met with a message that says what happened, where, and what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from agents import Built, Counter, Echo, Mover, Slow

import agentnb
from agentnb import (
    AgentExistsError,
    Msg,
    RpcAgentServerLauncher,
    ServerLaunchError,
    ServerUnavailableError,
    Timeouts,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def run_python(code: str, cwd: str = HERE, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=HERE, **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
        env=environment, timeout=120,
    )  # fmt: skip


def test_the_same_agent_made_three_times_in_a_script_gives_three_agents() -> None:
    agents = [Counter(name="P").to_dist() for _ in range(3)]
    assert len({id(a) for a in agents}) == 3 and len({a.address for a in agents}) == 3
    assert [a(None).content for a in agents] == [1, 1, 1]


def test_two_agents_of_one_name_on_one_server_is_an_error_that_says_so() -> None:
    first = Echo(name="E").to_dist()
    second = Echo(name="E").to_dist(port=first.server.port)  # the same port: the same server
    with pytest.raises(AgentExistsError, match="give each agent its own name"):
        second(Msg("user", "hi")).result(timeout=30)
    assert first(Msg("user", "still")).content == "still"


def test_a_second_driver_run_is_told_the_agent_it_attaches_to_kept_its_state(tmp_path) -> None:
    with RpcAgentServerLauncher(Counter, {"name": "C"}, port=0) as launcher:
        driver = f"""
            from agents import Counter
            c = Counter(name="C").to_dist(port={launcher.port}, launch_server=False)
            print(c(None).content)
        """
        first = run_python(driver)
        second = run_python(driver)
    assert first.stdout == "1\n" and second.stdout == "2\n", (first.stderr, second.stderr)
    assert "answered 1 call(s) already: its state carries over" in second.stderr
    assert "fresh=True) starts it over" in second.stderr
    assert "already" not in first.stderr


def test_attaching_with_other_constructor_arguments_says_so(capfd) -> None:
    with RpcAgentServerLauncher(Counter, {"name": "C", "start": 10}, port=0) as launcher:
        c = Counter(name="C", start=0).to_dist(port=launcher.port, launch_server=False)
        assert c(None).content == 11  # it is used as it is
        agentnb.shutdown()
    err = capfd.readouterr().err
    assert "was built with other constructor arguments or class code" in err
    assert "fresh=True) rebuilds it with yours" in err


def test_a_class_defined_in_the_launcher_and_in_the_drivers_main_attaches_without_code(tmp_path) -> None:
    program = """
        from agentnb import AgentBase, Msg, RpcAgentServerLauncher

        class A(AgentBase):  # the seed's style: the class in the launcher's own file
            def reply(self, x=None):
                return Msg(self.name, "from the launcher")
        {body}
    """
    launcher_code = program.format(body="""
        server = RpcAgentServerLauncher(agent_class=A, agent_kwargs={"name": "A"}, port=0)
        server.launch()
        print(server.port, flush=True)
        import sys; sys.stdin.read()
    """)  # fmt: skip
    launcher = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(launcher_code)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, PYTHONPATH=HERE),
    )  # fmt: skip
    try:
        assert launcher.stdout is not None
        port = int(launcher.stdout.readline())
        driver = run_python(program.format(body=f"""
        a = A(name="A").to_dist(port={port}, launch_server=False)
        print(a(None).content)
        """))  # fmt: skip
        assert driver.stdout == "from the launcher\n", driver.stderr
    finally:
        launcher.communicate("", timeout=30)


def test_to_dist_true_runs_the_constructor_only_on_the_server() -> None:
    Built.builds = 0
    b = Built(name="B", to_dist=True)
    assert Built.builds == 0  # not here
    reply = b(None).content
    assert reply["builds"] == 1 and reply["pid"] != os.getpid()


def test_a_slow_constructor_is_waited_for_not_timed_out() -> None:
    start = time.monotonic()
    s = Slow(name="S", seconds=2.0, to_dist={"timeouts": Timeouts(control=0.5)})
    assert time.monotonic() - start < 2.0  # creation is sent, not waited for
    assert s(None).result(timeout=60).content == "ready"


def test_a_taken_port_says_to_attach_with_launch_server_false() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerLaunchError) as info:
            Echo(name="E").to_dist(port=port)
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "launch_server=False" in text and "port=None" in text
    assert "add_port" not in text


def test_a_wrong_port_fails_at_once_saying_to_check_host_and_port() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # nothing listens there once this closes
    start = time.monotonic()
    with pytest.raises(ServerUnavailableError) as info:
        Echo(name="E").to_dist(port=port, launch_server=False, token="t")
    assert time.monotonic() - start < 10
    assert "check the host and port" in str(info.value) and f"127.0.0.1:{port}" in str(info.value).replace(
        "localhost", "127.0.0.1"
    )


def test_a_remote_error_in_a_script_shows_the_users_frames_with_their_lines(tmp_path) -> None:
    script = tmp_path / "fails.py"
    script.write_text(textwrap.dedent("""
        from agentnb import AgentBase, Msg

        class Fails(AgentBase):
            def reply(self, x=None):
                return self.check(x.content)

            def check(self, value):
                raise ValueError(f"cannot handle {value!r}")

        Fails(name="F").to_dist()(Msg("user", "boom")).content
    """))  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=HERE),
    )  # fmt: skip
    assert result.returncode == 1
    remote = result.stderr.split("Remote traceback (F on ")[1]
    assert (
        "return self.check(x.content)" in remote and 'raise ValueError(f"cannot handle {value!r}")' in remote
    )
    assert "ValueError: cannot handle 'boom'" in remote
    assert "agentnb" not in remote.split("\n", 1)[1]  # none of agentnb's own frames


def test_the_console_script_imports_agent_classes_from_the_current_folder(tmp_path) -> None:
    (tmp_path / "myagents.py").write_text(
        "from agentnb import AgentBase, Msg\n"
        "class Here(AgentBase):\n"
        "    def reply(self, x=None):\n"
        "        return Msg(self.name, 'from the current folder')\n"
    )
    script = os.path.join(os.path.dirname(sys.executable), "agentnb-server")
    server = subprocess.Popen(
        [script, "--port", "0", "--agent-class", "myagents:Here", "--agent-kwargs", '{"name": "H"}'],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, AGENTNB_RUNTIME_DIR=str(tmp_path)),
    )  # fmt: skip
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert "listening on" in line, line + server.stderr.read()
        port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        os.environ["AGENTNB_RUNTIME_DIR"] = str(tmp_path)
        try:
            h = Echo(name="H").to_dist(port=port, launch_server=False)
            assert h(None).content == "from the current folder"
        finally:
            os.environ.pop("AGENTNB_RUNTIME_DIR")
    finally:
        server.terminate()
        server.wait(10)


def test_an_agent_moving_itself_from_its_server_is_told_to_construct_a_new_one() -> None:
    agent = Mover(name="M").to_dist()
    with pytest.raises(agentnb.RemoteError) as caught:
        agent(None).result(timeout=60)
    text = str(caught.value)
    assert "was built by an agent server" in text and "Mover(...).to_dist(...)" in text
