"""Dask across hosts: a scheduler and ``dask worker`` processes in network namespaces (separate
hosts on one bridge), the driver here. Placeholders go server to server, host to host; a worker
killed mid-run fails its agents' calls with the naming error and respawns them elsewhere; a worker
that joins later gets a server; a kernel killed with -9 leaves no agent server behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from dask_hosts import DaskHosts, agentnb_servers_under, all_gone
from dataflow import seed_dataflow
from hosts import Host, Subnet
from kernel import Kernel

import agentnb
from agentnb import Event, Msg, ServerUnavailableError
from agentnb._runtime._session import get_session
from agentnb.workshop import Worker

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[Host]]:
    try:
        with Subnet(4) as made:
            yield made
    except OSError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cluster(hosts: list[Host]) -> Iterator[DaskHosts]:
    """A scheduler on the first host, a worker on the second and the third."""
    dask = DaskHosts(hosts[0]).start()
    try:
        for host in hosts[1:3]:
            dask.add_worker(host)
        yield dask
    finally:
        dask.stop()


@pytest.fixture(scope="module")
def client(cluster: DaskHosts) -> Iterator[distributed.Client]:
    with distributed.Client(cluster.address, timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def _queued_inputs() -> tuple[list[Event], threading.Event]:
    seen: list[Event] = []
    arrived = threading.Event()

    def listen(event: Event) -> None:
        if event.kind == "queued" and event.inputs:
            seen.append(event)
            arrived.set()

    get_session().subscribe(listen)
    return seen, arrived


def test_the_seed_dataflow_runs_over_two_hosts_with_placeholders_going_host_to_host(
    client: distributed.Client, hosts: list[Host]
) -> None:
    seen, _ = _queued_inputs()
    with agentnb.servers(client) as pool:
        assert sorted(pool.hosts()) == sorted(h.ip for h in hosts[1:3])
        A, B, C, D, E, F = (Worker(name=n, seconds=0.3).to_dist(placement=pool) for n in "ABCDEF")
        run = seed_dataflow(A, B, C, D, E, F)
        a, b, c, d, e, f = run.values()
        assert len(f.content["inputs"]) == 2
        hosts_of = {p.name: p._call.link.host for p in (a, b, c, d, e, f)}
        assert len(set(hosts_of.values())) == 2, hosts_of
        # B ran on the other host than A and took A's reply as a reference to A's server
        assert hosts_of["A"] != hosts_of["B"]
        refs = [ref for ev in seen if ev.agent == "B" for ref in ev.inputs]
        assert refs and refs[0].address == A.address and refs[0].agent == "A"
        assert b.content["inputs"][0]["pid"] == a.content["pid"]


def test_a_worker_that_joins_later_gets_a_server_and_takes_agents(
    client: distributed.Client, cluster: DaskHosts, hosts: list[Host]
) -> None:
    with agentnb.servers(client) as pool:
        assert len(pool.servers()) == 2
        cluster.add_worker(hosts[3])
        rows = pool.wait(servers=3, timeout=60)
        assert hosts[3].ip in {r.host for r in rows}
        late = Worker(name="late", seconds=0).to_dist(placement=pool.on(hosts[3].ip))
        assert late.address.startswith(hosts[3].ip + ":")
        assert late(Msg("u", 1)).content["inputs"] == [1]


def test_a_worker_killed_mid_run_fails_its_calls_naming_agent_host_and_cause_then_respawns_them(
    client: distributed.Client, cluster: DaskHosts, hosts: list[Host]
) -> None:
    if hosts[3].ip not in cluster.workers:
        cluster.add_worker(hosts[3])
    client.wait_for_workers(3, timeout=60)
    with agentnb.servers(client, respawn=True) as pool:
        pool.wait(servers=3, timeout=60)
        doomed = Worker(name="doomed", seconds=30).to_dist(placement=pool.on(hosts[3].ip))
        reader = Worker(name="reader", seconds=0).to_dist(placement=pool.on(hosts[1].ip))
        running = doomed(Msg("u", "work"))
        forwarded = reader(running)
        later = doomed(Msg("u", "queued behind"))
        assert running._call.acked_or_wait(30)
        t0 = time.monotonic()
        cluster.kill_worker(hosts[3])  # kill -9 its nanny and its worker process
        for placeholder in (running, later, forwarded):
            with pytest.raises(ServerUnavailableError) as caught:
                placeholder.result(timeout=10)
            text = str(caught.value)
            assert "doomed" in text and hosts[3].ip in text and "Dask scheduler removed the worker" in text
        assert time.monotonic() - t0 < 10
        # respawned on a server of another worker, its state started over
        assert not doomed.address.startswith(hosts[3].ip)
        again = doomed(Msg("u", "again"))
        assert again.result(timeout=60).content["inputs"] == ["again"]
        assert hosts[3].ip not in pool.hosts()


def test_a_kernel_killed_with_minus_9_leaves_no_agent_server_on_any_worker_within_10_s(
    cluster: DaskHosts, client: distributed.Client
) -> None:
    client.wait_for_workers(2, timeout=60)
    workers = list(client.run(os.getpid).values())
    assert workers and not agentnb_servers_under(workers)
    kernel = Kernel()
    try:
        kernel.execute(
            "import agentnb, distributed\n"
            "from agentnb.workshop import Worker\n"
            f"client = distributed.Client({cluster.address!r}, timeout=30)\n"
            "pool = agentnb.servers(client, per_worker=2)\n"
            "agents = [Worker(name=f'k{i}', seconds=0).to_dist(placement=pool) for i in range(4)]\n"
            "[a(None).content['pid'] for a in agents]",
            timeout=120,
        )
        servers = agentnb_servers_under(workers)
        assert len(servers) == 2 * len(workers), servers
        os.kill(kernel.pid, signal.SIGKILL)
        t0 = time.monotonic()
        assert all_gone(servers, 10.0), f"agent servers still running: {agentnb_servers_under(workers)}"
        assert time.monotonic() - t0 < 10
        assert all(_alive(pid) for pid in workers), "the engine's workers must live on"
    finally:
        kernel.shutdown(now=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
