"""``ChatAgent``: an agent that talks through a chat model, live, recorded or replayed."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

from agentnb import AgentBase, Msg

from .._facade._agent import Input
from ._model import ChatMessage, ChatModel, OpenAIChat, RuleModel
from ._recording import MODE_ENV, PACE_ENV, Recording, RecordingModel, ReplayModel

MODELS = ("rules", "openai")
MODES = ("live", "record", "replay")


def resolve_mode(mode: str | None, recording: str | None) -> str:
    """``mode``; else, with a recording, ``AGENTNB_CHAT_MODE`` or "replay"; else "live"."""
    env = os.environ.get(MODE_ENV, "").strip() if recording else ""
    chosen = mode or env or ("replay" if recording else "live")
    if chosen not in MODES:
        raise ValueError(f"chat mode must be one of {', '.join(MODES)}, got {chosen!r} (from {MODE_ENV}?)")
    if chosen != "live" and not recording:
        raise ValueError(f"chat mode {chosen!r} needs a recording file: pass recording='...json'")
    return chosen


def open_model(
    model: str = "rules",
    *,
    seed: int = 0,
    recording: str | None = None,
    mode: str = "live",
    agent: str = "",
    pace: str = "instant",
) -> ChatModel:
    """The chat model an agent talks to.

    Args:
        model: "rules" (:class:`RuleModel`, offline) or "openai" (:class:`OpenAIChat`,
            any OpenAI-compatible endpoint named by the environment).
        seed: the rule-based model's seed.
        recording: a recording file (for "record" and "replay").
        mode: "live" asks the model; "record" asks it and records each reply for
            ``agent``; "replay" answers from the recording alone (no key, no network).
        agent: whose replies are recorded or replayed.
        pace: how a replay streams: "instant" or "recorded" (the pieces' recorded times).
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if mode == "replay":
        assert recording is not None
        return ReplayModel(Recording(recording), agent, pace)
    live: ChatModel = RuleModel(seed) if model == "rules" else OpenAIChat()
    if mode == "record":
        assert recording is not None
        return RecordingModel(live, Recording(recording), agent)
    return live


class ChatAgent(AgentBase):
    """An agent whose replies come from a chat model; its memory is the conversation.

    Messages it receives (by a call or :meth:`observe`) and its own replies go
    into its memory; each reply asks the model with the system prompt and that
    memory (others' messages as ``"Name: text"`` user turns, its own as
    assistant turns). The model is opened where the agent runs (its server).

    Args:
        name: the agent's name.
        sys_prompt: the system prompt (its role, its persona).
        model: "rules" (offline, deterministic) or "openai" (an OpenAI-compatible
            endpoint from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``).
        seed: the rule-based model's seed.
        recording: a recording file to record into or replay from.
        mode: "live", "record" or "replay". Default: with a recording,
            ``AGENTNB_CHAT_MODE``, else "replay"; without one, "live". Decided
            where the agent is built (the notebook); its server follows.
        temperature: the model's sampling temperature (None: the endpoint's default).
        max_tokens: the longest reply, in tokens (None: the endpoint's default).
        stream: reply in pieces as the model makes them (server-sent events from an
            endpoint); the caller reads them with ``p.stream()`` and its cell shows
            the text growing. A recording keeps the pieces and their times.
        pace: how a replayed stream comes: "instant" or "recorded" (at the pace it was
            recorded). Default: ``AGENTNB_CHAT_PACE``, else "instant".

    Raises:
        ModelNotConfiguredError: a live or recording "openai" agent, with no
            endpoint in the environment (raised here, before anything starts).
    """

    def __init__(
        self,
        name: str,
        sys_prompt: str = "",
        *,
        model: str = "rules",
        seed: int = 0,
        recording: str | None = None,
        mode: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stream: bool = False,
        pace: str | None = None,
    ) -> None:
        super().__init__(name)
        self.sys_prompt = sys_prompt
        self.mode = resolve_mode(mode, recording)
        self._remember_argument("mode", self.mode)  # servers rebuild it in the mode chosen here
        self.params = {"temperature": temperature, "max_tokens": max_tokens}
        self.stream = stream
        self.pace = pace or os.environ.get(PACE_ENV, "").strip() or "instant"
        self._remember_argument("pace", self.pace)  # replayed on the server at the pace chosen here
        self.model_name, self.seed, self.recording = model, seed, recording
        self._model: ChatModel | None = None
        if model == "openai" and self.mode != "replay":
            self._open()  # fail here, in the cell that builds the agent, if no endpoint is set

    @property
    def model(self) -> ChatModel:
        """The chat model, opened on first use."""
        return self._model or self._open()

    def _open(self) -> ChatModel:
        self._model = open_model(
            self.model_name, seed=self.seed, recording=self.recording, mode=self.mode, agent=self.name,
            pace=self.pace,
        )  # fmt: skip
        return self._model

    def prompt(self) -> list[ChatMessage]:
        """What the model is asked: the system prompt, then the conversation in memory."""
        messages = [{"role": "system", "content": self.sys_prompt}] if self.sys_prompt else []
        for msg in self.memory:
            if msg.name == self.name:
                messages.append({"role": "assistant", "content": _text(msg.content)})
            else:
                messages.append({"role": "user", "content": f"{msg.name}: {_text(msg.content)}"})
        return messages

    def reply(self, x: Input = None) -> Any:
        if self.stream:
            return self._streamed(x)
        self.observe(x)
        text = self.model.complete(self.prompt(), **self.params)
        answer = Msg(self.name, text.strip())
        self.memory.append(answer)
        return answer

    def _streamed(self, x: Input) -> Generator[str, None, Msg]:
        """The reply in pieces, as the model makes them; its final message is the whole text."""
        self.observe(x)
        pieces = []
        for piece in self.model.stream(self.prompt(), **self.params):
            pieces.append(piece)
            yield piece
        answer = Msg(self.name, "".join(pieces).strip())
        self.memory.append(answer)
        return answer


def _text(content: Any) -> str:
    return content if isinstance(content, str) else str(content)
