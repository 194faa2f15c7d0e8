"""A leased server (what an engine starts for a pool) stops once its driver stops renewing, and
lives on while renewals, or any RPC that carries its token, keep coming."""

from __future__ import annotations

import time

import pytest

from agentnb._core._config import DEFAULT_LIMITS, Timeouts
from agentnb._core._token import new_token
from agentnb._runtime._client import SyncServerClient
from agentnb._runtime._process import ServerProcess, spawn

pytestmark = pytest.mark.timeout(60)
LEASE = 2.0


def _leased() -> ServerProcess:
    return spawn("127.0.0.1", 0, None, new_token(), DEFAULT_LIMITS, Timeouts(), lease=LEASE)


def test_a_server_whose_lease_is_not_renewed_stops_within_the_lease() -> None:
    server = _leased()
    t0 = time.monotonic()
    assert server.exited.wait(LEASE + 3), "the server outlived its lease"
    assert time.monotonic() - t0 >= LEASE - 0.5 and server.returncode == 0
    assert "no lease renewal from its driver" in server.log_tail()


def test_a_renewed_server_lives_on_and_says_how_big_it_is() -> None:
    server = _leased()
    client = SyncServerClient(server.address, server.token, DEFAULT_LIMITS, Timeouts())
    try:
        deadline = time.monotonic() + 3 * LEASE
        while time.monotonic() < deadline:
            answer = client.renew_lease(2.0)
            assert answer.lease_s == LEASE and answer.rss_bytes > 10 * 2**20
            assert not server.exited.wait(LEASE / 4)
        assert not server.exited.is_set()
    finally:
        client.close()
        server.stop(Timeouts(stop=3.0))


def test_a_wrong_token_renews_nothing() -> None:
    server = _leased()
    client = SyncServerClient(server.address, "not-its-token", DEFAULT_LIMITS, Timeouts())
    try:
        with pytest.raises(Exception, match="refused the token"):
            client.renew_lease(2.0)
        assert server.exited.wait(LEASE + 3)
    finally:
        client.close()
        server.stop(Timeouts(stop=3.0))
