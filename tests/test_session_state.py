"""What the session says about its agents: a name taken twice, a shutdown before agents were built,
and a second driver on a launcher (it sees its own prints, not the first driver's).

Real servers and launchers; the first driver of a launcher is a separate process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from agents import Echo, Shout

import agentnb
from agentnb import AgentBase, AgentExistsError, Event, Msg, RpcAgentServerLauncher
from agentnb._runtime._session import get_session

pytestmark = pytest.mark.timeout(120)
HERE = Path(__file__).resolve().parent


def test_status_after_a_name_taken_twice_lists_one_agent_running() -> None:
    first = Echo(name="Q").to_dist()
    second = Echo(name="Q").to_dist(port=first.server.port)  # the same name on the same server
    with pytest.raises(AgentExistsError, match="already runs on the server"):
        second(Msg("user", "hi")).result(timeout=30)
    status = agentnb.status()
    rows = {(a.name, a.state) for a in status.agents}
    assert rows == {("Q", "running"), ("Q", "could not be created")}, rows
    [server] = status.servers
    assert server.agents == ("Q",)
    assert "2 agents (1 running)" in status.summary()
    assert "could not be created" in status._repr_html_()


class Late(AgentBase):
    """A class of this module: it travels as code, so building it takes a definition first."""

    def reply(self, x=None):
        return Msg(self.name, "late")


def test_a_shutdown_before_an_agent_was_built_says_so_once(capsys) -> None:
    first = Echo(name="First").to_dist()
    assert first(Msg("user", "built")).content == "built"  # this one was built before
    capsys.readouterr()
    session = get_session()
    busy = threading.Event()
    # hold the driver's loop, so that the new agent's definition and creation are still in its
    # outbox when shutdown() starts (as when a cell calls shutdown() right after to_dist())
    session.loop.call_soon(lambda: busy.wait(10))
    late = Late(name="L").to_dist(port=first.server.port)
    threading.Timer(0.3, busy.set).start()
    agentnb.shutdown()
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("agentnb")]
    assert said == [
        f"agentnb: agent 'L' was not created on {late.address}: the session was shut down "
        "(agentnb.shutdown()) before its server had built it; run its to_dist() again"
    ], said


FIRST_DRIVER = """
import sys
from agents import Shout
from agentnb import Msg
s = Shout(name="S").to_dist(port=int(sys.argv[1]), launch_server=False, token="t")
print(s(Msg("user", "from the first driver")).content)
"""


def test_a_second_driver_on_a_launcher_is_not_shown_the_first_drivers_prints() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    with RpcAgentServerLauncher(host="127.0.0.1", port=0, token="t") as server:
        first = subprocess.run(
            [sys.executable, "-c", FIRST_DRIVER, str(server.port)],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert "[S] got from the first driver" in first.stdout
        printed: list[str] = []
        mine = threading.Event()

        def listen(event: Event) -> None:
            if event.kind == "output":
                printed.append(event.text)
                if "second" in event.text:
                    mine.set()

        unsubscribe = get_session().subscribe(listen)
        try:
            again = Shout(name="S").to_dist(port=server.port, launch_server=False, token="t")
            assert again(Msg("user", "from the second driver")).content == "FROM THE SECOND DRIVER"
            assert mine.wait(30), printed  # its own print arrived, after anything older on the feed
        finally:
            unsubscribe()
            agentnb.shutdown()
        assert printed == ["got from the second driver\n"], printed
