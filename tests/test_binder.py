"""The Binder environment, built as Binder builds it (as far as a machine without Docker allows).

repo2docker (``jupyter-repo2docker --no-build --debug --no-run .`` prints
its Dockerfile) copies the repository, installs ``binder/apt.txt`` with
apt-get, runs ``pip install -r binder/requirements.txt`` from the
repository's root in the Python of ``binder/runtime.txt``, then runs
``./binder/postBuild``. Here: a copy of the committed files, the apt
packages, a fresh virtual environment, the same pip command, the same
postBuild, then the first notebook in a kernel of that environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def copy_repository(dest: Path) -> Path:
    """The committed files (and uncommitted edits to them), as Binder's build copies a clone."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def ensure_apt_packages(names: list[str]) -> None:
    missing = [n for n in names if subprocess.run(["dpkg", "-s", n], capture_output=True).returncode]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True)
    elif missing:
        pytest.fail(f"apt packages of binder/apt.txt are missing and cannot be installed: {missing}")


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{output}"
    return result.stdout


@pytest.mark.timeout(600)
def test_the_binder_environment_builds_and_runs_the_first_notebook(tmp_path) -> None:
    repo = copy_repository(tmp_path / "repo")
    binder = repo / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    assert sys.version_info[:2] == (3, 11), "this test builds with the Python of runtime.txt"
    ensure_apt_packages(binder.joinpath("apt.txt").read_text().split())

    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    env.pop("PYTHONPATH", None)
    run(["pip", "install", "-q", "-r", "binder/requirements.txt"], repo, env, 480)
    assert "agentnb smoke test passed" in run(["./binder/postBuild"], repo, env, 120)

    kernels = tmp_path / "kernels"
    (kernels / "binder").mkdir(parents=True)
    argv = [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Binder", "language": "python", "env": {"PATH": env["PATH"]}}
    (kernels / "binder" / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    km = KernelManager(kernel_name="binder", kernel_spec_manager=specs)
    first = repo / "notebooks" / "01-agents-and-messages.ipynb"
    nb = nbformat.read(first, as_version=4)
    check = "import agentnb, ipykernel\nagentnb.__file__, ipykernel.__version__"
    nb.cells.append(nbformat.v4.new_code_cell(check))
    NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(first.parent)}}).execute()
    where, version = eval(nb.cells[-1].outputs[0]["data"]["text/plain"])
    assert where.startswith(str(repo)), where  # the editable install of the copy, in the fresh environment
    assert tuple(int(p) for p in version.split(".")[:2]) >= (7, 1)
