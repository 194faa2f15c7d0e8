"""Offline stand-ins for the agents of AgentScope 0.1.x's distributed examples.

Same names, constructor arguments and idioms as AgentScope's, with rule-based
replies instead of model calls, so the examples run as written, offline.
"""

from __future__ import annotations

import os
import time

from agentnb import AgentBase, Msg


class WebAgent(AgentBase):
    """AgentScope's tutorial agent: answers a query from one web page (here: from its URL)."""

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.constructed_in = os.getpid()

    def get_answer(self, url: str, query: str) -> str:
        time.sleep(0.3)  # the page fetch and the model call this stands for
        return f"{url} says {query!r} is answered ({os.getpid()}, {time.time():.3f})"

    def reply(self, x=None):
        return Msg(self.name, role="assistant", content=self.get_answer(x.content["url"], x.content["query"]))


class DialogAgent(AgentBase):
    """A rule-based assistant that remembers the conversation."""

    def __init__(self, name: str, sys_prompt: str = "", model_config_name: str = "offline", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.sys_prompt = sys_prompt

    def reply(self, x=None):
        if x is not None:
            self.memory.append(x)
        said = "hello" if x is None else f"you said {x.content!r} (turn {len(self.memory)})"
        reply = Msg(self.name, said, role="assistant")
        self.memory.append(reply)
        return reply


class UserAgent(AgentBase):
    """AgentScope's UserAgent, reading its lines from a script instead of input()."""

    def __init__(
        self, name: str = "User", require_url: bool = False, script: list[str] | None = None
    ) -> None:
        super().__init__(name=name)
        self.script = list(script or ["hi", "how are you", "exit"])

    def reply(self, x=None):
        return Msg(self.name, self.script.pop(0) if self.script else "exit", role="user")


class DebaterAgent(AgentBase):
    """A debater: argues from what it heard (its memory) and what it is given."""

    def __init__(self, name: str, sys_prompt: str = "", model_config_name: str = "offline") -> None:
        super().__init__(name=name)
        self.sys_prompt = sys_prompt

    def reply(self, x=None):
        if x is not None:
            self.memory.append(x)
        heard = [m.name for m in self.memory]
        return Msg(self.name, f"{self.name} answers after hearing {', '.join(heard) or 'nobody'}")
