"""A server cannot be exhausted: abandoned waits leave nothing behind, stores stay in their budgets."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from agents import Echo, Flood, Gate
from conftest import wait_state
from raw import SIZES, Launched, Raw, rss_kib, sized_launcher, sizes, wait_until

from agentnb import CallTimeoutError, Msg, ResultExpiredError, RpcAgentServerLauncher
from agentnb._proto import agentnb_pb2 as pb
from agentnb._runtime._session import get_session

pytestmark = pytest.mark.timeout(180)


def submit_call(raw: Raw, agent: str) -> str:
    answer = raw.call(
        "Submit", pb.SubmitRequest(ops=[pb.Op(call=pb.CallRequest(agent=agent, no_input=True))])
    )
    assert answer.code == grpc.StatusCode.OK, answer
    (result,) = pb.SubmitResponse.FromString(answer.response).results
    assert result.task_id, result
    return result.task_id


def test_a_thousand_cancelled_unauthenticated_fetches_leave_no_waiter_and_no_memory(tmp_path) -> None:
    gate = tmp_path / "open"
    with RpcAgentServerLauncher(
        Gate, {"name": "G", "path": str(gate)}, host="127.0.0.1", token="t"
    ) as launcher:
        store = launcher._server.host.store  # in this process: its waiters can be counted
        raw = Raw(launcher.address, "t")
        task_id = submit_call(raw, "G")  # runs until the gate opens: fetches of it wait
        attacker = grpc.insecure_channel(launcher.address, options=[("grpc.use_local_subchannel_pool", 1)])
        fetch = attacker.unary_unary("/agentnb.v1.AgentServer/FetchResult")
        request = pb.FetchResultRequest(task_id=task_id).SerializeToString()
        rounds, size = 20, 50  # 50 at once stays under the per-peer cap of concurrent waits
        rss = []
        for i in range(rounds):
            futures = [fetch.future(request) for _ in range(size)]  # no token, no deadline
            wait_until(lambda: store.waiters() == size, 30, f"{size} fetches waiting (round {i})")
            for future in futures:
                future.cancel()
            wait_until(lambda: store.waiters() == 0, 30, f"every cancelled fetch gone (round {i})")
            assert all(f.cancelled() for f in futures)
            rss.append(rss_kib(os.getpid()))
        assert store.waiters() == 0
        # memory: the last rounds cost no more than the first ones (KiB)
        assert rss[-1] - rss[1] < 10_000, rss
        # one connection holds at most Limits.waits_per_peer (64) waits; more are refused at once
        futures = [fetch.future(request) for _ in range(70)]
        wait_until(lambda: store.waiters() == 64 and sum(f.done() for f in futures) == 6, 30, "64 waits")
        refused = [f for f in futures if f.done()]
        assert all(f.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for f in refused)
        assert "already waits for 64 results" in refused[0].details()
        for future in futures:
            future.cancel()
        wait_until(lambda: store.waiters() == 0, 30, "every cancelled fetch gone")
        gate.touch()
        done = pb.FetchResultResponse.FromString(raw.call("FetchResult", request, timeout=60).response)
        assert done.outcome.reply.name == "G"
        attacker.close()
        raw.close()


MiB = 2**20
BUDGETS = {"result_bytes": 32 * MiB, "event_history_bytes": 8 * MiB, "output_bytes_per_call": 64 * 1024}


@pytest.fixture
def budget_server() -> Iterator[Launched]:
    """A launcher process with small byte budgets hosting a Flood agent "F"."""
    with sized_launcher(BUDGETS, "budget-token") as server:
        yield server


@pytest.fixture
def quiet() -> Iterator[None]:
    """Remote prints are not shown (hundreds of MiB of them)."""
    restore = get_session().route_output(lambda event: None)
    yield
    restore()


def test_a_server_fed_500_mib_of_replies_and_prints_stays_within_its_budgets(
    budget_server: Launched, quiet: None
) -> None:
    options = dict(host="127.0.0.1", port=budget_server.port, launch_server=False, token="budget-token")
    flood = Flood(name="F").to_dist(**options)
    report = Echo(name=SIZES).to_dist(**options)  # attaches to the server's "Sizes" agent
    assert flood(Msg("user", 1)).result(timeout=60).content == "r" * MiB  # warm: every path once
    before = report(None).result(timeout=30).content
    calls = [flood(Msg("user", 2.5)) for _ in range(100)]  # 250 MiB of replies, 250 MiB printed
    wait_state(calls[-1], "done", timeout=150)  # one agent runs them in order: all done
    after = report(None).result(timeout=30).content
    assert after["store_bytes"] <= BUDGETS["result_bytes"], after
    assert after["event_bytes"] <= BUDGETS["event_history_bytes"], after
    grown = (after["VmHWM"] - before["VmRSS"]) * 1024  # the server's peak, over its start
    assert grown < BUDGETS["result_bytes"] + BUDGETS["event_history_bytes"] + 64 * MiB, (before, after)
    # the oldest replies went to keep the budget, and reading one says so
    with pytest.raises(ResultExpiredError, match="expired from the server's result store"):
        calls[0].result(timeout=30)
    assert calls[-1].result(timeout=30).content == "r" * int(2.5 * MiB)  # the newest are there
    # placeholders nobody holds any more: their results are released
    del calls
    gc.collect()
    wait_until(lambda: report(None).result(timeout=30).content["results"] <= 3, 60, "releasing results")


def test_calls_nobody_reads_never_grow_the_store_past_its_budget(budget_server: Launched) -> None:
    raw = Raw(budget_server.address, "budget-token")
    start = rss_kib(budget_server.pid) * 1024
    request = pb.CallRequest(agent="F")
    request.inputs.add().message.CopyFrom(pb.Message(name="user", content_json="4"))
    ops = [pb.Op(call=request) for _ in range(40)]  # 160 MiB of replies at once, none read
    answer = raw.call("Submit", pb.SubmitRequest(ops=ops))
    results = pb.SubmitResponse.FromString(answer.response).results
    task_ids = [r.task_id for r in results]
    assert all(task_ids), results
    last = pb.FetchResultRequest(task_id=task_ids[-1])
    done = raw.call("FetchResult", last, timeout=150)  # the agent runs them in order
    assert done.code == grpc.StatusCode.OK, done
    held = sizes(raw)
    assert held["store_bytes"] <= BUDGETS["result_bytes"] + 5 * MiB, held  # the budget, plus the last one
    first = raw.call("FetchResult", pb.FetchResultRequest(task_id=task_ids[0]))
    assert first.code == grpc.StatusCode.NOT_FOUND and first.reason == "expired", first
    assert "MiB" in first.details and "result_bytes" in first.details
    assert rss_kib(budget_server.pid) * 1024 - start < BUDGETS["result_bytes"] + 64 * MiB
    raw.close()


def test_hung_replies_do_not_stop_other_agents_of_their_server(tmp_path) -> None:
    gate = tmp_path / "never-opened-until-the-end"
    first = Gate(name="H0", path=str(gate)).to_dist()
    server, port = first.server, int(first.address.rsplit(":", 1)[1])
    # twenty hung replies on one server, more than its core of worker threads
    gates = [first] + [Gate(name=f"H{i}", path=str(gate)).to_dist(port=port) for i in range(1, 20)]
    stuck = [g(Msg("user", "wait")) for g in gates]
    wait_state(stuck[-1], "running")
    echo = Echo(name="E").to_dist(port=port)
    assert echo.server is server
    assert echo(Msg("user", "still answering")).result(timeout=30).content == "still answering"
    with pytest.raises(CallTimeoutError, match=r"agent 'H0' on 127\.0\.0\.1:\d+: no reply within 0.5 s"):
        stuck[0].result(timeout=0.5)
    gate.touch()
    assert [p.result(timeout=60).content for p in stuck] == [server.pid] * 20


def test_the_logs_of_dead_servers_are_swept_when_a_driver_next_launches_one(tmp_path) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    gone = [
        folder / f"agentnb-server-{dead.pid}-{dead.pid}.log",
        folder / f"agentnb-server-{dead.pid}-x1y2.log",
    ]
    kept = [
        folder / f"agentnb-server-{dead.pid}-{os.getpid()}.log",  # its server still runs
        folder / f"agentnb-server-{os.getpid()}-{dead.pid}.log",  # its driver still runs
        folder / "agentnb-server-notes.log",  # not a name agentnb makes
    ]
    for path in gone + kept:
        path.write_text("log")
    script = (
        "from agents import Echo\nfrom agentnb import Msg\nprint(Echo('E').to_dist()(Msg('u', 1)).content)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, TMPDIR=str(folder), PYTHONPATH=os.path.dirname(__file__)),
    )
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
    assert not any(path.exists() for path in gone)
    assert all(path.exists() for path in kept)
    # the driver's own server stopped cleanly: its log went with it
    assert sorted(folder.glob("agentnb-server-*.log")) == sorted(kept)


def test_placeholders_naming_ever_more_servers_do_not_open_ever_more_channels(monkeypatch) -> None:
    monkeypatch.setattr("agentnb.server._resolve.MAX_SERVERS", 4)
    closed = []
    for _ in range(6):  # ports nothing listens on: reading from them keeps failing
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed.append(s.getsockname()[1])
    with RpcAgentServerLauncher(Echo, {"name": "E"}, host="127.0.0.1", token="t") as launcher:
        raw = Raw(launcher.address, "t")
        ops = []
        for i, port in enumerate(closed):  # one agent each: a call does not wait behind another
            spec = pb.AgentSpec(
                name=f"E{i}",
                by_import=pb.ImportRecipe(class_path="agents:Echo", kwargs_json=f'{{"name": "E{i}"}}'),
            )
            ops.append(pb.Op(create=pb.CreateAgentRequest(spec=spec)))
            call = pb.CallRequest(agent=f"E{i}")
            call.inputs.add().ref.CopyFrom(
                pb.TaskRef(address=f"127.0.0.1:{port}", task_id="ab" * 16, agent="far")
            )
            ops.append(pb.Op(call=call))
        results = pb.SubmitResponse.FromString(raw.call("Submit", pb.SubmitRequest(ops=ops)).response).results
        for result in results[9::2]:  # the calls of the fifth and sixth agents
            answer = raw.call("FetchResult", pb.FetchResultRequest(task_id=result.task_id), timeout=30)
            failure = pb.FetchResultResponse.FromString(answer.response).outcome.failure
            assert "already reads placeholders from 4 other servers" in failure.message, failure
        assert len(launcher._server.host.resolver._watches) == 4
        raw.close()
