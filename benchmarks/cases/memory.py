"""Memory: peak RSS per task of one run in a fresh process, flow-tui and the baseline.

Figures per task: "runner" is peak RSS after the run minus RSS once the step list is
built (the target applies to it: the runner's own memory: graph, state, asyncio tasks,
results); "total" is above the interpreter's RSS before anything was imported.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from benchmarks.harness import ROOT, Log, Mode, child_env, label, median, python, rotate
from benchmarks.report import Row

TARGET_KB = 2.0
CONFIGS = (("independent", None), ("layered", 64))  # every task alive at once; a bounded run


def _probe(runner: str, shape: str, n: int, concurrency: int | None) -> dict[str, Any]:
    conc = "none" if concurrency is None else str(concurrency)
    out = subprocess.run(
        [python(), "-m", "benchmarks.cases.memory_probe", runner, shape, str(n), conc],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory probe failed: {out.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run(mode: Mode, log: Log) -> dict[str, Any]:
    n = mode.memory_n
    rows = []
    for shape, concurrency in CONFIGS:
        readings: dict[str, list[dict[str, Any]]] = {"baseline": [], "ours": []}
        for r in range(mode.memory_rounds):
            for runner in rotate(["baseline", "ours"], r):
                readings[runner].append(_probe(runner, shape, n, concurrency))
        row: dict[str, Any] = {"shape": shape, "concurrency": concurrency, "n": n}
        for runner, probes in readings.items():
            runner_kb = median([p["after_kb"] - p["steps_kb"] for p in probes])
            total_kb = median([p["after_kb"] - p["bare_kb"] for p in probes])
            row[runner] = {
                "runner_kb_per_task": runner_kb / n,
                "total_kb_per_task": total_kb / n,
                "steps_kb_per_task": median([p["steps_kb"] - p["imported_kb"] for p in probes]) / n,
                "imports_mb": median([p["imported_kb"] - p["bare_kb"] for p in probes]) / 1024,
                "bare_mb": median([p["bare_kb"] for p in probes]) / 1024,
                "peak_mb": median([p["after_kb"] for p in probes]) / 1024,
                "probes": probes,
            }
        row["ratio"] = row["ours"]["runner_kb_per_task"] / max(
            row["baseline"]["runner_kb_per_task"], 1e-9
        )
        rows.append(row)
        log(
            f"  memory {shape} c={label(concurrency)} n={n}: ours "
            f"{row['ours']['runner_kb_per_task']:.2f} KB/task (total "
            f"{row['ours']['total_kb_per_task']:.2f}), baseline "
            f"{row['baseline']['runner_kb_per_task']:.2f} KB/task"
        )
    worst = max(rows, key=lambda r: r["ours"]["runner_kb_per_task"])
    return {
        "n": n,
        "rounds": mode.memory_rounds,
        "rows": rows,
        "target_kb_per_task": TARGET_KB,
        "target_applies_to": "runner_kb_per_task (peak RSS after execute minus RSS after "
        "building the step list)",
        "worst_runner_kb_per_task": worst["ours"]["runner_kb_per_task"],
        "passed": worst["ours"]["runner_kb_per_task"] <= TARGET_KB,
    }


def summarize(figures: dict[str, Any]) -> list[Row]:
    n = figures["n"]
    size = f"{n // 1000}k" if n >= 1000 else str(n)
    out = []
    for row in figures["rows"]:
        ours, base = row["ours"], row["baseline"]
        out.append(
            Row(
                "memory",
                f"peak RSS per task, {size} {row['shape']} tasks, concurrency "
                f"{label(row['concurrency'])} (runner only; total incl. step list and imports)",
                f"{ours['runner_kb_per_task']:.2f} KB/task (total "
                f"{ours['total_kb_per_task']:.2f}); baseline {base['runner_kb_per_task']:.2f}",
                f"<= {TARGET_KB:g} KB/task (runner only)",
                ours["runner_kb_per_task"] <= TARGET_KB,
            )
        )
    return out


def details(figures: dict[str, Any]) -> list[Any]:
    rows = []
    for row in figures["rows"]:
        for runner in ("baseline", "ours"):
            f = row[runner]
            rows.append(
                [
                    row["shape"],
                    label(row["concurrency"]),
                    runner,
                    f"{f['runner_kb_per_task']:.2f}",
                    f"{f['steps_kb_per_task']:.2f}",
                    f"{f['total_kb_per_task']:.2f}",
                    f"{f['imports_mb']:.1f}",
                    f"{f['peak_mb']:.1f}",
                ]
            )
    headers = (
        "shape",
        "concurrency",
        "runner",
        "runner KB/task",
        "step list KB/task",
        "total KB/task",
        "imports MB",
        "peak MB",
    )
    return [(f"memory ({figures['n']} tasks, fresh process each)", headers, rows)]
