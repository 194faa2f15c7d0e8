"""``agentnb.status()``: what this session runs, from local knowledge only (never blocks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._html import status_html
from ._runtime._session import get_session


@dataclass(frozen=True)
class AgentRow:
    name: str
    class_name: str
    address: str
    state: str  # "running", "not started" (lazy) or "server exited"


@dataclass(frozen=True)
class ServerRow:
    address: str
    pid: int
    alive: bool
    exit: str  # "" while alive
    agents: tuple[str, ...]


@dataclass(frozen=True)
class SessionStatus:
    """A snapshot of this session's agents and the servers it launched."""

    agents: tuple[AgentRow, ...] = field(default_factory=tuple)
    servers: tuple[ServerRow, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line: how many agents and servers, and how many of them run."""
        if not self.agents and not self.servers:
            return "no agents and no servers (none started yet, or all stopped)"
        running = sum(a.state == "running" for a in self.agents)
        alive = sum(s.alive for s in self.servers)
        agents = f"{len(self.agents)} agent{'s' if len(self.agents) != 1 else ''} ({running} running)"
        servers = (
            f"{len(self.servers)} server{'s' if len(self.servers) != 1 else ''} launched ({alive} alive)"
        )
        return f"{agents}, {servers}"

    def __repr__(self) -> str:
        lines = [f"agentnb session: {self.summary()}"]
        for a in self.agents:
            lines.append(f"  agent {a.name!r} ({a.class_name}) on {a.address or '-'}: {a.state}")
        for s in self.servers:
            state = "running" if s.alive else f"exited ({s.exit})"
            lines.append(f"  server {s.address} pid {s.pid}: {state}; agents: {', '.join(s.agents) or '-'}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return status_html(self)


def status() -> SessionStatus:
    """This session's agents and launched servers (local knowledge, no network)."""
    session = get_session()
    with session.registry_lock:
        agents = list(session.registry.values())
    rows = []
    for agent in agents:
        state = "running" if agent.alive() else "server exited"
        if not agent.address:
            state = "not started"
        rows.append(AgentRow(agent.name, agent.class_name, agent.address, state))
    servers = []
    for server in list(session.servers.values()):
        names = tuple(a.name for a in agents if a.server is server)
        code = server.returncode
        servers.append(
            ServerRow(server.address, server.pid, code is None, "" if code is None else f"code {code}", names)
        )
    return SessionStatus(tuple(rows), tuple(servers))
