"""Record a run with a real model, replay it with no key and no network.

A recording is one JSON file, committed beside the notebook that made it::

    {
      "format": "agentnb-chat-recording/1",
      "model": "qwen2.5:0.5b",
      "agents": {
        "Alice": {
          "<key>": {"messages": [...], "params": {...}, "reply": "..."}
        }
      }
    }

A streamed reply's entry also keeps its ``pieces`` and when each came
(``times``, seconds from the request), so a replay streams the same pieces,
at once or at the recorded pace; a reply recorded whole streams as one
piece, and a streamed one answers whole (its pieces joined).

An entry is keyed by the agent's name and a stable hash of what the model
was asked: the model's name, the messages (system prompt included) and the
parameters. A replay computes the same key and returns the recorded reply,
so a replayed run goes exactly as the recorded one did; an input that was
never recorded raises :class:`ReplayMissError`, naming the agent and input
and saying how to record again.

Agents run in several server processes at once, so a write takes a lock
(``fcntl.flock`` on a file in the temp folder), merges into the file as it
is now, and replaces it atomically. Entries are sorted, so re-recording the
same run gives the same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._errors import RecordingError, ReplayMissError
from ._model import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV, ChatMessage, ChatModel

FORMAT = "agentnb-chat-recording/1"
MODE_ENV = "AGENTNB_CHAT_MODE"
PACE_ENV = "AGENTNB_CHAT_PACE"
#: How a replay streams: every piece at once, or at the pace they were recorded.
PACES = ("instant", "recorded")


def entry_key(model: str, messages: list[ChatMessage], params: dict[str, Any]) -> str:
    """The stable hash an entry is kept under (the same in every process and run)."""
    canonical = json.dumps(
        {"model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


class Recording:
    """One recording file: read it, look replies up, add replies.

    Args:
        path: the JSON file (need not exist until the first reply is recorded).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        """The file's data (an empty recording if there is no file yet).

        Raises:
            RecordingError: the file is not a recording.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": FORMAT, "model": "", "agents": {}}
        except ValueError as exc:
            raise RecordingError(f"{self.path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RecordingError(f"{self.path} is not an agentnb chat recording (format {FORMAT!r})")
        return data

    def replies(self, agent: str) -> dict[str, Any]:
        """The entries recorded for ``agent``, by key."""
        return dict(self.load().get("agents", {}).get(agent, {}))

    def add(
        self,
        agent: str,
        model: str,
        messages: list[ChatMessage],
        params: dict[str, Any],
        reply: str,
        pieces: list[str] | None = None,
        times: list[float] | None = None,
    ) -> str:
        """Record one reply (and, streamed, its pieces and their times); returns its key.

        Safe from several processes at once.

        Raises:
            RecordingError: the file holds replies of another model.
        """
        key = entry_key(model, messages, params)
        with self._locked():
            data = self.load()
            if data.get("model") and data["model"] != model and data.get("agents"):
                raise RecordingError(
                    f"{self.path} holds replies of model {data['model']!r}, not {model!r}: delete it "
                    "(or record into another file) to record with this model"
                )
            data["model"] = model
            agents = data.setdefault("agents", {})
            entry: dict[str, Any] = {"messages": messages, "params": params, "reply": reply}
            if pieces is not None:
                entry.update(pieces=pieces, times=times or [0.0] * len(pieces))
            agents.setdefault(agent, {})[key] = entry
            data["agents"] = {a: dict(sorted(e.items())) for a, e in sorted(agents.items())}
            self._write(data)
        return key

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, ensure_ascii=False)
                out.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        name = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
        lock_path = Path(tempfile.gettempdir()) / f"agentnb-recording-{name}.lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def __repr__(self) -> str:
        return f"<Recording {str(self.path)!r}>"


class RecordingModel:
    """Asks a real model and records each reply for ``agent``."""

    def __init__(self, model: ChatModel, recording: Recording, agent: str) -> None:
        self.model, self.recording, self.agent = model, recording, agent
        self.name = model.name

    def complete(self, messages: list[ChatMessage], **params: Any) -> str:
        reply = self.model.complete(messages, **params)
        self.recording.add(self.agent, self.name, messages, _clean(params), reply)
        return reply

    def stream(self, messages: list[ChatMessage], **params: Any) -> Iterator[str]:
        """Stream from the real model, recording the pieces and when each came."""
        start = time.monotonic()
        pieces, times = [], []
        for piece in self.model.stream(messages, **params):
            pieces.append(piece)
            times.append(round(time.monotonic() - start, 4))
            yield piece
        self.recording.add(self.agent, self.name, messages, _clean(params), "".join(pieces), pieces, times)


class ReplayModel:
    """Answers from a recording only: no key, no network.

    Raises (from :meth:`complete`):
        ReplayMissError: the input was not recorded for this agent.
    """

    def __init__(self, recording: Recording, agent: str, pace: str = "instant") -> None:
        if pace not in PACES:
            raise ValueError(f"pace must be one of {', '.join(PACES)}, got {pace!r} (from {PACE_ENV}?)")
        self.recording, self.agent, self.pace = recording, agent, pace
        data = recording.load()
        self.name = str(data.get("model", ""))
        self._replies = dict(data.get("agents", {}).get(agent, {}))

    def complete(self, messages: list[ChatMessage], **params: Any) -> str:
        return str(self._entry(messages, params)["reply"])

    def stream(self, messages: list[ChatMessage], **params: Any) -> Iterator[str]:
        """The recorded pieces (a reply recorded whole: one piece), at once or at the recorded pace."""
        entry = self._entry(messages, params)
        pieces = [str(p) for p in entry.get("pieces") or [entry["reply"]]]
        times = [float(t) for t in entry.get("times") or [0.0] * len(pieces)]
        start = time.monotonic()
        for piece, at in zip(pieces, times, strict=False):
            if self.pace == "recorded" and (ahead := at - (time.monotonic() - start)) > 0:
                time.sleep(ahead)  # the pace the model had when it was recorded
            yield piece

    def _entry(self, messages: list[ChatMessage], params: dict[str, Any]) -> dict[str, Any]:
        key = entry_key(self.name, messages, _clean(params))
        entry = self._replies.get(key)
        if entry is None:
            raise ReplayMissError(self._miss(messages, key))
        return dict(entry)

    def _miss(self, messages: list[ChatMessage], key: str) -> str:
        last = messages[-1]["content"] if messages else "(no messages)"
        last = last if len(last) <= 120 else last[:117] + "..."
        if not self.recording.path.exists():
            held = "that file does not exist"
        else:
            held = f"it holds {len(self._replies)} replies for {self.agent!r}"
        return (
            f"agent {self.agent!r}: no recorded reply for this input in {self.recording.path} "
            f"(key {key}, {len(messages)} messages, the last: {last!r}); {held}. The conversation "
            f"differs from the recorded one. To record it again: set {BASE_URL_ENV} / {API_KEY_ENV} / "
            f"{MODEL_ENV} for a model, set {MODE_ENV}=record (or pass mode='record'), and run again"
        )


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(params.items()) if v is not None}
