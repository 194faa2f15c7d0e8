"""The "guess 2/3 of the average" game, played by many agents on a few shared servers.

Each round every player guesses a number in 0..100; the judge takes all the
guesses at once (a fan-in of placeholders), and whoever is closest to 2/3 of
the average wins. The next round's players get the judge's verdict as their
input, so the driver writes every round at once and the rounds flow through
the servers by themselves.

Players are stateless and their randomness is seeded by (seed, name, round):
the same game gives the same guesses in every run, and re-running a notebook
cell (which reattaches to the live agents) gives the same results.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentnb import AgentBase, DistributedAgent, Msg, Placeholder

from .._facade._agent import Input

#: The kinds of players, by how far ahead they think.
STYLES = ("random", "level-1", "level-2", "follower", "stubborn")


def _rng(*parts: object) -> random.Random:
    return random.Random(hashlib.sha256("|".join(map(str, parts)).encode()).digest())


class Player(AgentBase):
    """Guesses a number in 0..100, with a style picked by its seed and name.

    * random: any number; level-1: 2/3 of 50 first, then 2/3 of the last
      target; level-2: (2/3)^2 of it; follower: the last target; stubborn: the
      same lucky number every round.

    Args:
        name: the agent's name.
        seed: the game's seed (with the name, it fixes style and noise).
    """

    def __init__(self, name: str, seed: int = 0) -> None:
        super().__init__(name)
        self.seed = seed
        self.style = STYLES[_rng(seed, name).randrange(len(STYLES))]

    def reply(self, x: Input = None) -> Msg:
        verdict = x.content if isinstance(x, Msg) else None
        round_ = 1 if verdict is None else int(verdict["round"]) + 1
        last = 50.0 if verdict is None else float(verdict["target"])
        rng = _rng(self.seed, self.name, round_)
        guess = {
            "random": rng.uniform(0, 100),
            "level-1": last * 2 / 3,
            "level-2": last * 4 / 9,
            "follower": last,
            "stubborn": _rng(self.seed, self.name).uniform(10, 60),
        }[self.style]
        guess = min(100.0, max(0.0, guess + rng.gauss(0, 2)))
        return Msg(self.name, {"round": round_, "guess": round(guess, 2), "style": self.style})


class Judge(AgentBase):
    """Takes all of a round's guesses; the target is 2/3 of their average.

    Args:
        name: the agent's name.
        details: the verdict lists every guess and style (by player); without them it
            says how many played (a simulation of a million players sends a short verdict).
    """

    def __init__(self, name: str, details: bool = True) -> None:
        super().__init__(name)
        self.details = details

    def reply(self, x: Input = None) -> Msg:
        moves = x if isinstance(x, list) else [] if x is None else [x]
        guesses = {m.name: float(m.content["guess"]) for m in moves}
        if not guesses:
            raise ValueError("the judge got no guesses")
        average = sum(guesses.values()) / len(guesses)
        target = 2 / 3 * average
        best = min(abs(g - target) for g in guesses.values())
        winners = sorted(name for name, g in guesses.items() if abs(g - target) == best)
        verdict: dict[str, Any] = {
            "round": max(int(m.content["round"]) for m in moves),
            "average": round(average, 3),
            "target": round(target, 3),
            "winners": winners,
        }
        if self.details:
            verdict["guesses"] = guesses
            verdict["styles"] = {m.name: m.content["style"] for m in moves}
        else:
            verdict["players"] = len(guesses)
        return Msg(self.name, verdict)


@dataclass(frozen=True)
class GameConfig:
    """The size of a game.

    Attributes:
        players: how many players.
        servers: how many server processes share the players (the judge gets one more).
        rounds: how many rounds.
        seed: fixes every player's style and noise.
    """

    players: int = 100
    servers: int = 4
    rounds: int = 5
    seed: int = 0


@dataclass
class GameResult:
    """What a game produced: one verdict per round, and how long the parts took."""

    config: GameConfig
    verdicts: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def targets(self) -> list[float]:
        return [v["target"] for v in self.verdicts]

    def report(self) -> str:
        """A short text report: sizes, timings, and each round's average, target and winners."""
        c, t = self.config, self.timings
        lines = [
            f"guess 2/3 of the average: {c.players} players on {c.servers} servers (+1 for the judge), "
            f"{c.rounds} rounds, seed {c.seed}",
            f"  agents started in {t.get('start', 0):.2f} s; all {c.rounds} rounds sent in "
            f"{t.get('send', 0):.3f} s; played in {t.get('play', 0):.2f} s "
            f"({c.players * c.rounds + c.rounds} calls)",
        ]
        for v in self.verdicts:
            guesses = list(v["guesses"].values())
            winners = ", ".join(v["winners"][:3]) + (" ..." if len(v["winners"]) > 3 else "")
            lines.append(
                f"  round {v['round']}: average {v['average']:6.2f}, target {v['target']:6.2f}, "
                f"guesses {min(guesses):5.1f}..{max(guesses):5.1f}, won by {winners}"
            )
        return "\n".join(lines)


def spread(agents: Sequence[AgentBase], servers: int) -> list[DistributedAgent]:
    """Move agents to ``servers`` shared server processes, round robin.

    The first ``servers`` agents each start a server (``to_dist()``); the rest
    join them by port (``to_dist(port=...)``). Run again in the same session,
    every agent reattaches to its live self: no new processes.
    """
    firsts = [agent.to_dist() for agent in agents[:servers]]
    ports = [d.server.port for d in firsts if d.server is not None]
    rest = [agent.to_dist(port=ports[i % len(ports)]) for i, agent in enumerate(agents[servers:])]
    return firsts + rest


def start_game(config: GameConfig) -> tuple[list[DistributedAgent], DistributedAgent]:
    """The players on ``config.servers`` shared servers, and the judge on a server of its own."""
    players = spread([Player(f"P{i:03d}", seed=config.seed) for i in range(config.players)], config.servers)
    return players, Judge("Judge").to_dist()


def send_rounds(
    players: Sequence[DistributedAgent], judge: DistributedAgent, rounds: int
) -> list[Placeholder]:
    """Every round at once: the players get the last verdict, the judge all their guesses.

    Returns at once, with one placeholder per round's verdict.
    """
    verdicts: list[Placeholder] = []
    last: Placeholder | None = None
    for _ in range(rounds):
        guesses = [player(last) for player in players]
        last = judge(guesses)
        verdicts.append(last)
    return verdicts


def play(config: GameConfig = GameConfig(), clock: Callable[[], float] = time.perf_counter) -> GameResult:
    """Start the agents, play every round, and collect the verdicts."""
    t0 = clock()
    players, judge = start_game(config)
    t1 = clock()
    pending = send_rounds(players, judge, config.rounds)
    t2 = clock()
    verdicts = [p.result(timeout=120).content for p in pending]
    t3 = clock()
    return GameResult(config, verdicts, {"start": t1 - t0, "send": t2 - t1, "play": t3 - t1})
