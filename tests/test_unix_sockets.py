"""Servers on the driver's machine are reached over Unix sockets; TCP stays for other hosts."""

from __future__ import annotations

import os
import signal
import stat

from agents import Echo
from conftest import wait_for_exit

import agentnb
from agentnb import Msg, RpcAgentServerLauncher
from agentnb._core._connection import runtime_dir, sweep_sockets


def _is_socket(path: str) -> bool:
    return os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode)


def test_a_launched_server_is_called_over_its_unix_socket_which_goes_when_it_stops() -> None:
    e = Echo(name="E").to_dist()
    assert e.link is not None and e.server is not None
    assert e.link.target == f"unix:{e.server.unix}" and _is_socket(e.server.unix)
    assert e.address.startswith("127.0.0.1:")  # other hosts and other servers still use TCP
    assert e(Msg("user", "over a socket")).content == "over a socket"
    path = e.server.unix
    agentnb.shutdown()
    assert not os.path.exists(path)


def test_a_launcher_on_loopback_is_attached_over_the_unix_socket_its_connection_file_names() -> None:
    with RpcAgentServerLauncher(Echo, {"name": "L"}, port=0, token="t" * 32) as launcher:
        attached = Echo(name="L").to_dist(port=launcher.port, launch_server=False)
        assert attached.link is not None and attached.link.target.startswith("unix:")
        assert attached(Msg("user", "hi")).content == "hi"


def test_the_socket_of_a_killed_server_is_swept() -> None:
    e = Echo(name="K").to_dist()
    assert e.server is not None
    path = e.server.unix
    os.kill(e.server.pid, signal.SIGKILL)
    assert wait_for_exit(e.server.pid, 30)
    assert _is_socket(path)  # a killed server cannot remove it
    assert path in sweep_sockets()
    assert not os.path.exists(path) and runtime_dir().is_dir()
