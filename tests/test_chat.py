"""Chat models and agents: the rule-based model, the OpenAI-compatible client, record and replay.

The client talks to a real HTTP server (tests/fake_openai.py) over loopback;
agents run in real server processes.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path

import pytest
from fake_openai import MODEL, FakeOpenAI

from agentnb import Msg, RemoteError
from agentnb.chat import (
    ChatAgent,
    ModelConfig,
    ModelNotConfiguredError,
    ModelRequestError,
    OpenAIChat,
    Recording,
    RecordingError,
    ReplayMissError,
    RuleModel,
    _errors,
)

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there, agent"}]


def test_the_rule_model_answers_the_same_to_the_same_conversation() -> None:
    assert RuleModel(3).complete(HELLO) == RuleModel(3).complete(HELLO)
    assert RuleModel(1).complete([{"role": "user", "content": "pick 41"}]) == "You said 41; I say 42."


def test_no_endpoint_in_the_environment_names_the_variables_to_set() -> None:
    with pytest.raises(ModelNotConfiguredError) as info:
        ModelConfig.from_env({})
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        assert name in str(info.value)
    with pytest.raises(ModelNotConfiguredError, match="OPENAI_MODEL is not set"):
        ModelConfig.from_env({"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    config = ModelConfig.from_env({"OPENAI_API_KEY": "sk-test"})
    assert config.base_url.startswith("https://api.openai.com") and config.model
    assert "sk-test" not in repr(config)


def test_a_live_openai_agent_without_an_endpoint_fails_where_it_is_built(monkeypatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ModelNotConfiguredError):
        ChatAgent("Live", model="openai")


def test_the_client_asks_an_openai_compatible_endpoint_with_its_key() -> None:
    with FakeOpenAI(api_key="secret") as fake:
        model = OpenAIChat(ModelConfig(fake.base_url, MODEL, api_key="secret"))
        assert model.complete(HELLO, temperature=0) == RuleModel(42).complete(HELLO)
        assert fake.requests[-1]["temperature"] == 0 and fake.requests[-1]["messages"] == HELLO
        with pytest.raises(ModelRequestError, match="401"):
            OpenAIChat(ModelConfig(fake.base_url, MODEL, api_key="wrong")).complete(HELLO)
        with pytest.raises(ModelRequestError, match="404.*not found"):
            OpenAIChat(ModelConfig(fake.base_url, "no-such-model", api_key="secret")).complete(HELLO)
        closed = fake.base_url
    with pytest.raises(ModelRequestError, match="cannot reach the model endpoint"):
        OpenAIChat(ModelConfig(closed, MODEL, timeout=5)).complete(HELLO)


def debate(recording: Path, mode: str) -> list[str]:
    """Two distributed chat agents on two servers, in parallel, hearing each other."""
    common = dict(model="openai", recording=str(recording), mode=mode, max_tokens=50)
    pro = ChatAgent("Pro", "Argue for.", **common).to_dist(fresh=True)
    con = ChatAgent("Con", "Argue against.", **common).to_dist(fresh=True)
    said = []
    speech = Msg("Moderator", "Motion: tests are worth it.")
    for _ in range(2):
        p, c = pro(speech), con(speech)
        pro.observe(c)
        con.observe(p)
        said += [p.content, c.content]
        speech = Msg("Moderator", "Answer your opponent.")
    return said


def test_a_recorded_run_replays_with_no_endpoint_and_the_same_replies(tmp_path, monkeypatch) -> None:
    recording = tmp_path / "debate.json"
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_MODEL", MODEL)
        recorded = debate(recording, "record")
        asked = len(fake.requests)
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name)
    data = json.loads(recording.read_text())
    assert data["model"] == MODEL and sorted(data["agents"]) == ["Con", "Pro"]
    assert sum(len(entries) for entries in data["agents"].values()) == asked == 4
    assert debate(recording, "replay") == recorded


def test_a_replay_that_meets_a_new_input_says_which_agent_and_how_to_record(tmp_path) -> None:
    recording = tmp_path / "r.json"
    Recording(recording).add("Pro", MODEL, [{"role": "user", "content": "known"}], {}, "yes")
    pro = ChatAgent("Pro", model="openai", recording=str(recording), mode="replay")
    with pytest.raises(ReplayMissError) as info:
        pro(Msg("user", "something new"))
    text = str(info.value)
    assert "agent 'Pro'" in text and "something new" in text and str(recording) in text
    assert "AGENTNB_CHAT_MODE=record" in text and "holds 1 replies" in text
    remote = ChatAgent("Pro", model="openai", recording=str(recording), mode="replay").to_dist()
    with pytest.raises(RemoteError, match="ReplayMissError"):
        remote(Msg("user", "something new")).content


def test_recording_with_another_model_into_the_same_file_is_refused(tmp_path) -> None:
    recording = Recording(tmp_path / "r.json")
    recording.add("A", "model-1", [], {}, "hi")
    with pytest.raises(RecordingError, match="model-1"):
        recording.add("A", "model-2", [], {}, "hi")


def test_the_mode_comes_from_the_environment_only_with_a_recording(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AGENTNB_CHAT_MODE", "record")
    assert ChatAgent("A", recording=str(tmp_path / "r.json")).mode == "record"
    assert ChatAgent("B").mode == "live"
    monkeypatch.delenv("AGENTNB_CHAT_MODE")
    assert ChatAgent("C", recording=str(tmp_path / "r.json")).mode == "replay"


def test_the_committed_recording_holds_the_agents_of_the_llm_notebook(tmp_path) -> None:
    committed = Path(__file__).resolve().parent.parent / "notebooks" / "recordings" / "debate.json"
    shutil.copy(committed, tmp_path / "debate.json")
    data = Recording(tmp_path / "debate.json").load()
    assert data["model"] and {"Teacher", "Student", "Pro", "Con", "Judge"} <= set(data["agents"])


def test_every_chat_error_pickles() -> None:
    for name in dir(_errors):
        cls = getattr(_errors, name)
        if isinstance(cls, type) and issubclass(cls, _errors.ChatError):
            back = pickle.loads(pickle.dumps(cls("what went wrong")))
            assert type(back) is cls and str(back) == "what went wrong"


def test_offline_agents_answer_what_they_are_asked_as_a_teacher_and_a_student_would() -> None:
    teacher = ChatAgent(
        "Teacher", "You teach distributed systems. Answer in at most two sentences.", model="rules"
    )
    student = ChatAgent(
        "Student", "You are a curious student. Ask one short follow-up question.", model="rules"
    )
    x = Msg("user", "What is an actor, in one sentence?")
    said = []
    for _ in range(2):
        x = teacher(x)
        said.append(x.content)
        x = student(x)
        said.append(x.content)
    answer, question, answer2, question2 = said
    assert "An actor is" in answer and "message" in answer and not answer.endswith("?")
    assert question.endswith("?") and "actor" in question  # a follow-up on what was just said
    assert "parallel" in answer2  # the answer to that follow-up, not a stock phrase
    assert question2.endswith("?") and question2 != question
    assert len(set(said)) == 4
    again = ChatAgent(
        "Teacher", "You teach distributed systems. Answer in at most two sentences.", model="rules"
    )
    assert again(Msg("user", "What is an actor, in one sentence?")).content == answer  # deterministic


def test_offline_debaters_answer_each_other_and_the_judge_names_who_argued_better() -> None:
    pro = ChatAgent("Pro", "You argue FOR the motion. Two sentences, no more.", model="rules", seed=42)
    con = ChatAgent("Con", "You argue AGAINST the motion. Two sentences, no more.", model="rules", seed=42)
    judge = ChatAgent(
        "Judge", "You judge a debate. Say who argued better, Pro or Con, and why.", model="rules"
    )
    speech = Msg("Moderator", "Motion: every workshop notebook should run on Binder. Opening statements.")
    judge.observe(speech)
    rounds = []
    for _ in range(2):
        p, c = pro(speech), con(speech)
        pro.observe(c)
        con.observe(p)
        judge.observe([p, c])
        rounds.append((p.content, c.content))
        speech = Msg("Moderator", "Answer your opponent.")
    (pro1, con1), (pro2, con2) = rounds
    assert "Binder" in pro1 and "Binder" in con1 and pro1 != con1
    assert "Con" in pro2 and "Pro" in con2  # each answers the other by name
    verdict = judge(Msg("Moderator", "Who won the debate?")).content
    assert re.match(r"(Pro|Con) argued better: ", verdict) and verdict.endswith("carried."), verdict


def test_an_offline_agent_recalls_what_it_heard_and_says_what_it_cannot_talk_about() -> None:
    carol = ChatAgent("Carol", "You are kind.", model="rules")
    carol.observe(Msg("Alice", "Agents are actors."))
    carol.observe(Msg("Bob", "Actors only talk through messages."))
    recalled = carol(Msg("user", "What did you hear?")).content
    assert (
        recalled
        == "I heard Alice say that agents are actors, and Bob say that actors only talk through messages."
    )
    unknown = RuleModel(0).complete([{"role": "user", "content": "What is the capital of France?"}])
    assert unknown.startswith("I can only speak about what this workshop covers")
