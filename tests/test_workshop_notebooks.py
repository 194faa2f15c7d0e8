"""Every workshop notebook, executed as CI does: top to bottom in a fresh kernel, then again.

The second run, in the same kernel, must not hang, must not leave more
processes than the first, and must give the same results; no process may
outlive the kernel. All of them together must take under five minutes.

The exercises' solutions are folded away in markdown (Run All runs none of
them); each notebook is also run once with its solutions in their places,
as a student runs them, so they stay right.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from notebook_runs import execute_solutions, execute_twice, notebook_paths

NOTEBOOKS = notebook_paths()
_took: dict[str, float] = {}


def test_there_is_a_notebook_per_workshop_step() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_committed_notebook_has_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_twice_in_one_kernel_with_the_same_results(path: Path) -> None:
    start = time.monotonic()
    outcome = execute_twice(path)
    _took[path.name] = time.monotonic() - start
    first, second = outcome.runs
    assert first.results, f"{path.name} has no cell tagged 'result'"
    assert second.results == first.results
    assert second.servers == first.servers, "the second run left more (or fewer) processes"
    assert not outcome.leftovers, f"processes outlived the kernel: {outcome.leftovers}"


def test_the_whole_series_ran_twice_in_under_five_minutes() -> None:
    if len(_took) < len(NOTEBOOKS):
        pytest.skip("the notebooks did not all run in this session")
    total = sum(_took.values())
    print(" ".join(f"{name[:2]}:{seconds:.1f}s" for name, seconds in _took.items()), f"total {total:.1f}s")
    assert total < 300, _took


def test_the_readme_binder_badge_opens_the_first_notebook_in_jupyterlab() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    badge = readme.split("\n\n")[1]
    assert badge.startswith("[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/")
    assert f"?urlpath=lab/tree/notebooks/{NOTEBOOKS[0].name})" in badge


# What each solution must print (one entry per solution, in order).
SOLUTIONS = {
    "01": ["stnega ,olleh", "I heard Alice say that agents are actors, and Bob say that actors only talk"],
    "02": ["s in: right after F, its last input", "s, nothing can overlap"],
    "03": ["same conversation, one process: B2 exit True", "(12, 8)"],
    "04": ["[C2] turn 2", "does not accept code"],
    "05": ["s after A started", "A → C → D → F"],
    "06": ["200 4 ->", "100 8 ->", "[27.153, 21.315, "],
    "07": ["ProR: Everyone gets the same environment", "Undecided: Both have a point: ProR that"],
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_solution_runs_where_its_exercise_is(path: Path) -> None:
    game = path.name.startswith("06")
    printed = execute_solutions(path, twice=frozenset({1}) if game else frozenset())
    expected = SOLUTIONS.get(path.name[:2])
    if expected is None:  # a notebook with no expectations written here: its solutions must run
        expected = [""] * len(printed)
    if game:  # its first solution runs twice, as a student runs the cell again
        expected = expected[:1] + expected
    assert len(printed) == len(expected), printed
    for text, wanted in zip(printed, expected, strict=True):
        assert wanted in text, f"{wanted!r} not in a solution's output:\n{text}"
    if game:  # timings start from no agents (none reattached), so starting takes time, run again too
        for text in printed[:2]:
            starts = [float(line.split("(")[1].split(",")[0]) for line in text.splitlines() if "-> (" in line]
            assert len(starts) == 2 and all(start > 0.0 for start in starts), text
