"""``python -m agentnb.workshop``: the case study from a shell.

Plays "guess 2/3 of the average" with many players on a few shared agent
servers, then writes to ``--out``:

* ``guess.svg``: the dataflow graph of the game (players -> judge -> players);
* ``guesses.svg``: every guess per round, with the average and the target;
* ``report.txt``: sizes, timings, and each round's average, target and winners
  (also printed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import agentnb
from agentnb import Event, GraphvizError

from .._runtime._session import get_session
from ..notebook.graph._model import GraphModel
from ._guess import GameConfig, play
from ._plot import guess_plot


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m agentnb.workshop", description=__doc__.split("\n\n")[1])
    defaults = GameConfig()
    p.add_argument("--players", type=int, default=200, help="how many players (default: 200)")
    p.add_argument("--servers", type=int, default=defaults.servers, help="server processes for the players")
    p.add_argument("--rounds", type=int, default=defaults.rounds, help="rounds to play")
    p.add_argument("--seed", type=int, default=defaults.seed, help="fixes every player's style and noise")
    p.add_argument("--out", default="guess-out", help="folder for guess.svg, guesses.svg, report.txt")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    config = GameConfig(args.players, args.servers, args.rounds, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = GraphModel()  # the dataflow graph, fed with the session's call events as agentnb.graph() is

    def listen(event: Event) -> None:
        model.apply(event)

    unsubscribe = get_session().subscribe(listen)
    calls = config.rounds * (config.players + 1)
    try:
        result = play(config)
        try:  # the events of the last calls arrive just after their replies
            model.wait_for(lambda snap: sum(n.done for n in snap.nodes) >= calls, 30)
        except TimeoutError:
            pass  # the report says how many calls the graph saw
    finally:
        unsubscribe()
        agentnb.shutdown()
    nodes = model.snapshot().nodes
    done = sum(n.done for n in nodes)
    report = result.report() + f"\n  graph: {len(nodes)} agents, {done} of {calls} calls seen"
    guess_plot(result.verdicts).save(out / "guesses.svg")
    try:
        (out / "guess.svg").write_text(model.to_svg(labels=False, engine="dot", timeout=30), encoding="utf-8")
        report += f"\n  wrote {out / 'guess.svg'}, {out / 'guesses.svg'}, {out / 'report.txt'}"
    except GraphvizError as exc:
        report += f"\n  no guess.svg: {exc}\n  wrote {out / 'guesses.svg'}, {out / 'report.txt'}"
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
