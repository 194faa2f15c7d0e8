"""What a pool shows of itself: one line, a text listing, an HTML table (known here, no I/O)."""

from __future__ import annotations

import html as _html

from ._servers import ALIVE, LOST, ServerRow, mib


def summary(name: str, closed: bool, rows: list[ServerRow]) -> str:
    """``name``: its servers and hosts, lost servers, agents, memory."""
    alive = [r for r in rows if r.state == ALIVE]
    lost = sum(r.state == LOST for r in rows)
    hosts = len({r.host for r in alive})
    agents = sum(r.agents for r in alive)
    memory = sum(r.rss for r in alive)
    state = "closed" if closed else f"{len(alive)} server(s) on {hosts} host(s)"
    extra = f", {lost} lost" if lost else ""
    return f"{name}: {state}{extra}, {agents} agent(s), {mib(memory)}"


def text(line: str, rows: list[ServerRow]) -> str:
    """The pool's repr: its summary, then a line per server."""
    lines = [f"<ServerPool {line}"]
    for r in rows:
        what = f"{r.agents} agent(s), {mib(r.rss)}" if r.state == ALIVE else f"{r.state}: {r.cause}"
        lines.append(f"  {r.address} on {r.worker} (pid {r.pid}): {what}")
    return "\n".join(lines) + ">"


def html(line: str, rows: list[ServerRow]) -> str:
    """The pool in a notebook: its summary, and a table of servers by host."""
    e = _html.escape
    body = "".join(
        f"<tr><td><code>{e(r.host)}</code></td><td><code>{e(r.address)}</code></td>"
        f"<td><code>{e(r.worker)}</code></td><td>{r.pid}</td><td>{r.agents}</td><td>{mib(r.rss)}</td>"
        f"<td>{e(r.state)}{': ' + e(r.cause) if r.cause else ''}</td></tr>"
        for r in sorted(rows, key=lambda r: (r.host, r.address))
    )
    head = (
        "<tr><th>host</th><th>server</th><th>worker</th><th>pid</th><th>agents</th><th>memory</th>"
        "<th>state</th></tr>"
    )
    return f"<div><b>agentnb</b> {e(line)}<table>{head}{body}</table></div>"
