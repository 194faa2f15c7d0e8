"""HTML reprs for agents, placeholders and the session. Local state only: never blocks.

Plain strings, no IPython: notebooks show them through ``_repr_html_``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ._message import _preview

if TYPE_CHECKING:
    from ._dist import DistributedAgent
    from ._placeholder import Placeholder
    from ._status import SessionStatus

COLOURS = {
    "sending": "#9e9e9e",
    "queued": "#9e9e9e",
    "running": "#1e88e5",
    "done": "#43a047",
    "error": "#e53935",
    "not started": "#9e9e9e",
    "server exited": "#e53935",
}


def _badge(state: str) -> str:
    colour = COLOURS.get(state, "#9e9e9e")
    return (
        f'<span style="background:{colour};color:white;border-radius:3px;padding:0 4px;'
        f'font-size:90%">{html.escape(state)}</span>'
    )


def agent_html(agent: DistributedAgent) -> str:
    state = "not started" if not agent.address else "running" if agent.alive() else "server exited"
    where = html.escape(agent.address or "(starts at the first call)")
    pid = f", pid {agent.server.pid}" if agent.server is not None else ""
    return (
        f"<div><b>{html.escape(agent.name)}</b> <code>{html.escape(agent.class_name)}</code> "
        f"on <code>{where}</code>{pid} {_badge(state)}</div>"
    )


def placeholder_html(p: Placeholder) -> str:
    state = p.state
    body = f"reply of <b>{html.escape(p.agent_name)}</b> {_badge(state)}"
    call = p._call
    if call.resolved:
        error = call.error
        if error is None:
            reply = call.outcome()
            shown = reply.content if hasattr(reply, "content") else getattr(reply, "value", reply)
            body += f": <code>{html.escape(_preview(shown, 200))}</code>"
        else:
            body += f": <code>{html.escape(str(error)[:300])}</code>"
    task = f"task {html.escape(p.task_id[:8])}" if p.task_id else "not acknowledged yet"
    return f"<div>{body} <small>{task}</small></div>"


def status_html(status: SessionStatus) -> str:
    """The session as HTML: a table of agents and one of servers, each only when it has rows."""
    if not status.agents and not status.servers:
        return (
            "<div><b>agentnb session</b>: no agents and no servers "
            "(none started yet, or all stopped: <code>%agentnb stop</code> / "
            "<code>agentnb.shutdown()</code>).</div>"
        )
    parts = [f"<div><b>agentnb session</b>: {html.escape(status.summary())}"]
    if status.agents:
        rows = "".join(
            f"<tr><td><b>{html.escape(a.name)}</b></td><td><code>{html.escape(a.class_name)}</code></td>"
            f"<td><code>{html.escape(a.address or '-')}</code></td><td>{_badge(a.state)}</td></tr>"
            for a in status.agents
        )
        parts.append(
            f"<table><tr><th>agent</th><th>class</th><th>address</th><th>state</th></tr>{rows}</table>"
        )
    if status.servers:
        rows = "".join(
            f"<tr><td><code>{html.escape(s.address)}</code></td><td>{s.pid}</td>"
            f"<td>{_badge('running' if s.alive else 'server exited')} {html.escape(s.exit)}</td>"
            f"<td>{html.escape(', '.join(s.agents) or '-')}</td></tr>"
            for s in status.servers
        )
        parts.append(
            f"<table><tr><th>server</th><th>pid</th><th>state</th><th>agents</th></tr>{rows}</table>"
        )
    return "".join(parts) + "</div>"
