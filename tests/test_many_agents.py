from __future__ import annotations

import pytest
from agents import Echo

from agentnb import Msg


@pytest.mark.timeout(300)
def test_a_thousand_agents_on_one_server_are_created_and_called_once_each() -> None:
    first = Echo(name="E0").to_dist()
    port = first.server.port
    agents = [first] + [Echo(name=f"E{i}").to_dist(port=port) for i in range(1, 1000)]
    assert {a.server.pid for a in agents} == {first.server.pid}
    replies = [a(Msg("user", i)) for i, a in enumerate(agents)]
    assert [p.content for p in replies] == list(range(1000))
    assert {p.name for p in replies} == {f"E{i}" for i in range(1000)}
