"""Checkpoint overhead: a headless run with and without `--checkpoint`.

The target is measured as a user meets it: the real `flow-tui launch --headless` process,
with and without `--checkpoint` (JSON and TOML), in interleaved rounds (medians). The
same runs in process (`Session.open`, `run()`, `close()`: open and close write the first
and the final checkpoint) are reported beside it, with their physical floor: each end is
durable before its slot is reused, so with concurrency c the run makes at least tasks / c
journal fdatasyncs, measured here on the same folder. benchmarks/checkpoint.py has the
deep dives (more shapes and limits, the checkpointer's own timings).
"""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.checkpoint import fdatasync_latency
from benchmarks.harness import (
    ROOT,
    Log,
    Mode,
    child_env,
    flow_tui_command,
    interleaved,
    interleaved_async,
    median,
    run_on,
    wall_seconds,
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
    path = tmp / f"cli.{fmt}"
    if fmt != "none":
        path.unlink(missing_ok=True)  # from the round before: a new run, not a resume
        cmd += ["--checkpoint", str(path)]
    env = child_env(BENCH_TASKS=str(n), BENCH_CONCURRENCY=str(CONCURRENCY))
    return wall_seconds(cmd, env)


def run(mode: Mode, log: Log) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flow-tui-bench-") as name:
        tmp = Path(name)
        measured = run_on("asyncio", lambda: _measure(mode, log, tmp))
        n = measured["n"]
        cli_times = interleaved(
            {fmt: functools.partial(_cli, n, fmt, tmp) for fmt in VARIANTS},
            mode.checkpoint_rounds,
        )
        # One batch: CONCURRENCY end records of about 200 bytes each.
        sync = fdatasync_latency(tmp, samples=60, size=CONCURRENCY * 200)
    med = {k: median(v) for k, v in measured["times"].items()}
    cli = {k: median(v) for k, v in cli_times.items()}
    ratio = {fmt: med[fmt] / med["none"] for fmt in ("json", "toml")}
    cli_ratio = {fmt: cli[fmt] / cli["none"] for fmt in ("json", "toml")}
    batches = math.ceil(n / CONCURRENCY)
    floor = batches * sync
    log(
        f"  checkpoint n={n}: CLI "
        + ", ".join(f"{k} {v:.3f} s" for k, v in cli.items())
        + f"; in process none {med['none']:.3f} s, json {med['json']:.3f} s "
        f"({ratio['json']:.2f}x), toml {med['toml']:.3f} s ({ratio['toml']:.2f}x); "
        f"{batches} batch syncs of {sync * 1e6:.0f} us = {floor:.3f} s"
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
        "cli_all_seconds": cli_times,
        "cli_ratio": cli_ratio,
        "batch_sync_seconds": sync,
        "sync_floor_seconds": floor,
        "in_process_floor_ratio": (med["none"] + floor) / med["none"],
        "target": TARGET,
        "passed": max(cli_ratio.values()) <= TARGET,
    }


def summarize(f: dict[str, Any]) -> list[Row]:
    n = f["n"]
    size = f"{n // 1000}k" if n >= 1000 else str(n)
    s, r, c, cs = f["seconds"], f["ratio"], f["cli_ratio"], f["cli_seconds"]
    return [
        Row(
            "checkpoint overhead",
            f"{size} tasks, `flow-tui launch --headless` with vs without --checkpoint "
            f"(median of {f['rounds']} interleaved runs)",
            f"JSON {c['json']:.2f}x, TOML {c['toml']:.2f}x ({cs['none']:.3f} s -> "
            f"{cs['json']:.3f} / {cs['toml']:.3f} s)",
            f"<= {TARGET}x",
            f["passed"],
        ),
        Row(
            "checkpoint overhead",
            "the same runs in process (Session), and their fdatasync floor",
            f"JSON {r['json']:.2f}x, TOML {r['toml']:.2f}x ({s['none']:.3f} s -> "
            f"{s['json']:.3f} / {s['toml']:.3f} s); floor {f['in_process_floor_ratio']:.2f}x: "
            f"{math.ceil(n / f['concurrency'])} batch syncs of "
            f"{f['batch_sync_seconds'] * 1e6:.0f} us = {f['sync_floor_seconds']:.3f} s",
            "reported",
            None,
        ),
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
    headers = ("checkpoint", "Session s", "us/task", "ratio", "CLI s", "CLI ratio")
    title = (
        f"checkpoint overhead ({f['n']} {f['shape']} tasks, concurrency {f['concurrency']}, "
        f"median of {f['rounds']})"
    )
    return [(title, headers, rows)]
