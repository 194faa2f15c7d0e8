"""An agent that reports what its server process has loaded (for the layer tests)."""

from __future__ import annotations

import sys

from agentnb import AgentBase, Msg


class LoadedModules(AgentBase):
    """Replies with agentnb's modules loaded in its process, and those starting with a given prefix."""

    def reply(self, x: Msg | None = None) -> Msg:
        prefixes = tuple(x.content) if x is not None else ()
        loaded = sorted(sys.modules)
        return Msg(self.name, {
            "agentnb": [m for m in loaded if m.startswith("agentnb")],
            "forbidden": [m for m in loaded if prefixes and m.startswith(prefixes)],
        })  # fmt: skip
