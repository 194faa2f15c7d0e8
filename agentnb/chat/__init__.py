"""Chat agents for workshops: offline rules, any OpenAI-compatible endpoint, record and replay.

Built on agentnb's public names only (``AgentBase``, ``Msg``, taken from
``agentnb``, so importing this package is a first use of agentnb: in a kernel
it switches the notebook layer on); the model client uses the standard
library (``urllib``, ``json``), no new dependency.

* :class:`ChatAgent`: an agent whose replies come from a chat model.
* :class:`RuleModel`: a deterministic rule-based model: offline, instant;
  it answers about the workshop's topics as a teacher, a curious student, a
  sceptic, a debater or a judge would (the system prompt says which).
* :class:`OpenAIChat`: a client for the chat completions API of OpenAI,
  Ollama, vLLM, llama.cpp's server...; configured by ``OPENAI_BASE_URL``,
  ``OPENAI_API_KEY`` and ``OPENAI_MODEL``.
* :class:`Recording`: a run recorded with a real model, replayed with no key
  and no network (``mode="record"`` / ``"replay"``, or ``AGENTNB_CHAT_MODE``).

Example:
    >>> from agentnb import Msg
    >>> from agentnb.chat import ChatAgent
    >>> bot = ChatAgent("Bot", "You teach distributed systems.", model="rules")
    >>> bot(Msg("user", "What is an actor, in one sentence?")).content[:60]
    'An actor is an independent part of a program that keeps its '
"""

from __future__ import annotations

from ._agent import ChatAgent, open_model
from ._errors import ChatError, ModelNotConfiguredError, ModelRequestError, RecordingError, ReplayMissError
from ._model import ChatModel, ModelConfig, OpenAIChat, RuleModel
from ._recording import Recording, RecordingModel, ReplayModel, entry_key

__all__ = [
    "ChatAgent",
    "ChatError",
    "ChatModel",
    "ModelConfig",
    "ModelNotConfiguredError",
    "ModelRequestError",
    "OpenAIChat",
    "Recording",
    "RecordingError",
    "RecordingModel",
    "ReplayMissError",
    "ReplayModel",
    "RuleModel",
    "entry_key",
    "open_model",
]
