"""Where the time went: each agent's running vs waiting time, and the critical path of a run.

The lesson of the seed is that ``d = D([b, c])`` cannot start before B and C
have replied, while E runs at once. This module reads it back from the calls
the model saw (their queued / running / finished times and the placeholders
they consumed):

* A **run** is the last stretch of calls that overlap in time (from the
  first call queued to the last one finished, with no idle gap).
* For each call: **waited for inputs** from its queuing until its last input
  (the producer that finished last) was ready; **queued** from then until it
  started (its agent's mailbox was busy, or inputs were being fetched);
  **ran** from start to finish.
* The **critical path** is the chain of calls that set the run's length:
  start at the call that finished last and step back, each time to what it
  waited for last (the producer of its latest input, or the previous call of
  the same agent when its mailbox held it up), until a call that started as
  soon as it was made.
* A **named run** (``agentnb.run(name)``) is taken whole: every call of it,
  idle gaps included, and a call's latest input is on its chain even when it
  was ready before the call was made (the call was made for it).

Pure functions over :class:`CallView` lists; timestamps are the servers'
``time.time()`` (one machine's clock in the usual case).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ._views import CallView

_EPS = 0.002  # seconds: events of one moment, stamped by different processes


@dataclass
class AgentTime:
    """How one agent spent a run.

    Attributes:
        name: the agent.
        calls: its calls in the run.
        ran: seconds spent running calls.
        waited: seconds its calls waited for inputs, by the agent that produced them.
        queued: seconds its calls waited with their inputs ready (a busy mailbox, fetching).
        first: when its first call was queued.
    """

    name: str
    calls: int = 0
    ran: float = 0.0
    waited: dict[str, float] = field(default_factory=dict)
    queued: float = 0.0
    first: float = 0.0

    @property
    def waiting(self) -> float:
        return sum(self.waited.values()) + self.queued


@dataclass(frozen=True)
class TimeReport:
    """Where a finished run's time went.

    Attributes:
        start: when the run's first call was queued.
        end: when its last call finished.
        path: the critical path, first call to last.
        edges: ``(source, target)`` agent pairs on the critical path (the
            first call's caller edge included).
        nodes: agents on the critical path.
        agents: per agent, in the order they were first called.
        calls: every call of the run.
        entry: where the path's first message came from (the driver, or an agent).
        name: the run's name ("" for the last stretch of overlapping calls).
    """

    start: float
    end: float
    path: tuple[CallView, ...]
    edges: frozenset[tuple[str, str]]
    nodes: frozenset[str]
    agents: tuple[AgentTime, ...]
    calls: tuple[CallView, ...]
    entry: str = "driver"
    name: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def grouped(self, group_of: Callable[[str], str]) -> TimeReport:
        """The report with its critical path named by the nodes its agents are drawn in (grouped graphs)."""
        nodes = frozenset(group_of(n) for n in self.nodes)
        edges = frozenset((group_of(a), group_of(b)) for a, b in self.edges)
        return replace(self, nodes=nodes, edges=edges)

    def sentences(self, limit: int = 8) -> list[str]:
        """The report in words: the run, its critical path, and the agents that waited longest."""
        names = [self.entry, *(c.agent for c in self.path)]
        if len(names) > 9:  # a long chain: its ends, and how long it is
            names = [*names[:4], f"… {len(self.path) - 6} more calls …", *names[-3:]]
        chain = " → ".join(names)
        run = f"Run {self.name!r}" if self.name else "The run"
        lines = [f"{run} took {secs(self.seconds)}; its critical path: {chain}."]
        waiting = sorted((a for a in self.agents if a.waiting >= _EPS * 5), key=lambda a: -a.waiting)
        for a in waiting[:limit]:
            lines.append(agent_sentence(a))
        if len(waiting) > limit:
            more = len(waiting) - limit
            lines.append(
                f"… and {more} more agent{'' if more == 1 else 's'} waited (hover a node for its times)."
            )
        if not waiting:
            lines.append("No agent waited: every call started as soon as it was made.")
        return lines


def secs(seconds: float) -> str:
    """A duration as people read it: ``230 ms``, ``4.1 s``."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def agent_sentence(a: AgentTime) -> str:
    """``E waited 4.1 s for C, ran 2.0 s`` (the producers it waited for longest first)."""
    parts = [
        f"{secs(t)} for {who}" for who, t in sorted(a.waited.items(), key=lambda kv: -kv[1]) if t >= _EPS
    ]
    if a.queued >= _EPS * 5:
        parts.append(f"{secs(a.queued)} in its queue")
    calls = f" ({a.calls} calls)" if a.calls > 1 else ""
    if not parts:
        return f"{a.name} ran {secs(a.ran)}{calls} and never waited."
    waited = f"waited {', '.join(parts[:3])}" + (" …" if len(parts) > 3 else "")
    return f"{a.name} {waited}, ran {secs(a.ran)}{calls}."


def last_run(calls: Iterable[CallView]) -> list[CallView]:
    """The calls of the last run: the last stretch of overlapping calls (empty if any is unfinished)."""
    timed = sorted((c for c in calls if c.queued_at is not None), key=lambda c: c.queued_at or 0.0)
    if not timed or any(c.finished_at is None for c in timed):
        return []
    run: list[CallView] = []
    end = float("-inf")
    for c in timed:
        assert c.queued_at is not None and c.finished_at is not None
        if c.queued_at > end + _EPS:
            run = []  # an idle gap: a new run starts
        run.append(c)
        end = max(end, c.finished_at)
    return run


def whole_run(calls: Iterable[CallView]) -> list[CallView]:
    """Every call, as one run (empty if any is unfinished): a named run's calls, gaps and all."""
    timed = sorted((c for c in calls if c.queued_at is not None), key=lambda c: c.queued_at or 0.0)
    return [] if any(c.finished_at is None for c in timed) else timed


def report(calls: Iterable[CallView], whole: bool = False, name: str = "") -> TimeReport | None:
    """Where the last run's time went; None while a call is unfinished or before any call.

    Args:
        calls: the calls seen.
        whole: take every call as the run (a named run: ``agentnb.run(name)``) instead of the
            last stretch of overlapping calls.
        name: the run's name, for the report's first sentence.
    """
    everything = list(calls)
    run = whole_run(everything) if whole else last_run(everything)
    if not run:
        return None
    by_task = {c.task_id: c for c in everything}
    agents: dict[str, AgentTime] = {}
    for c in run:
        _account(c, by_task, agents)
    path = _critical_path(run, by_task, whole)
    edges = {(p.agent, c.agent) for p, c in zip(path, path[1:], strict=False) if p.agent != c.agent}
    edges.add((_entry(path[0], by_task), path[0].agent))
    start = min(c.queued_at for c in run if c.queued_at is not None)
    end = max(c.finished_at for c in run if c.finished_at is not None)
    ordered = tuple(sorted(agents.values(), key=lambda a: a.first))
    return TimeReport(start, end, tuple(path), frozenset(edges), frozenset(c.agent for c in path), ordered,
                      tuple(run), _entry(path[0], by_task), name)  # fmt: skip


def _entry(first: CallView, by_task: dict[str, CallView]) -> str:
    """Where the critical path's first message came from: its latest input's producer, or its caller."""
    producer = _last_input(first, by_task)
    return producer.agent if producer is not None else first.caller or "driver"


def _times(c: CallView) -> tuple[float, float, float]:
    assert c.queued_at is not None and c.finished_at is not None
    started = c.started_at if c.started_at is not None else c.finished_at  # failed before it ran
    return c.queued_at, max(started, c.queued_at), c.finished_at


def _last_input(c: CallView, by_task: dict[str, CallView]) -> CallView | None:
    """The producer of ``c``'s input that was ready last (None without placeholder inputs)."""
    producers = [
        p for _, task in c.inputs if (p := by_task.get(task)) is not None and p.finished_at is not None
    ]
    return max(producers, key=lambda p: p.finished_at or 0.0, default=None)


def _account(c: CallView, by_task: dict[str, CallView], agents: dict[str, AgentTime]) -> None:
    queued, started, finished = _times(c)
    a = agents.get(c.agent)
    if a is None:
        a = agents[c.agent] = AgentTime(c.agent, first=queued)
    a.calls += 1
    a.ran += finished - started
    producer = _last_input(c, by_task)
    ready = queued
    if producer is not None and producer.finished_at is not None and producer.finished_at > queued:
        ready = min(producer.finished_at, started)
        a.waited[producer.agent] = a.waited.get(producer.agent, 0.0) + (ready - queued)
    a.queued += max(started - ready, 0.0)


def _critical_path(run: list[CallView], by_task: dict[str, CallView], whole: bool = False) -> list[CallView]:
    """The chain back from the call that finished last (see the module doc).

    In a whole run (a named one) a call's latest input is on the chain even if it was
    ready before the call was made: the call was made after it, for it (the driver's
    outbox, or the code, waited for it), as the rounds of a game wait for the verdicts.
    """
    by_agent: dict[str, list[CallView]] = {}
    for c in run:
        by_agent.setdefault(c.agent, []).append(c)
    c = max(run, key=lambda x: x.finished_at or 0.0)
    path = [c]
    seen = {c.task_id}
    while True:
        queued, started, _ = _times(c)
        blockers = []
        producer = _last_input(c, by_task)
        if producer is not None and (whole or (producer.finished_at or 0.0) > queued - _EPS):
            blockers.append(producer)
        before = [
            m
            for m in by_agent[c.agent]
            if m is not c and queued - _EPS < (m.finished_at or 0.0) <= started + _EPS
        ]
        if before and started - queued > _EPS:
            blockers.append(max(before, key=lambda m: m.finished_at or 0.0))
        blockers = [b for b in blockers if b.task_id not in seen]
        if not blockers:
            return path[::-1]
        c = max(blockers, key=lambda b: b.finished_at or 0.0)
        seen.add(c.task_id)
        path.append(c)
