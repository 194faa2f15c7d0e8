"""Chat models: a client for OpenAI-compatible endpoints, and a rule-based model for offline use.

A chat model turns a list of ``{"role": ..., "content": ...}`` messages into a
reply text. Both models here have a ``name`` (what record/replay keys on),
``complete(messages, **params)`` and ``stream(messages, **params)`` (the reply
in pieces as they are made; from an endpoint, with server-sent events). The
client uses the standard library only.

The endpoint comes from the environment:

* ``OPENAI_BASE_URL``: the API's base URL, e.g. ``http://localhost:11434/v1``
  for Ollama or ``http://localhost:8000/v1`` for vLLM (default: OpenAI's);
* ``OPENAI_API_KEY``: the key, if the endpoint needs one (local servers do not);
* ``OPENAI_MODEL``: the model's name on that endpoint (default ``gpt-4o-mini``
  on OpenAI's; required elsewhere).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import ModelNotConfiguredError, ModelRequestError
from ._rules import reply as rule_reply

BASE_URL_ENV, API_KEY_ENV, MODEL_ENV = "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"
OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"

#: One chat message as OpenAI-compatible endpoints take it.
ChatMessage = dict[str, str]


class ChatModel(Protocol):
    """What chat agents call: ``name`` identifies the model in recordings."""

    name: str

    def complete(self, messages: list[ChatMessage], **params: Any) -> str:
        """The model's reply to ``messages``."""
        ...

    def stream(self, messages: list[ChatMessage], **params: Any) -> Iterator[str]:
        """The model's reply to ``messages``, in pieces as they are made."""
        ...


@dataclass(frozen=True)
class ModelConfig:
    """Where an OpenAI-compatible endpoint is and which model to ask.

    Attributes:
        base_url: the API's base URL (``.../v1``).
        model: the model's name on that endpoint.
        api_key: sent as a bearer token when not empty (never shown in reprs).
        timeout: seconds to wait for one reply.
    """

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 120.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ModelConfig:
        """The endpoint named by ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``.

        Raises:
            ModelNotConfiguredError: neither a base URL nor a key is set, or a
                base URL is set without a model name.
        """
        env = os.environ if environ is None else environ
        base_url = env.get(BASE_URL_ENV, "").strip().rstrip("/")
        api_key = env.get(API_KEY_ENV, "").strip()
        model = env.get(MODEL_ENV, "").strip()
        if not base_url and not api_key:
            raise ModelNotConfiguredError(
                f"no chat model is configured: set {BASE_URL_ENV} (a local server, e.g. "
                f"http://localhost:11434/v1 for Ollama) and {MODEL_ENV} (e.g. qwen2.5:0.5b), or "
                f"{API_KEY_ENV} for OpenAI (and optionally {MODEL_ENV}); set them before the first "
                "to_dist() so agent servers inherit them. Without a model, replay a recording "
                "(mode='replay') or use model='rules'"
            )
        if not base_url:
            base_url, model = OPENAI_BASE_URL, model or OPENAI_DEFAULT_MODEL
        if not model:
            raise ModelNotConfiguredError(
                f"{BASE_URL_ENV} is {base_url!r} but {MODEL_ENV} is not set: set it to the name of "
                "a model that server serves (e.g. `ollama list` shows them)"
            )
        return cls(base_url, model, api_key)


class OpenAIChat:
    """A client for the chat completions API of any OpenAI-compatible endpoint.

    Args:
        config: the endpoint; default :meth:`ModelConfig.from_env`.

    Example:
        >>> model = OpenAIChat()                     # doctest: +SKIP
        >>> model.complete([{"role": "user", "content": "Say hi"}])   # doctest: +SKIP
        'Hi!'
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig.from_env()
        self.name = self.config.model

    def complete(self, messages: list[ChatMessage], **params: Any) -> str:
        """Ask the model; ``params`` (``temperature``, ``max_tokens``, ...) go into the request.

        Raises:
            ModelRequestError: the endpoint failed, could not be reached, or
                answered something that is not a chat completion.
        """
        url = f"{self.config.base_url}/chat/completions"
        try:
            with self._post(messages, params, stream=False) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode(errors="replace").strip()
            raise ModelRequestError(
                f"the model endpoint {url} answered {exc.code} {exc.reason}: {detail}"
            ) from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelRequestError(
                f"cannot reach the model endpoint {url} ({reason}); is the server running, and "
                f"is {BASE_URL_ENV} right?"
            ) from exc
        except ValueError as exc:
            raise ModelRequestError(f"the model endpoint {url} did not answer JSON: {exc}") from exc
        try:
            return str(data["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ModelRequestError(
                f"the model endpoint {url} answered without choices[0].message.content: {str(data)[:300]}"
            ) from exc

    def stream(self, messages: list[ChatMessage], **params: Any) -> Iterator[str]:
        """Ask the model for a streamed reply (``"stream": true``): its pieces as the endpoint
        sends them (server-sent events, ``data: {...}`` lines until ``data: [DONE]``).

        Raises:
            ModelRequestError: as :meth:`complete`, or a stream that is not chat chunks.
        """
        url = f"{self.config.base_url}/chat/completions"
        try:
            with self._post(messages, params, stream=True) as response:
                yield from _sse_pieces(response, url)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode(errors="replace").strip()
            raise ModelRequestError(
                f"the model endpoint {url} answered {exc.code} {exc.reason}: {detail}"
            ) from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelRequestError(
                f"cannot reach the model endpoint {url} ({reason}); is the server running, and "
                f"is {BASE_URL_ENV} right?"
            ) from exc

    def _post(self, messages: list[ChatMessage], params: dict[str, Any], stream: bool) -> Any:
        """POST a chat completion request; returns the open response."""
        body: dict[str, Any] = {"model": self.config.model, "messages": messages}
        body.update({k: v for k, v in params.items() if v is not None})
        if stream:
            body["stream"] = True
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        url = f"{self.config.base_url}/chat/completions"
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        return urllib.request.urlopen(request, timeout=self.config.timeout)

    def __repr__(self) -> str:
        return f"<OpenAIChat {self.config.model!r} at {self.config.base_url}>"


def _sse_pieces(response: Any, url: str) -> Iterator[str]:
    """The text pieces of a streamed chat completion (server-sent events, one ``data:`` line each)."""
    for raw in response:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue  # blank lines end events; ":" lines are comments; "event:"/"id:" are not used
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
            choices = chunk["choices"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelRequestError(f"the model endpoint {url} streamed something that is not a chat "
                                    f"chunk: {data[:300]}") from exc  # fmt: skip
        if choices and (piece := (choices[0].get("delta") or {}).get("content")):
            yield str(piece)


def words(text: str) -> list[str]:
    """``text`` in pieces of a word and the space after it (joined, they are ``text``)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


class RuleModel:
    """A deterministic rule-based stand-in for a chat model: offline, instant, no key.

    It reads the system prompt (a teacher, a curious student, a sceptic, a
    debater for or against a motion, a judge...) and the conversation, and
    answers about what was asked, from what it knows of this workshop's
    topics (see :mod:`agentnb.chat._rules`). The same conversation gives the
    same reply in every run.

    Args:
        seed: picks among phrasings (and a debater's opening point).
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.name = f"rules-{seed}"

    def complete(self, messages: list[ChatMessage], **params: Any) -> str:
        return rule_reply(messages, self.seed)

    def stream(self, messages: list[ChatMessage], **params: Any) -> Iterator[str]:
        """The same reply as :meth:`complete`, word by word."""
        yield from words(self.complete(messages, **params))

    def __repr__(self) -> str:
        return f"<RuleModel seed={self.seed}>"
