"""The chat layer's errors, a branch of agentnb's one tree::

    AgentnbError
    └── ChatError                                   a chat model could not answer
        ├── ModelNotConfiguredError (RuntimeError)  no endpoint in the environment
        ├── ModelRequestError (ConnectionError)     the endpoint failed or could not be reached
        ├── RecordingError (ValueError)             a recording file cannot be used
        └── ReplayMissError (LookupError)           a replay met an input it has not recorded

They cross process boundaries (a chat agent runs in a server process), so
each passes its message positionally to ``super().__init__`` and pickles.
"""

from __future__ import annotations

from agentnb import AgentnbError


class ChatError(AgentnbError):
    """A chat model could not produce a reply."""


class ModelNotConfiguredError(ChatError, RuntimeError):
    """No OpenAI-compatible endpoint is configured; the message names the variables to set."""


class ModelRequestError(ChatError, ConnectionError):
    """The model endpoint answered with an error, or could not be reached."""


class RecordingError(ChatError, ValueError):
    """A recording file is malformed, or was made with another model."""


class ReplayMissError(ChatError, LookupError):
    """A replay met an input it has no recorded reply for; the message says how to re-record."""
