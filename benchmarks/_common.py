"""Shared pieces of the benchmarks: statistics, results files, the agent they call."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Any

from agentnb import AgentBase, Msg

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


class Echo(AgentBase):
    """Replies with what it got: the agent every call benchmark uses."""

    def reply(self, x=None):
        return Msg(self.name, None if x is None else x.content)


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f} ms"


def save(name: str, rows: list[dict[str, Any]]) -> str:
    """Write a benchmark's rows to results/<name>.json (with when and where they were measured)."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}.json")
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {platform.python_version()}",
    }
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write(table(meta, rows))
    return path


def table(meta: dict[str, str], rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (what the README quotes)."""
    lines = [
        f"Measured {meta['when']} on {meta['machine']}.",
        "",
        "| workload | agentnb | baseline | ratio | target | met | note |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        ours, base, unit = _figure(r["agentnb"]), _figure(r["baseline"]), r["unit"]
        met = "yes" if r["ok"] else "**no**"
        lines.append(
            f"| {r['workload']} | {ours} {unit} | {base} {unit} | {r['ratio']:.2f} | {r['target']} | {met} "
            f"| {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def row(
    workload: str, ours: float, baseline: float, unit: str, target: str, ok: bool, note: str = ""
) -> dict[str, Any]:
    """One line of the results table: agentnb's figure beside its same-run baseline."""
    ratio = ours / baseline if baseline else float("nan")
    print(f"{workload:<46} agentnb {ours:>12,.3f} {unit:<6} baseline {baseline:>12,.3f} {unit:<6} "
          f"ratio {ratio:6.2f}  target {target:<14} {'OK' if ok else 'MISSED'}", flush=True)  # fmt: skip
    return {"workload": workload, "agentnb": ours, "baseline": baseline, "unit": unit, "ratio": ratio,
            "target": target, "ok": ok, "note": note}  # fmt: skip
