"""Grouping agents so that a big graph stays readable: one node per class, per server or per host.

A view of a snapshot, not a change to the model: the model keeps every agent
(exports are complete); :func:`group` merges nodes and edges for drawing.
With ``by="auto"`` agents are shown one by one up to ``max_agents``, and
grouped by class beyond that (by server when classes are unknown or too many).
The snapshot's ``note`` says what was grouped, for the caption.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ._views import DRIVER, STATES, EdgeView, NodeView, Snapshot

BY = ("auto", "agent", "class", "server", "host")
UNKNOWN = "(server unknown)"  # agents seen only as callers: no event of theirs carried an address


def _merge_state(states: list[str]) -> str:
    for state in ("streaming", "running", "queued", "error", "done"):
        if state in states:
            return state
    return "idle"


def _key_function(snap: Snapshot, by: str, class_of: Callable[[str], str | None]) -> Callable[[str], str]:
    address = {n.name: n.address for n in snap.nodes}
    if by == "class":
        return lambda name: name if name == DRIVER else class_of(name) or address.get(name) or UNKNOWN
    if by == "host":  # the machines of a cluster (agentnb.servers): host of each server's address
        return lambda name: name if name == DRIVER else _host(address.get(name)) or UNKNOWN
    return lambda name: name if name == DRIVER else address.get(name) or UNKNOWN


def _host(address: str | None) -> str:
    return address.rsplit(":", 1)[0].strip("[]") if address else ""


def choose(snap: Snapshot, by: str, class_of: Callable[[str], str | None], max_agents: int) -> str:
    """What ``by="auto"`` means for this snapshot: "agent", "class" or "server"."""
    if by != "auto":
        return by
    agents = [n.name for n in snap.nodes if n.name != DRIVER]
    if len(agents) <= max_agents:
        return "agent"
    classes = {class_of(a) for a in agents}
    if None not in classes and len(classes) <= max_agents:
        return "class"
    return "server"


def group_of(
    snap: Snapshot, by: str, class_of: Callable[[str], str | None], max_agents: int = 100
) -> Callable[[str], str]:
    """The name of the node each agent is drawn in, as :func:`group` groups ``snap``."""
    how = choose(snap, by, class_of, max_agents)
    return (lambda name: name) if how == "agent" else _key_function(snap, how, class_of)


def group(snap: Snapshot, by: str, class_of: Callable[[str], str | None], max_agents: int = 100) -> Snapshot:
    """``snap`` with its agents grouped (``by``: "auto", "agent", "class" or "server")."""
    how = choose(snap, by, class_of, max_agents)
    if how == "agent" or not snap.nodes:
        return snap
    key = _key_function(snap, how, class_of)
    members: dict[str, list[NodeView]] = {}
    for n in snap.nodes:
        members.setdefault(key(n.name), []).append(n)
    nodes = tuple(_merge_nodes(name, group) for name, group in members.items())
    edges: dict[tuple[str, str], list[EdgeView]] = {}
    for e in snap.edges:
        edges.setdefault((key(e.source), key(e.target)), []).append(e)
    merged = tuple(_merge_edges(k, group) for k, group in edges.items())
    # a group's size is in its drawn label: a new member lays the (small) grouped graph out again
    shape = hash((tuple((n.name, n.members) for n in nodes), tuple(edges))) & 0x7FFFFFFF
    groups = len(nodes) - (DRIVER in members)
    note = f"grouped by {how} into {groups} node{'' if groups == 1 else 's'} (graph(by='agent') draws each)"
    note = "; ".join(n for n in (snap.note, note) if n)
    return replace(snap, nodes=nodes, edges=merged, shape_version=shape, note=note)


def _merge_nodes(name: str, nodes: list[NodeView]) -> NodeView:
    if len(nodes) == 1 and nodes[0].name == name:
        return nodes[0]
    addresses = {n.address for n in nodes}
    return NodeView(
        name,
        _merge_state([n.state for n in nodes]),
        addresses.pop() if len(addresses) == 1 else "",
        sum(n.queued for n in nodes),
        sum(n.running for n in nodes),
        sum(n.done for n in nodes),
        sum(n.errors for n in nodes),
        next((n.last_reply for n in nodes if n.last_reply), ""),
        next((n.last_error for n in nodes if n.last_error), ""),
        sum(n.members for n in nodes),
    )


def _merge_edges(key: tuple[str, str], edges: list[EdgeView]) -> EdgeView:
    if len(edges) == 1 and (edges[0].source, edges[0].target) == key:
        return edges[0]
    latest = max(edges, key=lambda e: e.latest.queued_at or 0.0)
    counts = {s: sum(e.counts.get(s, 0) for e in edges) for s in STATES}
    count = sum(e.count for e in edges)
    return EdgeView(key, key[0], key[1], latest.state, count, counts, latest.label, latest.latest)
