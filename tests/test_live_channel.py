"""The live channel (remote prints, states, results) survives drops, restarts and big fan-outs."""

from __future__ import annotations

import threading

import pytest
from agents import Echo, Gate, Talker
from netproxy import TcpProxy

from agentnb import Event, Msg, ResultExpiredError, RpcAgentServerLauncher
from agentnb._runtime._session import get_session


class Lines:
    """Collects the output lines a session shows, and waits for a count of them."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        if event.kind == "output" and event.agent == self.agent:
            with self._changed:
                self.lines.extend(event.text.splitlines())
                self._changed.notify_all()

    def wait(self, count: int, timeout: float = 60) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.lines) >= count, timeout), self.lines[-3:]
            return list(self.lines)


@pytest.fixture
def lines() -> Lines:
    collected = Lines("T")
    unsubscribe = get_session().subscribe(collected)
    yield collected
    unsubscribe()


def test_a_feed_that_drops_mid_stream_resumes_with_no_line_lost_or_shown_twice(lines: Lines) -> None:
    go_on, printed, finish = threading.Event(), threading.Event(), threading.Event()
    kwargs = {"name": "T", "go_on": go_on, "printed": printed, "finish": finish}
    with RpcAgentServerLauncher(Talker, kwargs, port=0, token="t") as launcher:
        with TcpProxy(("127.0.0.1", launcher.port)) as proxy:
            t = Talker(name="T").to_dist(port=proxy.port, launch_server=False, token="t")
            p = t(Msg("user", "talk"))
            lines.wait(50)
            proxy.cut()  # the connection drops mid-stream ...
            go_on.set()  # ... while the reply prints the second half
            assert printed.wait(60)
            proxy.resume()  # the connection is back: the feed follows again from where it was
            shown = lines.wait(100)
            assert shown == [f"line {i}" for i in range(1, 101)]
            assert not p.done()  # the second half came by the feed, not with the result
            finish.set()
            assert p.result(timeout=60).content == "done"
            assert lines.lines == [f"line {i}" for i in range(1, 101)]  # the result's copy: not again
            assert get_session().feed(t.address).drops >= 1


def test_calls_after_a_launcher_restarts_succeed_and_old_placeholders_say_it_restarted(tmp_path) -> None:
    never = str(tmp_path / "never")
    with RpcAgentServerLauncher(Gate, {"name": "G", "path": never}, port=0, token="t") as first:
        port = first.port
        g = Gate(name="G", path=never).to_dist(port=port, launch_server=False, token="t")
        old = g(Msg("user", "never answered"))
        assert old.call.acked_or_wait(30)
    with RpcAgentServerLauncher(Echo, {"name": "E"}, port=port, token="t"):
        e = Echo(name="E").to_dist(port=port, launch_server=False, token="t")
        # sent right after the launcher is back: they wait for the connection, never fail
        ps = [e(Msg("user", i)) for i in range(20)]
        assert [p.result(timeout=30).content for p in ps] == list(range(20))
        with pytest.raises(ResultExpiredError, match="restarted after this call was made"):
            old.result(timeout=30)
