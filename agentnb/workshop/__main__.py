"""``python -m agentnb.workshop``: the case study from a shell.

Plays "guess 2/3 of the average" with many players on a few shared agent
servers, all rounds sent at once, then writes into the ``--out`` folder:

* ``guess.svg``: the dataflow graph of the game (driver -> players <-> judge),
  drawn as ``agentnb.graph()`` draws it: past 100 agents, one node per class
  ("Player, 200 agents"); at most ``MAX_SIDE`` pixels on its longer side;
* ``guesses.svg``: every guess per round, with the average and the target;
* ``report.txt``: sizes, timings, each round's average, target and winners,
  and where the time went (also printed).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import agentnb
from agentnb import Event, GraphvizError

from .._runtime._session import get_session
from ..notebook.graph._critical import report as time_report
from ..notebook.graph._group import group, group_of
from ..notebook.graph._model import GraphModel
from ..notebook.graph._render import GraphRenderer, RenderOptions
from ._guess import GameConfig, play
from ._plot import guess_plot

#: The saved graph is at most this many pixels wide and high (it fits a page, or a screen).
MAX_SIDE = 2000
#: As in ``agentnb.graph()``: past this many agents, one node per class.
MAX_AGENTS = 100

DESCRIPTION = """\
Play "guess 2/3 of the average": every player guesses a number from 0 to 100,
and whoever is closest to 2/3 of the average wins the round. The players share
a few agent server processes (the judge has one of its own), every round is
sent at once, and the rounds flow through the servers by themselves.

It writes, into the --out folder:
  guess.svg     the dataflow graph of the game, grouped by class as agentnb.graph()
                groups more than 100 agents (at most 2000 px on its longer side)
  guesses.svg   every guess per round, with the average and the target
  report.txt    sizes, timings, each round's result, and where the time went
                (also printed)
"""


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The description as written, and each option's default."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m agentnb.workshop", description=DESCRIPTION, formatter_class=_Help
    )
    defaults = GameConfig()
    p.add_argument("--players", type=int, default=200, help="how many players")
    p.add_argument("--servers", type=int, default=defaults.servers, help="server processes the players share")
    p.add_argument("--rounds", type=int, default=defaults.rounds, help="rounds to play")
    p.add_argument("--seed", type=int, default=defaults.seed, help="fixes every player's style and noise")
    p.add_argument("--out", default="guess-out", help="the folder for guess.svg, guesses.svg and report.txt")
    args = p.parse_args(argv)
    for name in ("players", "servers", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    return args


def fit_page(svg: str, max_side: int = MAX_SIDE) -> str:
    """An SVG scaled down (its ``viewBox`` kept) so that neither side is over ``max_side`` pixels."""
    m = re.search(r'<svg width="([\d.]+)px" height="([\d.]+)px"', svg)
    if m is None:
        return svg
    width, height = float(m.group(1)), float(m.group(2))
    scale = min(1.0, max_side / max(width, height, 1.0))
    if scale == 1.0:
        return svg
    size = f'<svg width="{width * scale:.0f}px" height="{height * scale:.0f}px"'
    return svg[: m.start()] + size + svg[m.end() :]


def graph_svg(model: GraphModel, classes: dict[str, str]) -> str:
    """The game's graph as ``agentnb.graph()`` draws it (grouped past 100 agents), fit to a page.

    Raises:
        GraphvizError: graphviz is missing, failed or ran out of time.
    """
    full = model.snapshot()
    snap = group(full, "auto", classes.get, MAX_AGENTS)
    where = time_report(model.calls(), whole=True)
    if where is not None:  # its critical path, drawn on the groups' nodes
        where = where.grouped(group_of(full, "auto", classes.get, MAX_AGENTS))
    return fit_page(GraphRenderer(RenderOptions(timeout=30)).svg(snap, where))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    config = GameConfig(args.players, args.servers, args.rounds, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = GraphModel()  # the dataflow graph, fed with the session's call events as agentnb.graph() is

    def listen(event: Event) -> None:
        model.apply(event)

    session = get_session()
    unsubscribe = session.subscribe(listen)
    calls = config.rounds * (config.players + 1)
    try:
        result = play(config)
        try:  # the events of the last calls arrive just after their replies
            model.wait_for(lambda snap: sum(n.done for n in snap.nodes) >= calls, 30)
        except TimeoutError:
            pass  # the report says how many calls the graph saw
        classes = {agent.name: str(agent.class_name) for agent in session.registry.agents()}
    finally:
        unsubscribe()
        agentnb.shutdown()
    nodes = model.snapshot().nodes
    done = sum(n.done for n in nodes)
    agents = sum(n.name != "driver" for n in nodes)
    report = result.report() + f"\n  graph: {agents} agents, {done} of {calls} calls seen"
    where = time_report(model.calls(), whole=True)  # the game is one run
    if where is not None:
        sentences = " ".join(where.sentences(limit=3)).replace(" (hover a node for its times)", "")
        report += "\n  where the time went: " + sentences
    guess_plot(result.verdicts).save(out / "guesses.svg")
    try:
        (out / "guess.svg").write_text(graph_svg(model, classes), encoding="utf-8")
        report += f"\n  wrote {out / 'guess.svg'}, {out / 'guesses.svg'}, {out / 'report.txt'}"
    except GraphvizError as exc:
        report += f"\n  no guess.svg: {exc}\n  wrote {out / 'guesses.svg'}, {out / 'report.txt'}"
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
