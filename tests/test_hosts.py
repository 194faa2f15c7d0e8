"""Placeholders cross real hosts (network namespaces joined by veth): a driver's own servers
advertise addresses other hosts can reach, and loopback-only ones are relayed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from agents import Echo
from hosts import Host, one_host, start_launcher

from agentnb import Event, Msg
from agentnb._runtime._session import get_session

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    yield from one_host()


@pytest.fixture
def remote(host: Host, tmp_path) -> Iterator[tuple[str, str]]:
    token_file = tmp_path / "token"
    token_file.write_text("host-token")
    proc, address = start_launcher(host, str(token_file), "agents:Echo", '{"name": "R"}')
    yield address, "host-token"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def queued() -> Iterator[tuple[list[Event], threading.Event]]:
    """The "queued" events of agent R, and an event set when one arrives."""
    seen: list[Event] = []
    arrived = threading.Event()

    def listen(event: Event) -> None:
        if event.kind == "queued" and event.agent == "R":
            seen.append(event)
            arrived.set()

    unsubscribe = get_session().subscribe(listen)
    yield seen, arrived
    unsubscribe()


def test_a_placeholder_from_a_driver_launched_server_is_fetched_by_another_host(
    host: Host, remote: tuple[str, str], queued: tuple[list[Event], threading.Event]
) -> None:
    address, token = remote
    r_host, r_port = address.rsplit(":", 1)
    local = Echo(name="L").to_dist(local_mode=False)  # listens on all interfaces, here
    r = Echo(name="R").to_dist(host=r_host, port=int(r_port), launch_server=False, token=token)
    seen, arrived = queued
    q = r(local(Msg("user", "across hosts")))
    assert q.result(timeout=60).content == "across hosts"
    assert arrived.wait(30)
    ref = seen[-1].inputs[0]
    assert ref.agent == "L" and ref.address.startswith(host.peer + ":")  # reachable from R's host


def test_a_placeholder_from_a_loopback_only_server_is_relayed_to_another_host(
    host: Host, remote: tuple[str, str], queued: tuple[list[Event], threading.Event]
) -> None:
    address, token = remote
    r_host, r_port = address.rsplit(":", 1)
    loopback = Echo(name="LO").to_dist()  # local_mode=True: other hosts cannot reach it
    r = Echo(name="R").to_dist(host=r_host, port=int(r_port), launch_server=False, token=token)
    seen, arrived = queued
    q = r(loopback(Msg("user", "relayed")))
    assert q.result(timeout=60).content == "relayed"
    assert arrived.wait(30)
    assert seen[-1].inputs == ()  # it came as a message (relayed by the driver), not as a reference
