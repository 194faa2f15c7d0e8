"""Peak memory of the workshop series, against a bare kernel measured in the same run.

Runs every notebook of ``notebooks/`` top to bottom, in order, each in a
fresh kernel, as a participant on Binder would, and samples every 50 ms the
proportional set size (PSS: shared pages split between the processes that
share them) of the kernels and all their child processes (agent servers,
the server kept started ahead, launchers). Two figures per notebook:

* its own peak: its kernel and servers, with earlier kernels shut down (as
  the notebooks teach);
* the peak of all: every earlier kernel left open too (a participant who
  never shuts a kernel down).

Binder gives 1-2 GB; the series must fit in 1 GB.

    python benchmarks/bench_workshop_memory.py
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 1024


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry.name))
    found, todo = [pid], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


class Sampler:
    """Samples the PSS of some process trees until stopped; keeps the peaks."""

    def __init__(self) -> None:
        self.kernels: list[int] = []
        self.current = 0
        self.peak_own = self.peak_all = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            sizes = {k: sum(pss_kb(p) for p in tree(k)) for k in list(self.kernels)}
            self.peak_all = max(self.peak_all, sum(sizes.values()))
            self.peak_own = max(self.peak_own, sizes.get(self.current, 0))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_kernel(path: Path) -> tuple[NotebookClient, KernelManager]:
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(path.parent))
    client = NotebookClient(nb, km=km, timeout=180, resources={"metadata": {"path": str(path.parent)}})
    return client, km


def main() -> int:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    _, km = start_kernel(notebooks[0])
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    time.sleep(1.0)  # let it settle: this is the baseline, not a synchronisation
    baseline = sum(pss_kb(p) for p in tree(km.provisioner.process.pid)) / 1024  # type: ignore[union-attr]
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    print(f"baseline: a bare ipykernel, {baseline:.0f} MB (PSS)")
    print(f"{'notebook':<40} {'own peak':>9} {'all open':>9} {'time':>7}")
    open_kernels: list[KernelManager] = []
    worst_own = 0
    with Sampler() as sampler:
        try:
            for path in notebooks:
                client, km = start_kernel(path)
                open_kernels.append(km)
                sampler.current = km.provisioner.process.pid  # type: ignore[union-attr]
                sampler.kernels.append(sampler.current)
                sampler.peak_own = 0
                t0 = time.monotonic()
                client.execute()  # leaves the kernel running: this script owns it
                worst_own = max(worst_own, sampler.peak_own)
                print(f"{path.name:<40} {sampler.peak_own / 1024:7.0f} MB {sampler.peak_all / 1024:6.0f} MB "
                      f"{time.monotonic() - t0:6.1f}s")  # fmt: skip
        finally:
            for km in open_kernels:
                km.shutdown_kernel(now=True)
    own, every = worst_own / 1024, sampler.peak_all / 1024
    print(f"peak, one notebook at a time: {own:.0f} MB ({own / baseline:.1f}x a bare kernel)")
    print(f"peak, every kernel left open: {every:.0f} MB ({every / baseline:.1f}x a bare kernel)")
    verdict = "within" if every <= LIMIT_MB else "OVER"
    print(f"{verdict} the {LIMIT_MB} MB budget")
    return 0 if every <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
