"""The workshop's agents and helpers, importable so that launchers in other processes can build them.

Built on agentnb's public names (taken from ``agentnb``, so importing this
package is a first use of agentnb: in a kernel it switches the notebook layer
on) and, for charts of the dataflow graph, the graph's plain-Python model;
nothing here touches gRPC.

* :class:`Talker`, :class:`Worker`: the seed's conversation and dataflow agents.
* :class:`Player`, :class:`Judge`, :func:`play`: the "guess 2/3 of the average"
  game with many players on a few shared servers (``python -m agentnb.workshop``
  runs it from a shell and writes the graph and a report).
* :func:`guess_plot`: an SVG chart of a game's guesses, round by round.
* :func:`start_launcher`: ``python -m agentnb.server`` in the background, on a
  loopback alias standing in for another machine.
"""

from __future__ import annotations

from ._dataflow import Talker, Worker, contents
from ._guess import GameConfig, GameResult, Judge, Player, play, send_rounds, spread, start_game
from ._launch import Launcher, start_launcher, stop_launchers
from ._plot import Svg, guess_plot

__all__ = [
    "GameConfig",
    "GameResult",
    "Judge",
    "Launcher",
    "Player",
    "Svg",
    "Talker",
    "Worker",
    "contents",
    "guess_plot",
    "play",
    "send_rounds",
    "spread",
    "start_game",
    "start_launcher",
    "stop_launchers",
]
