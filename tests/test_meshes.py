"""Agent meshes: N agents of one class made and called in one operation per server."""

from __future__ import annotations

import grpc
import pytest
from agents import Counter, Echo, Picky, Referee, Sum
from kernel import Kernel
from raw import Raw, cli_server

import agentnb
from agentnb import Mesh, Msg, RemoteError
from agentnb._proto import agentnb_pb2 as pb
from agentnb.workshop._guess import Judge, Player

ROUND = 100_000


@pytest.mark.timeout(300)
def test_a_mesh_of_100000_agents_answers_one_round_with_none_lost() -> None:
    players = Player.mesh(ROUND, names="P{i}", kwargs={"seed": 7}, placement=2)
    judge = Judge("J", details=False).to_dist(port=players.owned[0].port)
    guesses = players(Msg("judge", None))  # one operation per server
    verdict = judge(guesses)  # the judge's server reads them all: one reference per server
    replies = guesses.gather(timeout=240)
    assert len(replies) == ROUND
    assert [m.name for m in replies] == [f"P{i}" for i in range(ROUND)]  # every agent, in order, once
    assert all(m.content["round"] == 1 and 0 <= m.content["guess"] <= 100 for m in replies)
    outcome = verdict.result(timeout=240).content
    assert outcome["players"] == ROUND
    average = sum(m.content["guess"] for m in replies) / ROUND
    assert outcome["average"] == round(average, 3)
    assert outcome["target"] == round(2 / 3 * average, 3)


def test_each_agent_gets_its_own_message_and_its_name_in_the_mesh_order() -> None:
    mesh = Echo.mesh(500, names="E{i:03d}", placement=3)
    assert isinstance(mesh, Mesh) and len(mesh) == 500 and len(mesh.parts) == 3
    replies = mesh.each([Msg("user", i * i) for i in range(500)])
    got = replies.gather(timeout=60)
    assert [m.content for m in got] == [i * i for i in range(500)]
    assert [m.name for m in got] == [f"E{i:03d}" for i in range(500)]
    assert replies[-1].content == 499 * 499 and replies[250].name == "E250"
    assert [p.content for p in replies[10:13]] == [100, 121, 144]
    assert mesh[7].name == "E007" and mesh[7](Msg("user", "one")).content == "one"
    assert [agent.name for agent in mesh[-2:]] == ["E498", "E499"]


def test_constructor_arguments_are_shared_and_overridden_by_index() -> None:
    mesh = Picky.mesh(10, names=[f"n{i}" for i in range(10)], kwargs={"tag": "plain"},
                      overrides={3: {"tag": "three"}, 9: {"tag": "nine"}}, placement=2)  # fmt: skip
    tags = [m.content["tag"] for m in mesh(Msg("user", "x")).gather(timeout=60)]
    assert tags == ["plain"] * 3 + ["three"] + ["plain"] * 5 + ["nine"]
    assert mesh.call_method("tagged", "!").gather(timeout=60)[3] == "three!"  # a public method, on all


def test_calls_to_one_agent_keep_their_order_with_the_mesh_calls() -> None:
    mesh = Counter.mesh(3000, placement=2)
    firsts = [mesh(None), mesh[2500](None), mesh(None), mesh[2500](None), mesh(None)]
    last = mesh[2500](None)
    counts = [r[2500].content for r in (firsts[0], firsts[2], firsts[4])]
    singles = [firsts[1].content, firsts[3].content, last.content]
    assert counts == [1, 3, 5] and singles == [2, 4, 6]
    assert all(m.content == 3 for m in firsts[4].gather(timeout=60)[:2500])


def test_replies_of_a_mesh_flow_to_other_agents_as_placeholders_and_as_one_fan_in() -> None:
    numbers = Echo.mesh(1000, placement=2)
    replies = numbers.each([Msg("user", i) for i in range(1000)])
    total = Sum(name="total").to_dist()
    one = Sum(name="one").to_dist()
    assert total(replies).content == 1 + sum(range(1000))  # one reference per server
    assert one(replies[42]).content == 43  # one agent's reply, forwarded
    again = numbers(replies[5])  # a placeholder sent to every agent of the mesh
    assert {m.content for m in again.gather(timeout=60)} == {5}
    summed = Sum.mesh(4, placement=[total]).each([replies[i] for i in range(4)])  # one placeholder each
    assert [m.content for m in summed.gather(timeout=60)] == [1, 2, 3, 4]


def test_a_mesh_call_inside_a_server_runs_in_process_without_grpc() -> None:
    players = Counter.mesh(2000, placement=1)
    referee = Referee("R", players=players).to_dist(port=players.owned[0].port)
    first = referee(Msg("user", "go")).content
    assert first == {"count": 2000, "sum": 2000, "names": ["Counter-0", "Counter-1"], "channels": 0}
    assert sum(m.content for m in players(None).gather(timeout=60)) == 2 * 2000  # same agents, in order
    spread = Counter.mesh(1000, name="spread", placement=2)
    mixed = Referee("M", players=spread).to_dist(port=spread.owned[0].port)
    # half the mesh is on the referee's server (in-process), half on another (one channel)
    assert mixed(None).content == {
        "count": 1000,
        "sum": 1000,
        "names": ["spread-0", "spread-1"],
        "channels": 1,
    }


def test_an_agent_that_fails_fails_alone_and_says_so() -> None:
    mesh = Picky.mesh(6, overrides={1: {"fail": True}, 4: {"tag": "fragile"}}, placement=2)
    with pytest.raises(RemoteError, match="Picky-1 was told to fail"):
        mesh.wait(timeout=60)
    replies = mesh(Msg("user", "raise"))
    got = replies.gather(timeout=60, return_exceptions=True)
    assert isinstance(got[1], RemoteError) and "told to fail" in str(got[1])
    assert isinstance(got[4], RemoteError) and "Picky-4 is fragile" in str(got[4])
    assert [m.content["got"] for i, m in enumerate(got) if i not in (1, 4)] == ["raise"] * 4
    with pytest.raises(RemoteError, match="told to fail"):
        replies.gather(timeout=60)
    with pytest.raises(RemoteError, match="fragile"):
        replies[4].result(timeout=60)


def test_bad_names_and_arguments_are_refused_before_anything_is_made() -> None:
    with pytest.raises(ValueError, match="holds {i} once"):
        Echo.mesh(3, names="E{j}")
    with pytest.raises(ValueError, match="different names"):
        Echo.mesh(2, names=["a", "a"])
    with pytest.raises(ValueError, match="not an agent index"):
        Echo.mesh(2, overrides={5: {}})
    with pytest.raises(TypeError, match="not an AgentBase subclass"):
        agentnb.mesh(dict, 3)
    first = Echo.mesh(4, names="dup{i}", placement=1)
    first.wait(timeout=60)
    clash = Echo.mesh(4, name="other", names="dup{i}", placement=[first.owned[0].port])
    with pytest.raises(agentnb.AgentExistsError, match="names are taken"):
        clash.wait(timeout=60)


def test_the_server_refuses_malformed_meshes_and_reads_replies_by_capability_only() -> None:
    mesh = Echo.mesh(10, placement=1)
    replies = mesh.each([Msg("user", i) for i in range(10)])
    assert replies.gather(timeout=60)[9].content == 9
    share = replies.shares[0]
    server = mesh.owned[0]
    raw = Raw(server.address, server.token)
    try:
        spec = pb.AgentSpec(name="m", by_import=pb.ImportRecipe(class_path="agents:Echo", kwargs_json="{}"))
        for pattern in ("{i:>999999999}", "{i.__class__}", "x{i}{i}", "plain"):
            request = pb.SubmitRequest(ops=[pb.Op(create_mesh=pb.CreateMeshRequest(
                mesh="m", spec=spec, name_pattern=pattern, count=3))])  # fmt: skip
            answer = raw.call("Submit", request)
            result = pb.SubmitResponse.FromString(answer.response).results[0]
            assert result.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0], (pattern, result)
        too_many = pb.CreateMeshRequest(mesh="big", spec=spec, name_pattern="b{i}", count=20_000_000)
        result = pb.SubmitResponse.FromString(
            raw.call("Submit", pb.SubmitRequest(ops=[pb.Op(create_mesh=too_many)])).response
        ).results[0]
        assert "1 to 10,000,000 agents" in result.status.message
        stranger = Raw(server.address, None)  # no token: the task id is the capability
        stream = stranger.channel.unary_stream("/agentnb.v1.AgentServer/FetchItems")
        chunks = list(stream(pb.FetchItemsRequest(task_id=share.task_id, start=8).SerializeToString(),
                             timeout=30))  # fmt: skip
        assert [pb.ItemsChunk.FromString(c).start for c in chunks] == [8]
        with pytest.raises(grpc.RpcError) as missing:
            list(stream(pb.FetchItemsRequest(task_id="0" * 32).SerializeToString(), timeout=30))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        stranger.close()
    finally:
        raw.close()


def test_a_launcher_that_takes_no_code_builds_a_mesh_by_import_path() -> None:
    token = "mesh-launcher-token-5e2"
    with cli_server("--token", token) as server:
        mesh = Picky.mesh(30, placement=[server.address], token=token, kwargs={"tag": "json"},
                          overrides={29: {"tag": "last"}})  # fmt: skip
        tags = [m.content["tag"] for m in mesh(None).gather(timeout=60)]
        assert tags == ["json"] * 29 + ["last"]

        class Local(agentnb.AgentBase):  # defined here: no server can import it by path
            def reply(self, x=None):
                return Msg(self.name, "local")

        with pytest.raises(agentnb.CodeNotAcceptedError, match="importable there"):
            agentnb.mesh(Local, 2, placement=[server.address], token=token)


MESH_CELL = """
from agents import Counter, Stepper
players = Counter.mesh(200, names="C{i}", placement=1)
steps = Stepper.mesh(2, placement=players)
steps(None).gather(timeout=60)
[sum(m.content for m in players(None).gather(timeout=60)), players.owned[0].pid]
"""


@pytest.mark.timeout(180)
def test_a_rerun_notebook_cell_gets_its_live_mesh_back_and_its_prints() -> None:
    kernel = Kernel()
    try:
        first = kernel.execute(MESH_CELL)
        total, pid = eval(first.value())
        assert total == 200  # each agent counted its first call
        assert "[Stepper-0] step 1" in first.stdout and "[Stepper-1] step 1" in first.stdout
        again = kernel.execute(MESH_CELL)  # the same cell, run again: the same agents, state kept
        assert eval(again.value()) == [400, pid]
        assert "[Stepper-1] step 2" in again.stdout
    finally:
        kernel.shutdown(now=True)
