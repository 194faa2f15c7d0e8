"""Dask on one machine: a LocalCluster with process workers hosts a pool of agent servers.

One cluster for the module (a LocalCluster takes seconds to start on two cores); each test
makes its own pool and closes it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from agents import Counter, Echo
from conftest import wait_for_exit
from dask_hosts import agentnb_servers_under
from dataflow import seed_dataflow

import agentnb
from agentnb import AgentBase, Msg, ServerUnavailableError
from agentnb._runtime._session import get_session
from agentnb.notebook.graph._model import GraphModel
from agentnb.workshop import Worker

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _workers(client: distributed.Client) -> dict[str, int]:
    """Worker address -> its process's pid."""
    return client.run(os.getpid)


def test_the_seed_dataflow_spreads_over_the_process_workers_servers(client: distributed.Client) -> None:
    with agentnb.servers(client) as pool:
        workers = _workers(client)
        servers = pool.servers()
        assert {s.worker for s in servers} == set(workers)
        assert sorted(agentnb_servers_under(list(workers.values()))) == sorted(s.pid for s in servers)
        A, B, C, D, E, F = (Worker(name=n, seconds=0.3).to_dist(placement=pool) for n in "ABCDEF")
        t0 = time.monotonic()
        run = seed_dataflow(A, B, C, D, E, F)
        a, b, c, d, e, f = run.values()
        assert [m["inputs"] for m in f.content["inputs"]][0] == []
        assert time.monotonic() - t0 < 3.0  # B and C ran side by side; E did not wait
        assert {p.content["pid"] for p in (a, b, c, d, e, f)} == {s.pid for s in servers}
        assert sorted(len(pool.agents_on(s.address)) for s in servers) == [3, 3]


def test_a_worker_killed_mid_run_fails_its_agents_calls_naming_them_then_respawns_them(
    client: distributed.Client,
) -> None:
    model = GraphModel()
    unsubscribe = get_session().subscribe(model.apply)
    try:
        with agentnb.servers(client, respawn=True) as pool:
            pool.wait(servers=2, timeout=60)
            host = pool.servers()[0]
            slow = Worker(name="slow", seconds=30).to_dist(placement=pool.on(host.worker))
            count = Counter(name="count").to_dist(placement=pool.on(host.worker))
            assert count(None).content == 1
            running = slow(Msg("u", "x"))
            assert running._call.acked_or_wait(30)
            t0 = time.monotonic()
            os.kill(_workers(client)[host.worker], signal.SIGKILL)  # its nanny starts a new worker
            with pytest.raises(ServerUnavailableError) as caught:
                running.result(timeout=10)
            assert time.monotonic() - t0 < 10
            text = str(caught.value)
            assert "'slow'" in text and host.address in text and host.worker in text
            assert "Dask scheduler removed the worker" in text and "respawn" in text
            # rebuilt from its constructor arguments on a live server: its state started over
            assert count.address != host.address
            assert count(None).content == 1
            assert slow.address != host.address
            snap = model.wait_for(
                lambda s: {n.name: n.mark for n in s.nodes}.get("count") == "respawned", timeout=10
            )
            node = next(n for n in snap.nodes if n.name == "count")
            assert node.address == count.address and "lost" in node.mark_note
            rows = {r.address: r for r in pool.servers()}
            assert rows[host.address].state == "lost" and "removed the worker" in rows[host.address].cause
            assert "lost" in repr(pool)
    finally:
        unsubscribe()


def test_without_respawn_a_lost_agent_stays_lost_and_says_so_at_once(client: distributed.Client) -> None:
    client.wait_for_workers(2, timeout=60)
    model = GraphModel()
    unsubscribe = get_session().subscribe(model.apply)
    try:
        with agentnb.servers(client) as pool:
            pool.wait(servers=2, timeout=60)
            host = pool.servers()[0]
            gone = Echo(name="gone").to_dist(placement=pool.on(host.worker))
            kept = Echo(name="kept").to_dist(placement=pool.on(host.worker, respawn=True))
            assert gone(Msg("u", 1)).content == 1 and kept(Msg("u", 2)).content == 2
            os.kill(_workers(client)[host.worker], signal.SIGKILL)
            marks = {"gone": "lost", "kept": "respawned"}
            model.wait_for(lambda s: marks.items() <= {n.name: n.mark for n in s.nodes}.items(), timeout=10)
            with pytest.raises(ServerUnavailableError, match="'gone'.*is lost: .*respawn=True"):
                gone(Msg("u", 3))
            assert not gone.alive()
            assert kept(Msg("u", 4)).content == 4  # this one was placed with respawn=True
    finally:
        unsubscribe()


def test_inside_with_pool_a_plain_to_dist_and_agentscopes_to_dist_true_use_the_pool(
    client: distributed.Client,
) -> None:
    client.wait_for_workers(2, timeout=60)
    with agentnb.servers(client) as pool:
        servers = {s.address for s in pool.servers()}
        plain = Echo(name="plain").to_dist()
        scoped = Echo(name="scoped", to_dist=True)
        assert plain.address in servers and scoped.address in servers
        assert scoped(Msg("u", "hi")).content == "hi"
        pids = [s.pid for s in pool.servers()]
    assert pool.closed
    assert all(wait_for_exit(pid, 10) for pid in pids), "closing the pool stops its servers"
    with pytest.raises(ServerUnavailableError, match="was closed"):
        plain(Msg("u", 1))
    outside = Echo(name="outside").to_dist()  # no pool any more: a server of this session
    assert outside.server is not None


def test_placements_by_name_on_a_host_and_near_another_agent(client: distributed.Client) -> None:
    client.wait_for_workers(2, timeout=60)
    with agentnb.servers(client, per_worker=2) as pool:
        rows = pool.wait(servers=4, timeout=60)
        by_name = [Echo(name=f"n{i}").to_dist(placement=pool.by_name()) for i in range(8)]
        again = [Echo(name=f"n{i}").to_dist(placement=pool.by_name(), fresh=True) for i in range(8)]
        assert [a.address for a in by_name] == [a.address for a in again]
        worker = rows[-1].worker
        on = Echo(name="on").to_dist(placement=pool.on(worker))
        assert on.address in {r.address for r in rows if r.worker == worker}
        near = Echo(name="near").to_dist(placement=pool.near(on))
        assert near.address == on.address
        assert near(on(Msg("u", "x"))).content == "x"
        with pytest.raises(ValueError, match="no live server of the pool on '10.9.9.9'.*127.0.0.1"):
            Echo(name="nowhere").to_dist(placement=pool.on("10.9.9.9"))
        with pytest.raises(ValueError, match="drop host=, port="):
            Echo(name="both").to_dist(port=12001, placement=pool)


def test_the_pool_and_the_status_show_hosts_servers_agents_and_memory_and_never_the_token(
    client: distributed.Client,
) -> None:
    client.wait_for_workers(2, timeout=60)
    with agentnb.servers(client) as pool:
        agents = [Echo(name=f"e{i}").to_dist(placement=pool) for i in range(3)]
        for agent in agents:
            agent(Msg("u", 1)).content
        token = pool._spec.token
        deadline = time.monotonic() + 10
        while not all(r.rss for r in pool.servers()) and time.monotonic() < deadline:
            time.sleep(0.1)  # the next lease renewal (every second) brings the memory figures
        text, page = repr(pool), pool._repr_html_()
        assert "3 agent(s)" in text and "MiB" in text and "127.0.0.1" in text
        assert "<table>" in page and "memory" in page
        status = agentnb.status()
        assert "1 pool" in status.summary() and pool.summary() in repr(status)
        assert pool._repr_html_() in status._repr_html_()
        plugin_text = repr(
            client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins))
        )
        for shown in (text, page, repr(status), status._repr_html_(), repr(pool._spec), plugin_text):
            assert token not in shown


def test_a_tls_pool_encrypts_and_its_agents_answer(client: distributed.Client) -> None:
    client.wait_for_workers(2, timeout=60)
    with agentnb.servers(client, tls=True) as pool:
        a = Echo(name="ta").to_dist(placement=pool)
        b = Echo(name="tb").to_dist(placement=pool)
        assert a.address != b.address
        assert b(a(Msg("u", "secret"))).content == "secret"  # server to server over TLS too
        assert a.link.tls is not None


def test_shutdown_closes_the_pools_and_a_bad_engine_is_refused() -> None:
    with pytest.raises(TypeError, match="dask.distributed.Client .* or the ray module"):
        agentnb.servers(object())


def test_agentnb_shutdown_closes_a_pool(client: distributed.Client) -> None:
    client.wait_for_workers(2, timeout=60)
    pool = agentnb.servers(client)
    pids = [s.pid for s in pool.servers()]
    agentnb.shutdown()
    assert pool.closed and all(wait_for_exit(pid, 10) for pid in pids)


class Plain(AgentBase):
    """Defined in the test module: shipped to the workers' servers as code."""

    def reply(self, x=None):
        return Msg(self.name, os.getpid())
