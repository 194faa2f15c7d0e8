"""Ray: a two-node ``ray.cluster_utils.Cluster`` on this machine hosts a pool of agent servers,
one actor pinned to each node. One cluster for the module (it takes seconds to start)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from agents import Counter
from conftest import wait_for_exit
from dataflow import seed_dataflow

import agentnb
from agentnb import Msg, ServerUnavailableError
from agentnb._runtime._session import get_session
from agentnb.notebook.graph._model import GraphModel
from agentnb.workshop import Worker

# Ray nodes on loopback (on Linux Ray would take this machine's network address); read by ray at import
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")
pytestmark = pytest.mark.timeout(240)

NODE = {"num_cpus": 1}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args=dict(NODE, include_dashboard=False))
    try:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        # the tests' agent classes import on every node, as a Ray user ships their code
        tests = os.path.dirname(os.path.abspath(__file__))
        runtime_env = {"env_vars": {"PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}}
        ray.init(address=cluster.address, log_to_driver=False, runtime_env=runtime_env)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_the_seed_dataflow_runs_on_servers_pinned_to_two_ray_nodes(cluster: Any) -> None:
    with agentnb.servers(ray) as pool:
        servers = pool.servers()
        nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        assert {s.worker for s in servers} == nodes and len(nodes) == 2
        A, B, C, D, E, F = (Worker(name=n, seconds=0.3).to_dist(placement=pool) for n in "ABCDEF")
        run = seed_dataflow(A, B, C, D, E, F)
        a, b, c, d, e, f = run.values()
        assert len(f.content["inputs"]) == 2
        assert {p.content["pid"] for p in (a, b, c, d, e, f)} == {s.pid for s in servers}
        pids = [s.pid for s in servers]
    assert all(wait_for_exit(pid, 15) for pid in pids), "closing the pool stops the servers"


def test_a_node_that_joins_gets_a_server_and_one_removed_mid_run_fails_its_calls_then_respawns_them(
    cluster: Any,
) -> None:
    model = GraphModel()
    unsubscribe = get_session().subscribe(model.apply)
    try:
        with agentnb.servers(ray, respawn=True) as pool:
            assert len(pool.servers()) == 2
            extra = cluster.add_node(**NODE)  # a node that joins later gets a server too
            pool.wait(servers=3, timeout=60)
            doomed = pool.on(extra.node_id)
            slow = Worker(name="slow", seconds=30).to_dist(placement=doomed)
            count = Counter(name="count").to_dist(placement=doomed)
            assert count(None).content == 1
            address = slow.address
            running = slow(Msg("u", "x"))
            assert running._call.acked_or_wait(30)
            t0 = time.monotonic()
            cluster.remove_node(extra)
            with pytest.raises(ServerUnavailableError) as caught:
                running.result(timeout=15)
            assert time.monotonic() - t0 < 15
            text = str(caught.value)
            assert "'slow'" in text and address in text and extra.node_id in text
            assert "node" in text.split("is lost: ", 1)[1]  # Ray's own account of the death
            assert count.address != address and count(None).content == 1  # respawned, state anew
            snap = model.wait_for(
                lambda s: {n.name: n.mark for n in s.nodes}.get("count") == "respawned", timeout=10
            )
            assert next(n for n in snap.nodes if n.name == "count").address == count.address
    finally:
        unsubscribe()
