"""Big fan-outs: every call answered, none lost (back pressure, never loss)."""

from __future__ import annotations

import pytest
from agents import Echo

from agentnb import Msg

COUNT = 20_000


@pytest.mark.timeout(600)
def test_twenty_thousand_agents_on_one_server_get_one_call_each_at_once_with_none_lost() -> None:
    first = Echo(name="E0").to_dist()
    port = first.server.port
    agents = [first] + [Echo(name=f"E{i}").to_dist(port=port) for i in range(1, COUNT)]
    assert {a.server.pid for a in agents} == {first.server.pid}
    replies = [a(Msg("user", i)) for i, a in enumerate(agents)]  # all at once: nothing read yet
    assert [p.result(timeout=300).content for p in replies] == list(range(COUNT))
    assert {p.name for p in replies} == {f"E{i}" for i in range(COUNT)}
