"""ChatAgent streams from an OpenAI-compatible endpoint (server-sent events), recorded against a
stand-in endpoint the test starts, then replayed offline: the same pieces, at once or at pace."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fake_openai import MODEL, FakeOpenAI

from agentnb import Msg
from agentnb.chat import ChatAgent, ModelRequestError, OpenAIChat, RuleModel
from agentnb.chat._model import ModelConfig, words

pytestmark = pytest.mark.timeout(120)

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about streams."}]


def test_the_client_reads_server_sent_events_piece_by_piece() -> None:
    with FakeOpenAI(api_key="k") as fake:
        model = OpenAIChat(ModelConfig(fake.base_url, MODEL, api_key="k"))
        pieces = list(model.stream(HELLO, temperature=0))
        assert fake.requests[-1]["stream"] is True and fake.requests[-1]["temperature"] == 0
        assert len(pieces) > 3 and "".join(pieces) == RuleModel(42).complete(HELLO)
        assert pieces == words(RuleModel(42).complete(HELLO))
        with pytest.raises(ModelRequestError, match="401"):
            list(OpenAIChat(ModelConfig(fake.base_url, MODEL, api_key="wrong")).stream(HELLO))


def test_a_stream_that_is_not_chat_chunks_is_refused_clearly() -> None:
    from agentnb.chat._model import _sse_pieces

    with pytest.raises(ModelRequestError, match="not a chat chunk"):
        list(_sse_pieces([b"data: {not json}\n"], "http://x/v1/chat/completions"))


def run(recording: Path, mode: str, pace: str = "instant") -> tuple[list[list[str]], list[str], float]:
    """A distributed streaming ChatAgent asked twice; its pieces, final messages and the time taken."""
    bot = ChatAgent(
        "Bot", "Be brief.", model="openai", recording=str(recording), mode=mode, stream=True, pace=pace
    ).to_dist(fresh=True)
    started = time.monotonic()
    pieces, finals = [], []
    for question in ("Tell me about streams.", "And about rivers?"):
        p = bot(Msg("user", question))
        pieces.append(list(p.stream(timeout=60)))
        finals.append(p.content)
    return pieces, finals, time.monotonic() - started


def test_chat_streaming_recorded_against_an_endpoint_replays_offline_with_the_same_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = tmp_path / "stream.json"
    with FakeOpenAI(piece_delay=0.03) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_MODEL", MODEL)
        recorded, finals, _ = run(recording, "record")
        assert [r["stream"] for r in fake.requests] == [True, True]  # streamed from the endpoint
    for name in ("OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name)  # no endpoint any more: offline
    assert all(len(p) > 3 for p in recorded) and finals == ["".join(p).strip() for p in recorded]
    entries = list(json.loads(recording.read_text())["agents"]["Bot"].values())
    assert sorted(len(e["pieces"]) for e in entries) == sorted(len(p) for p in recorded)
    times = [e["times"] for e in entries]
    assert all(t == sorted(t) and t[-1] >= 0.03 * (len(t) - 2) for t in times)  # when each came

    replayed, replay_finals, instant = run(recording, "replay")
    assert replayed == recorded and replay_finals == finals  # the same pieces, in order
    paced, _, slow = run(recording, "replay", pace="recorded")
    assert paced == recorded
    recorded_span = sum(t[-1] for t in times)
    assert slow >= recorded_span > instant  # at the recorded pace; at once is faster than that


def test_a_streaming_chat_agent_called_locally_returns_its_whole_reply() -> None:
    bot = ChatAgent("Bot", "Be brief.", model="rules", stream=True)
    answer = bot(Msg("user", "Tell me about streams."))
    assert answer.content == RuleModel(0).complete([*HELLO[:1], {"role": "user", "content": "user: Tell me "
                                                                "about streams."}]).strip()  # fmt: skip
    assert bot.memory[-1] is answer
