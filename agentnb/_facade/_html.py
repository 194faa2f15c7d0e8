"""HTML pieces for the reprs of agents, placeholders and the session, from plain values.

Plain strings, no IPython: notebooks show them through ``_repr_html_``. The
objects pass what they know locally, so a repr never blocks.
"""

from __future__ import annotations

import html

COLOURS = {
    "sending": "#9e9e9e",
    "queued": "#9e9e9e",
    "running": "#1e88e5",
    "done": "#43a047",
    "error": "#e53935",
    "cancelled": "#757575",
    "could not be created": "#e53935",
    "not started": "#9e9e9e",
    "server exited": "#e53935",
}


def badge(state: str) -> str:
    colour = COLOURS.get(state, "#9e9e9e")
    return (
        f'<span style="background:{colour};color:white;border-radius:3px;padding:0 4px;'
        f'font-size:90%">{html.escape(state)}</span>'
    )


def agent_html(name: str, class_name: str, address: str, pid: int | None, state: str) -> str:
    """A distributed agent: its name, class, address (and pid of a server this session launched), state."""
    where = html.escape(address or "(starts at the first call)")
    at = f", pid {pid}" if pid is not None else ""
    return (
        f"<div><b>{html.escape(name)}</b> <code>{html.escape(class_name)}</code> "
        f"on <code>{where}</code>{at} {badge(state)}</div>"
    )


def placeholder_html(agent: str, state: str, task_id: str, shown: str | None, error: str | None) -> str:
    """A placeholder: whose reply it is, its state, and what it holds once resolved."""
    body = f"reply of <b>{html.escape(agent)}</b> {badge(state)}"
    if error is not None:
        body += f": <code>{html.escape(error[:300])}</code>"
    elif shown is not None:
        body += f": <code>{html.escape(shown)}</code>"
    task = f"task {html.escape(task_id[:8])}" if task_id else "on its way to its server"
    return f"<div>{body} <small>{task}</small></div>"
