"""A lost server never wedges anyone: every reader of its placeholders gets an error naming it.

Real server processes: a producer's server killed (kill -9) or cut off (every
packet dropped between two network namespaces) while its placeholder is read
later by the driver, or consumed by an agent on another server. Each reader
gets an error naming the agent and the server within ``Timeouts.reconnect``
+ 10 s, and the consuming agent answers its other calls meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator

import pytest
from agents import Echo, Gate
from conftest import wait_state
from hosts import Host, one_host, start_launcher
from raw import CliServer, cli_server

import agentnb
from agentnb import Event, Msg, ServerUnavailableError, Timeouts
from agentnb._runtime._session import get_session
from agentnb.notebook.graph._model import GraphModel

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:agentnb. the connection to the agent server"),  # no TLS: a test net
]

TOKEN = "lost-servers-token"
#: Every reader learns of the loss within this.
BOUND = Timeouts().reconnect + 10
#: The consuming agent answers its next call within this.
NEXT = 5.0


@pytest.fixture
def never(tmp_path) -> str:
    """A path that never appears: a Gate waiting for it runs until its server goes."""
    return str(tmp_path / "never")


@pytest.fixture
def launcher(never: str) -> Iterator[CliServer]:
    """A launcher this driver did not start (it learns of its death only by the network)."""
    kwargs = json.dumps({"name": "A", "path": never})
    with cli_server("--token", TOKEN, "--agent-class", "agents:Gate", "--agent-kwargs", kwargs) as server:
        yield server


class ErrorEvents:
    """The "error" events of the session's feeds (what the graph draws), by task id."""

    def __init__(self) -> None:
        self._seen: dict[str, Event] = {}
        self._arrived = threading.Condition()

    def listen(self, event: Event) -> None:
        if event.kind == "error":
            with self._arrived:
                self._seen[event.task_id] = event
                self._arrived.notify_all()

    def wait(self, task_id: str, timeout: float) -> Event:
        with self._arrived:
            found = self._arrived.wait_for(lambda: task_id in self._seen, timeout)
            assert found, f"no error event for task {task_id} within {timeout} s"
            return self._seen[task_id]


@pytest.fixture
def errors() -> Iterator[ErrorEvents]:
    events = ErrorEvents()
    unsubscribe = get_session().subscribe(events.listen)
    yield events
    unsubscribe()


def attach(server: CliServer, never: str) -> agentnb.AgentBase:
    host, port = server.address.rsplit(":", 1)
    return Gate(name="A", path=never).to_dist(host, int(port), launch_server=False, token=TOKEN)


def names_the_loss(error: BaseException, agent: str, address: str) -> None:
    text = str(error)
    assert f"agent {agent!r}" in text and address in text, text


def test_a_killed_launched_server_fails_a_placeholder_read_later(never: str) -> None:
    a = Gate(name="A", path=never).to_dist()
    p = a(Msg("user", "wait"))
    wait_state(p, "running")
    os.kill(a.server.pid, signal.SIGKILL)
    with pytest.raises(ServerUnavailableError) as info:
        p.result(timeout=BOUND)
    names_the_loss(info.value, "A", a.address)
    assert "SIGKILL" in str(info.value)
    assert p.state == "error"


@pytest.fixture
def graph() -> Iterator[GraphModel]:
    """A graph fed by the session's event feeds, as the notebook's widget is."""
    model = GraphModel()
    unsubscribe = get_session().subscribe(model.apply)
    yield model
    unsubscribe()


def failed_in(graph: GraphModel, agent: str) -> None:
    graph.wait_for(lambda snap: any(n.name == agent and n.state == "error" for n in snap.nodes), 10)


def test_a_killed_launcher_fails_a_placeholder_read_later(
    launcher: CliServer, never: str, graph: GraphModel
) -> None:
    a = attach(launcher, never)
    p = a(Msg("user", "wait"))
    wait_state(p, "running")
    os.kill(launcher.pid, signal.SIGKILL)  # and it is not restarted
    with pytest.raises(ServerUnavailableError) as info:
        p.result(timeout=BOUND)
    names_the_loss(info.value, "A", launcher.address)
    assert "stopped or killed" in str(info.value)
    failed_in(graph, "A")  # no longer drawn running


def test_a_killed_producer_fails_the_agent_consuming_its_placeholder(
    launcher: CliServer, never: str, errors: ErrorEvents
) -> None:
    a = attach(launcher, never)
    b = Echo(name="B").to_dist()
    p = b(a(Msg("user", "wait")))
    wait_state(p, "queued")  # on B's server, waiting for A's reply
    os.kill(launcher.pid, signal.SIGKILL)
    assert b(Msg("user", "next")).result(timeout=NEXT).content == "next"  # B is not held
    with pytest.raises(ServerUnavailableError) as info:
        p.result(timeout=BOUND)
    names_the_loss(info.value, "A", launcher.address)
    event = errors.wait(p.task_id, BOUND)  # B's server failed the call too, naming A
    assert event.agent == "B" and "'A'" in event.preview and launcher.address in event.preview
    assert b(Msg("user", "after")).result(timeout=NEXT).content == "after"


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    yield from one_host()


@pytest.fixture
def far(host: Host, tmp_path, never: str) -> Iterator[tuple[Host, str]]:
    """A launcher of agent A on another host (a network namespace), cut off at the end."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    kwargs = json.dumps({"name": "A", "path": never})
    proc, address = start_launcher(host, str(token_file), "agents:Gate", kwargs)
    yield host, address
    host.mend()
    proc.kill()
    proc.wait(10)


def test_a_cut_link_fails_every_reader_and_holds_no_agent(
    far: tuple[Host, str], never: str, errors: ErrorEvents, graph: GraphModel
) -> None:
    host, address = far
    a_host, a_port = address.rsplit(":", 1)
    a = Gate(name="A", path=never).to_dist(a_host, int(a_port), launch_server=False, token=TOKEN)
    b = Echo(name="B").to_dist()
    later = a(Msg("user", "read later"))
    p = b(a(Msg("user", "forwarded")))
    wait_state(later, "running")
    wait_state(p, "queued")
    host.cut()  # no reset, no refusal: silence
    assert b(Msg("user", "next")).result(timeout=NEXT).content == "next"  # B is not held
    for placeholder in (later, p):
        with pytest.raises(ServerUnavailableError) as info:
            placeholder.result(timeout=BOUND)
        names_the_loss(info.value, "A", address)
    event = errors.wait(p.task_id, BOUND)
    assert event.agent == "B" and "'A'" in event.preview and address in event.preview
    failed_in(graph, "A")


def test_a_server_declared_lost_ends_a_call_on_its_way_from_a_readers_thread(
    far: tuple[Host, str], never: str
) -> None:
    """An engine that says a worker died (``link.server_lost``) ends a call a reader sent from
    its own thread at once, not at the reader's deadline."""
    host, address = far
    a_host, a_port = address.rsplit(":", 1)
    a = Gate(name="A", path=never).to_dist(a_host, int(a_port), launch_server=False, token=TOKEN)
    host.cut()
    outcome: list[BaseException] = []
    sending = threading.Thread(target=lambda: _read_at_once(a, outcome), daemon=True)
    sending.start()  # the reader sends the call itself (read at once) into the silence
    assert not _joined(sending, 1.0)  # it waits for the server
    a.link.server_lost(ServerUnavailableError("the engine says A's worker died"))
    assert _joined(sending, NEXT), "the reader still waits for a server declared lost"
    assert isinstance(outcome[0], ServerUnavailableError) and "worker died" in str(outcome[0])


def _read_at_once(agent: agentnb.AgentBase, outcome: list[BaseException]) -> None:
    try:
        agent(Msg("user", "now")).result(timeout=100)
    except BaseException as exc:  # noqa: BLE001 - handed to the test
        outcome.append(exc)


def _joined(thread: threading.Thread, timeout: float) -> bool:
    thread.join(timeout)
    return not thread.is_alive()
