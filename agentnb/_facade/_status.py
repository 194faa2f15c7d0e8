"""``agentnb.status()`` and ``agentnb.shutdown()``: what this session runs (from local knowledge
only, never blocking), and stopping it."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .._runtime._session import get_session
from ._html import badge


@dataclass(frozen=True)
class AgentRow:
    name: str
    class_name: str
    address: str
    state: str  # "running", "not started" (lazy), "could not be created" or "server exited"


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
        """The session as HTML: a table of agents and one of servers, each only when it has rows."""
        if not self.agents and not self.servers:
            return (
                "<div><b>agentnb session</b>: no agents and no servers "
                "(none started yet, or all stopped: <code>%agentnb stop</code> / "
                "<code>agentnb.shutdown()</code>).</div>"
            )
        parts = [f"<div><b>agentnb session</b>: {html.escape(self.summary())}"]
        if self.agents:
            rows = "".join(
                f"<tr><td><b>{html.escape(a.name)}</b></td><td><code>{html.escape(a.class_name)}</code></td>"
                f"<td><code>{html.escape(a.address or '-')}</code></td><td>{badge(a.state)}</td></tr>"
                for a in self.agents
            )
            parts.append(
                f"<table><tr><th>agent</th><th>class</th><th>address</th><th>state</th></tr>{rows}</table>"
            )
        if self.servers:
            rows = "".join(
                f"<tr><td><code>{html.escape(s.address)}</code></td><td>{s.pid}</td>"
                f"<td>{badge('running' if s.alive else 'server exited')} {html.escape(s.exit)}</td>"
                f"<td>{html.escape(', '.join(s.agents) or '-')}</td></tr>"
                for s in self.servers
            )
            parts.append(
                f"<table><tr><th>server</th><th>pid</th><th>state</th><th>agents</th></tr>{rows}</table>"
            )
        return "".join(parts) + "</div>"


def status() -> SessionStatus:
    """This session's agents and launched servers (local knowledge, no network)."""
    session = get_session()
    agents = session.registry.agents()
    rows = []
    for agent in agents:
        state = "running" if agent.alive() else "server exited"
        if not agent.address:
            state = "not started"
        elif getattr(agent, "broken", None) is not None:  # its creation failed (a name taken, ...)
            state = "could not be created"
        rows.append(AgentRow(agent.name, agent.class_name, agent.address, state))
    servers = []
    for server in session.launched():
        names = tuple(a.name for a in agents if a.server is server and getattr(a, "broken", None) is None)
        code = server.returncode
        servers.append(
            ServerRow(server.address, server.pid, code is None, "" if code is None else f"code {code}", names)
        )
    return SessionStatus(tuple(rows), tuple(servers))


def shutdown() -> None:
    """Stop every server this session launched (launchers elsewhere are left alone)."""
    get_session().shutdown()
