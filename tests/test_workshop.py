"""The workshop's agents, game, charts, launchers and command, over real server processes."""

from __future__ import annotations

import re
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
    # the legend draws each line as the plot does: the average dashed, the target solid
    plot = dict(re.findall(r'<polyline [^>]*stroke="(#\w+)"[^>]*stroke-dasharray="([^"]*)"', svg))
    legend = dict(re.findall(r'<line [^>]*stroke="(#\w+)"[^>]*stroke-dasharray="([^"]*)"/><text[^>]*>', svg))
    assert plot == legend and sorted(plot.values()) == ["", "4 3"], (plot, legend)


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


@pytest.mark.timeout(180)
def test_the_commands_graph_of_200_players_is_grouped_as_the_live_graph_and_fits_a_page(tmp_path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "agentnb.workshop", "--rounds", "2", "--out", str(out)],  # 200 players
        capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "200 players on 4 servers" in result.stdout and "where the time went: The run took" in result.stdout
    )
    root = ET.parse(out / "guess.svg").getroot()
    width, height = (float(root.get(side, "0").removesuffix("px")) for side in ("width", "height"))
    assert 0 < max(width, height) <= 2000, (width, height)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    nodes = {
        g.find("svg:title", ns).text: " ".join(t.text or "" for t in g.iter(f"{{{ns['svg']}}}text"))
        for g in root.iter(f"{{{ns['svg']}}}g")
        if "node" in (g.get("class") or "").split()
    }
    # one node per class past 100 agents, as agentnb.graph() draws them: no player on its own
    assert nodes == {"driver": "driver", "Player": "Player 200 agents", "Judge": "Judge"}, nodes


def test_the_commands_help_is_complete_and_gives_the_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentnb.workshop", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    text = result.stdout
    assert "``" not in text and "guess.svg" in text and "guesses.svg" in text and "report.txt" in text
    for option, default in (("--players", "200"), ("--servers", "4"), ("--rounds", "5"), ("--seed", "0")):
        line = next(line for line in text.splitlines() if line.strip().startswith(option))
        assert f"(default: {default})" in line, line
    assert "(default: guess-out)" in " ".join(text.split())
    description = text.split("options:")[0]
    assert all(p.rstrip().endswith((".", ")")) for p in description.split("\n\n")[1:] if p.strip()), (
        description
    )
