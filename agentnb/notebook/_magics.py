"""``%load_ext agentnb`` adds ``%agentnb status | stop [name ...] | graph``."""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .._facade._status import shutdown, status
from .._runtime._session import get_session
from ._debug import debug
from .graph._graph import graph

USAGE = "usage: %agentnb status | %agentnb stop [name ...] | %agentnb graph | %agentnb debug [placeholder]"


@magics_class
class AgentnbMagics(Magics):
    @line_magic
    def agentnb(self, line: str) -> Any:
        """%agentnb status | stop [name ...] | graph | debug [placeholder]"""
        words = shlex.split(line)
        command, args = (words[0], words[1:]) if words else ("status", [])
        if command == "status":
            return status()
        if command == "stop":
            if not args:
                shutdown()
                print("agentnb: stopped every server this session launched (and closed its pools)")
                return None
            return _stop(args)
        if command == "graph":
            return graph()
        if command == "debug":  # after a remote exception, as %debug after a local one
            target = self.shell.user_ns[args[0]] if args and self.shell is not None else None
            return debug(target)
        raise ValueError(f"unknown %agentnb command {command!r}; {USAGE}")


def _stop(names: list[str]) -> None:
    agents = get_session().registry.agents()
    found = [a for a in agents if a.name in names]
    missing = set(names) - {a.name for a in found}
    if missing:
        known = ", ".join(sorted({a.name for a in agents})) or "none"
        raise ValueError(f"no agent named {', '.join(sorted(missing))} in this session (agents: {known})")
    for agent in found:
        agent.stop()
        print(f"agentnb: stopped agent {agent.name!r}")


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(AgentnbMagics)
