"""Execute the workshop notebooks as CI does: a fresh kernel, all cells, then all cells again.

Real kernels (nbclient), real agent servers. What a run is judged by:

* ``results``: the outputs of the cells tagged ``result`` (their text results
  and local prints; lines printed remotely, ``[Agent] ...``, arrive on their
  own schedule and are left out);
* ``servers``: the kernel's live descendant processes (agent servers,
  launchers) just before the notebook's last code cell (its clean-up);
* ``leftovers``: descendants still alive after the kernel shut down.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from conftest import wait_for_exit
from jupyterlab_harness import descendants
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
_REMOTE_LINE = re.compile(r"^\[[^\]]+\] .*\n?", re.MULTILINE)


@dataclass
class Run:
    results: list[str] = field(default_factory=list)
    servers: int = 0


@dataclass
class Outcome:
    runs: list[Run]
    leftovers: list[int]


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def cell_text(cell: Any) -> str:
    """A cell's results as text: text/plain of results and displays, local stdout."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] in ("execute_result", "display_data"):
            parts.append(out["data"].get("text/plain", ""))
        elif out["output_type"] == "stream" and out["name"] == "stdout":
            parts.append(_REMOTE_LINE.sub("", out["text"]))
    return "".join(parts)


def execute_twice(path: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Outcome:
    """Run every cell twice in one fresh kernel (cwd: the notebook's folder)."""
    nb = nbformat.read(path, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    runs = []
    kernel_env = dict(os.environ, **(env or {}))
    with client.setup_kernel(env=kernel_env):
        kernel_pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
        for _ in range(2):
            run = Run()
            for index, cell in enumerate(nb.cells):
                if index == code[-1]:
                    run.servers = len(descendants(kernel_pid))
                if cell.cell_type == "code":
                    cell.outputs = []
                client.execute_cell(cell, index)
                if "result" in cell.metadata.get("tags", []):
                    run.results.append(cell_text(cell))
            runs.append(run)
        children = descendants(kernel_pid)
    leftovers = [pid for pid in children if not wait_for_exit(pid, 10)]
    return Outcome(runs, leftovers)


_SOLUTION_CODE = re.compile(r"```python\n(.*?)\n```", re.S)


def with_solutions(path: Path, twice: frozenset[int] = frozenset()) -> nbformat.NotebookNode:
    """The notebook with each folded solution (a markdown cell tagged ``solution``) as a code cell
    in its place: what a student gets by running the solutions where they are. Solutions whose
    number (from 1) is in ``twice`` run twice in a row, as a student runs a cell again."""
    nb = nbformat.read(path, as_version=4)
    cells = []
    number = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "solution" in cell.metadata.get("tags", []):
            [code] = _SOLUTION_CODE.findall(cell.source)
            number += 1
            for _ in range(2 if number in twice else 1):
                cells.append(nbformat.v4.new_code_cell(code, metadata={"tags": ["solution"]}))
        else:
            cells.append(cell)
    nb.cells = cells
    return nb


def execute_solutions(
    path: Path, env: dict[str, str] | None = None, timeout: float = 180, twice: frozenset[int] = frozenset()
) -> list[str]:
    """Run the notebook once with its solutions in place; the solutions' outputs as text."""
    nb = with_solutions(path, twice)
    kernel_env = dict(os.environ, **(env or {}))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    with client.setup_kernel(env=kernel_env):
        kernel_pid = client.km.provisioner.process.pid  # type: ignore[union-attr]
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        children = descendants(kernel_pid)
    leftovers = [pid for pid in children if not wait_for_exit(pid, 10)]
    assert not leftovers, f"processes outlived the kernel: {leftovers}"
    return ["".join(_all_text(cell)) for cell in nb.cells if "solution" in cell.metadata.get("tags", [])]


def _all_text(cell: Any) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        out.append(o.get("text", ""))
        out.append(o.get("data", {}).get("text/plain", ""))
    return out
