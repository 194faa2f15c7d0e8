"""The workshop's agents, game, charts, launchers and command, over real server processes."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import wait_for_exit

import agentnb
from agentnb import Msg
from agentnb.workshop import (
    GameConfig,
    Judge,
    Player,
    Talker,
    guess_plot,
    play,
    start_launcher,
    stop_launchers,
)


def test_players_guess_the_same_in_every_run_and_the_judge_takes_two_thirds() -> None:
    players = [Player(f"P{i}", seed=5) for i in range(6)]
    first = [p(None) for p in players]
    assert [p(None).content for p in players] == [m.content for m in first]
    verdict = Judge("J")(first).content
    average = sum(m.content["guess"] for m in first) / 6
    assert verdict["round"] == 1 and verdict["target"] == round(2 / 3 * average, 3)
    assert all(p(Msg("J", verdict)).content["round"] == 2 for p in players)


@pytest.mark.timeout(180)
def test_a_game_on_shared_servers_gives_the_same_verdicts_when_played_again() -> None:
    config = GameConfig(players=30, servers=3, rounds=3, seed=1)
    first = play(config)
    assert len(agentnb.status().servers) == 4  # 3 shared by the players + the judge's
    again = play(config)  # in a script, a new game: new agents, the same seeded guesses
    assert again.verdicts == first.verdicts and [v["round"] for v in first.verdicts] == [1, 2, 3]
    assert all(len(v["guesses"]) == 30 for v in first.verdicts)
    assert "30 players on 3 servers" in first.report() and "round 3" in first.report()


def test_the_chart_is_svg_and_the_same_for_the_same_verdicts() -> None:
    verdicts = [Judge("J")([Player(f"P{i}")(None) for i in range(5)]).content]
    svg = guess_plot(verdicts).text
    assert svg == guess_plot(verdicts).text
    assert ET.fromstring(svg).tag.endswith("svg") and svg.count("<circle") == 5 + 5  # dots + legend


def test_a_launcher_on_a_loopback_alias_serves_the_seeds_loop_and_is_reused() -> None:
    try:  # no token given: the driver finds it in the launcher's connection file
        server = start_launcher("agentnb.workshop:Talker", {"name": "A"}, host="127.0.0.2")
        assert start_launcher("agentnb.workshop:Talker", {"name": "A"}, host="127.0.0.2") is server
        a = Talker(name="A").to_dist(host="127.0.0.2", port=server.port, launch_server=False)
        b = Talker(name="B").to_dist()
        x = None
        while x is None or x.content != "exit":
            x = a(x)
            x = b(x)
        assert server.address.startswith("127.0.0.2:") and a.server is None
    finally:
        agentnb.shutdown()  # first: a session still linked to a launcher that stops says it lost it
        stop_launchers()
    assert wait_for_exit(server.proc.pid, 5) and not server.alive()


def test_a_launcher_that_cannot_start_says_why() -> None:
    with pytest.raises(agentnb.ServerLaunchError, match="no_such_module"):
        start_launcher("no_such_module:Agent", {"name": "X"}, host="127.0.0.2", timeout=30)


@pytest.mark.timeout(180)
def test_the_command_plays_the_game_and_writes_the_graph_and_a_report(tmp_path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "agentnb.workshop", "--players", "40", "--servers", "2", "--rounds", "3",
         "--out", str(out)],
        capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = (out / "report.txt").read_text()
    assert report.strip() == result.stdout.strip()
    assert "40 players on 2 servers" in report and "round 3: average" in report
    assert "123 of 123 calls seen" in report
    for name in ("guess.svg", "guesses.svg"):
        assert ET.parse(out / name).getroot().tag.endswith("svg")
    assert "P039" in (out / "guess.svg").read_text() and "Judge" in (out / "guess.svg").read_text()
