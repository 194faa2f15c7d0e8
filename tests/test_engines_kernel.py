"""A pool in a real Jupyter kernel: ``%agentnb status`` and the pool's rich view list its hosts,
servers, agents and memory, and what the pool says about a lost worker lands in the cell that was
running then (an engine's own threads would put it in the cell that started the cluster)."""

from __future__ import annotations

import pytest
from kernel import Kernel

pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(180)


def test_status_shows_the_pool_and_a_lost_workers_notice_lands_in_the_running_cell() -> None:
    kernel = Kernel()
    try:
        kernel.execute(
            "import os, signal, time, agentnb\n"
            "from dask.distributed import Client, LocalCluster\n"
            "from agentnb import Msg\n"
            "from agentnb.workshop import Worker\n"
            "%load_ext agentnb\n"
            "cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=':0')\n"
            "client = Client(cluster)\n"
            "pool = agentnb.servers(client, respawn=True)\n"
            "agents = [Worker(name=f'w{i}', seconds=0).to_dist(placement=pool) for i in range(4)]\n"
            "[a(None).content['pid'] for a in agents]",
            timeout=120,
        )
        kernel.execute("deadline = time.monotonic() + 10\n"
                       "while not all(s.rss for s in pool.servers()) and time.monotonic() < deadline:\n"
                       "    time.sleep(0.1)")  # fmt: skip
        status = kernel.execute("%agentnb status")
        text = status.value()
        assert "1 pool" in text and "Dask pool" in text and "2 server(s) on 1 host(s)" in text
        assert "4 agent(s)" in text and "MiB" in text
        shown = kernel.execute("pool")
        page = next(
            o["content"]["data"]["text/html"] for o in shown.outputs if o["msg_type"] == "execute_result"
        )
        assert "<th>memory</th>" in page and "127.0.0.1" in page
        killed = kernel.execute(
            "slow = Worker(name='slow', seconds=30).to_dist(placement=pool)\n"
            "job = slow(Msg('u', 1))\n"
            "home = next(s for s in pool.servers() if s.address == slow.address)\n"
            "os.kill(client.run(os.getpid)[home.worker], signal.SIGKILL)\n"
            "try:\n"
            "    job.result(timeout=10)\n"
            "except agentnb.ServerUnavailableError as error:\n"
            "    print('failed:', type(error).__name__)",
            timeout=60,
        )
        assert "failed: ServerUnavailableError" in killed.stdout
        kernel.wait_for_output(killed, "agentnb: respawned agent", timeout=10)
        assert "their state started over" in killed.stdout
        kernel.execute("agentnb.shutdown(); client.close(); cluster.close()", timeout=60)
    finally:
        kernel.shutdown(now=True)
