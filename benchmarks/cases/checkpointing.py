"""Checkpoint overhead: a headless Session run with and without `--checkpoint`.

In-process through `Session.open(workflow, SessionOptions(checkpoint=...))`, `run()` and
`close()` (open and close are timed: they write the first and the final checkpoint), plus
one run of the real CLI per variant for reference. benchmarks/checkpoint.py (if present)
has the deep dives; this is the summary.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    Log,
    Mode,
    child_env,
    flow_tui_command,
    interleaved_async,
    median,
    run_on,
)
from benchmarks.report import Row
from benchmarks.workloads import make_steps
from flow_tui import TaskStatus, Workflow
from flow_tui.session import Session, SessionOptions

SHAPE = "layered"
CONCURRENCY = 64
TARGET = 1.5
WORKFLOW_FILE = ROOT / "benchmarks" / "workflows" / "noop_dag.py"
VARIANTS = ("none", "json", "toml")


async def _measure(mode: Mode, log: Log, tmp: Path) -> dict[str, Any]:
    n = mode.checkpoint_n
    workflow = Workflow(
        name="bench-checkpoint", steps=make_steps(SHAPE, n), concurrency=CONCURRENCY
    )
    counter = iter(range(1_000_000))

    def make(fmt: str) -> Any:
        async def one() -> None:
            path = None if fmt == "none" else tmp / f"ckpt-{next(counter)}.{fmt}"
            session = Session.open(workflow, SessionOptions(checkpoint=path))
            try:
                results = await session.run()
            finally:
                await session.close()
            if len(results) != n or any(
                r.status is not TaskStatus.SUCCESS for r in results.values()
            ):
                raise AssertionError(f"checkpoint variant {fmt}: not every task succeeded")
            if path is not None:
                path.unlink()

        return one

    times = await interleaved_async({v: make(v) for v in VARIANTS}, mode.checkpoint_rounds)
    return {"n": n, "times": times}


def _cli(n: int, fmt: str, tmp: Path) -> float:
    cmd = [*flow_tui_command(), "launch", str(WORKFLOW_FILE), "--headless", "--output", "plain"]
    if fmt != "none":
        cmd += ["--checkpoint", str(tmp / f"cli.{fmt}")]
    env = child_env(BENCH_TASKS=str(n), BENCH_CONCURRENCY=str(CONCURRENCY))
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-300:]!r}")
    return elapsed


def run(mode: Mode, log: Log) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flow-tui-bench-") as name:
        tmp = Path(name)
        measured = run_on("asyncio", lambda: _measure(mode, log, tmp))
        n = measured["n"]
        cli = {fmt: _cli(n, fmt, tmp) for fmt in VARIANTS}
    med = {k: median(v) for k, v in measured["times"].items()}
    ratio = {fmt: med[fmt] / med["none"] for fmt in ("json", "toml")}
    cli_ratio = {fmt: cli[fmt] / cli["none"] for fmt in ("json", "toml")}
    log(
        f"  checkpoint n={n}: none {med['none']:.3f} s, json {med['json']:.3f} s "
        f"({ratio['json']:.2f}x), toml {med['toml']:.3f} s ({ratio['toml']:.2f}x); CLI "
        + ", ".join(f"{k} {v:.3f} s" for k, v in cli.items())
    )
    return {
        "n": n,
        "shape": SHAPE,
        "concurrency": CONCURRENCY,
        "rounds": mode.checkpoint_rounds,
        "seconds": med,
        "us_per_task": {k: v / n * 1e6 for k, v in med.items()},
        "ratio": ratio,
        "all_seconds": measured["times"],
        "cli_seconds": cli,
        "cli_ratio": cli_ratio,
        "target": TARGET,
        "passed": max(ratio.values()) <= TARGET,
    }


def summarize(f: dict[str, Any]) -> list[Row]:
    n = f["n"]
    size = f"{n // 1000}k" if n >= 1000 else str(n)
    s, r, c = f["seconds"], f["ratio"], f["cli_ratio"]
    return [
        Row(
            "checkpoint overhead",
            f"{size} tasks headless (Session), with vs without --checkpoint",
            f"JSON {r['json']:.2f}x, TOML {r['toml']:.2f}x ({s['none']:.3f} s -> "
            f"{s['json']:.3f} / {s['toml']:.3f} s); CLI JSON {c['json']:.2f}x, "
            f"TOML {c['toml']:.2f}x",
            f"<= {TARGET}x",
            f["passed"],
        )
    ]


def details(f: dict[str, Any]) -> list[Any]:
    rows = []
    for fmt in VARIANTS:
        rows.append(
            [
                fmt,
                f"{f['seconds'][fmt]:.3f}",
                f"{f['us_per_task'][fmt]:.1f}",
                "1.00x" if fmt == "none" else f"{f['ratio'][fmt]:.2f}x",
                f"{f['cli_seconds'][fmt]:.3f}",
                "1.00x" if fmt == "none" else f"{f['cli_ratio'][fmt]:.2f}x",
            ]
        )
    headers = ("checkpoint", "Session s", "us/task", "ratio", "CLI s (1 run)", "CLI ratio")
    title = (
        f"checkpoint overhead ({f['n']} {f['shape']} tasks, concurrency {f['concurrency']}, "
        f"median of {f['rounds']})"
    )
    return [(title, headers, rows)]
