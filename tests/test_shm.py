"""Big payloads between processes of one host go through shared memory, and nothing is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

import grpc
import pytest
from agents import Echo
from raw import HERE, Raw, cli_server, wait_until

import agentnb
from agentnb import Limits, Msg
from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime import _shm as shm

BIG = 3 << 20
TOKEN = "shm-test-token-7b1c"
pytestmark = pytest.mark.skipif(not shm.domain(), reason="no /dev/shm to share here")


def segments(pid: int) -> list[str]:
    """The shared-memory segments process ``pid`` owns."""
    return [name for name in os.listdir(shm.FOLDER) if name.startswith(f"agentnb-{pid}-")]


def test_big_messages_between_a_driver_and_its_server_go_through_shared_memory() -> None:
    agent = Echo(name="big").to_dist()
    payload = os.urandom(BIG)
    assert agent(Msg("user", payload)).content == payload  # read at once: one round trip
    assert segments(os.getpid()) and segments(agent.server.pid)  # the call there, its reply back
    fired = [agent(Msg("user", payload[i:] + payload[:i])) for i in range(4)]  # batched by the outbox
    assert [p.content for p in fired] == [payload[i:] + payload[:i] for i in range(4)]
    forwarded = Echo(name="next").to_dist()(agent(Msg("user", payload)))  # server to server
    assert forwarded.content == payload


def test_with_the_threshold_at_zero_big_messages_take_the_grpc_stream() -> None:
    agent = Echo(name="stream").to_dist(limits=Limits(shm_threshold=0))
    payload = os.urandom(BIG)
    assert agent(Msg("user", payload)).content == payload
    assert not segments(agent.server.pid)


def test_a_server_killed_with_sigkill_leaves_no_segment_behind() -> None:
    agent = Echo(name="doomed").to_dist()
    payload = os.urandom(BIG)
    assert agent(Msg("user", payload)).content == payload
    server = agent.server
    assert segments(server.pid), "the server answered through shared memory"
    os.kill(server.pid, signal.SIGKILL)
    assert server.exited.wait(30)  # its driver removes its segments as it learns it is gone
    assert segments(server.pid) == []


def test_a_driver_killed_with_sigkill_leaves_no_segment_behind() -> None:
    args = ("--token", TOKEN, "--agent-class", "agents:Echo", "--agent-kwargs", '{"name": "E"}')
    with cli_server(*args) as server:
        host, port = server.address.rsplit(":", 1)
        code = (
            "import os, sys\n"
            "from agents import Echo\n"
            "from agentnb import Msg\n"
            f"a = Echo(name='E').to_dist(host={host!r}, port={port}, launch_server=False, token={TOKEN!r})\n"
            f"payload = os.urandom({BIG})\n"
            "assert a(Msg('user', payload)).content == payload\n"
            "print('sent', flush=True)\n"
            "sys.stdin.read()\n"
        )
        errors = tempfile.TemporaryFile("w+")
        driver = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
            text=True, env={**os.environ, "PYTHONPATH": HERE},
        )  # fmt: skip
        try:
            assert driver.stdout is not None
            said = driver.stdout.readline()
            errors.seek(0)
            assert said == "sent\n", errors.read()[-3000:]
            assert segments(driver.pid), os.listdir(shm.FOLDER)  # both ends used shared memory
            assert segments(server.pid), (os.listdir(shm.FOLDER), "".join(server.log))
            driver.kill()
            driver.wait(30)
            # the server outlives it and sweeps what it owned
            wait_until(lambda: not segments(driver.pid), shm.SWEEP_S + 30, "the driver's segments going")
        finally:
            if driver.poll() is None:
                driver.kill()
            driver.wait(30)
            errors.close()


def test_only_this_users_agentnb_segments_are_read_and_within_the_byte_budget() -> None:
    agent = Echo(name="guard").to_dist(limits=Limits(max_message_bytes=4 << 20))
    agent(Msg("user", "hi")).result(timeout=60)
    raw = Raw(agent.address, agent.server.token)
    try:
        for name, size in (("../../etc/passwd", 10), ("agentnb-1-2-" + "0" * 32, 10), ("x", 1 << 40)):
            request = pb.CallRequest(shared=pb.SharedSegment(name=name, size=size, generation=1))
            answer = raw.call("Call", request)
            assert answer.code == grpc.StatusCode.INVALID_ARGUMENT, (name, answer)
        too_big = os.urandom(5 << 20)
        with pytest.raises(agentnb.MessageTooLargeError):
            agent(Msg("user", too_big))
    finally:
        raw.close()
