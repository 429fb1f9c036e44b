"""Checkpoint overhead: 10,000 no-op tasks headless, with and without --checkpoint.

    python benchmarks/checkpoint.py                      # in-process + real CLI, 5 rounds
    python benchmarks/checkpoint.py --rounds 9 --json /tmp/checkpoint.json
    python benchmarks/checkpoint.py --shapes layered --concurrency 64 --no-cli

For each shape (independent tasks; layers of 100 with 2 dependencies each) and concurrency
limit, the variants none / JSON / TOML run in interleaved rounds (the order rotates each
round) and the median is reported: seconds, us per task, the ratio to "none", and the
checkpoint's write cost per task ((with - without) / tasks). In-process runs go through
Session.open + run + close (open and close write the first and the final checkpoint);
CLI runs are `flow-tui launch benchmarks/workflows/noop_dag.py --headless --output jsonl`.

The floor is physical: the executor releases an ended task's slot and dependents only
once its end is durable, one fdatasync per batch (group commit). With a concurrency
limit c, no-op tasks finish a batch of at most c ends per fdatasync, so the run takes at
least tasks / c fdatasyncs; a layered DAG needs at least one per layer on its critical
path. The fdatasync latency of the checkpoint's folder is measured and printed alongside.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root is not on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import child_env, wall_seconds
from flow_tui import TaskStatus, TaskStep, Workflow
from flow_tui.session import Session, SessionOptions

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = ("none", "json", "toml")
SHAPES = ("independent", "layered")
WIDTH = 100
TARGET = 1.5
CLI_WORKFLOW = ROOT / "benchmarks" / "workflows" / "noop_dag.py"


async def _noop(ctx: object) -> None:
    return None


def make_steps(shape: str, n: int) -> list[TaskStep[object]]:
    if shape == "independent":
        return [TaskStep(name=f"t{i}", run=_noop) for i in range(n)]
    steps = []
    for i in range(n):
        layer, pos = divmod(i, WIDTH)
        deps: tuple[str, ...] = ()
        if layer:
            above = (layer - 1) * WIDTH
            deps = (f"t{above + pos}", f"t{above + (pos + 1) % WIDTH}")
        steps.append(TaskStep(name=f"t{i}", run=_noop, dependencies=deps))
    return steps


def fdatasync_latency(folder: Path, samples: int = 200, size: int = 200) -> float:
    """Median seconds of one fdatasync after appending `size` bytes, in `folder`."""
    path = folder / ".fdatasync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        times = []
        for _ in range(samples):
            os.write(fd, b"x" * size)
            start = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def interleaved(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each variant once per round, the order rotating, so drift hits all of them."""
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(runs[name]())
    return times


class InProcess:
    """Session.open + run + close of one workflow, timed; checkpoint stats kept."""

    def __init__(self, shape: str, n: int, concurrency: int | None, folder: Path) -> None:
        self.workflow = Workflow(
            name="bench-checkpoint", steps=make_steps(shape, n), concurrency=concurrency
        )
        self.n = n
        self.folder = folder
        self.stats: dict[str, list[dict[str, Any]]] = {}
        self._k = 0

    def run(self, variant: str) -> float:
        return asyncio.run(self._run(variant))

    async def _run(self, variant: str) -> float:
        self._k += 1
        path = None if variant == "none" else self.folder / f"ck-{self._k}.{variant}"
        start = time.perf_counter()
        session = Session.open(self.workflow, SessionOptions(checkpoint=path))
        try:
            results = await session.run()
        finally:
            await session.close()
        elapsed = time.perf_counter() - start
        if len(results) != self.n or any(
            r.status is not TaskStatus.SUCCESS for r in results.values()
        ):
            raise AssertionError(f"{variant}: not every task succeeded")
        checkpointer = session.checkpointer
        if path is not None and checkpointer is not None:
            if checkpointer.error is not None:
                raise AssertionError(f"{variant}: {checkpointer.error}")
            self.stats.setdefault(variant, []).append(
                {
                    "commits": checkpointer.commits,
                    "commit_seconds": checkpointer.commit_seconds,
                    "file_writes": checkpointer.writes,
                    "write_seconds": checkpointer.write_seconds,
                    "file_bytes": path.stat().st_size,
                }
            )
            path.unlink()
        return elapsed


def cli_run(shape: str, n: int, concurrency: int | None, variant: str, folder: Path) -> float:
    cmd = [
        str(Path(sys.executable).with_name("flow-tui")),
        "launch",
        str(CLI_WORKFLOW),
        "--headless",
        "--output",
        "jsonl",
    ]
    path = folder / f"cli.{variant}"
    if variant != "none":
        cmd += ["--checkpoint", str(path)]
    env = child_env(
        BENCH_TASKS=str(n),
        BENCH_WIDTH=str(n if shape == "independent" else WIDTH),
        BENCH_CONCURRENCY=str(concurrency or 0),
    )
    elapsed = wall_seconds(cmd, env, cwd=folder)
    path.unlink(missing_ok=True)
    return elapsed


def _summary(times: dict[str, list[float]], n: int) -> dict[str, Any]:
    med = {v: statistics.median(t) for v, t in times.items()}
    return {
        "seconds": med,
        "all_seconds": times,
        "us_per_task": {v: med[v] / n * 1e6 for v in med},
        "ratio": {v: med[v] / med["none"] for v in med},
        "write_us_per_task": {v: (med[v] - med["none"]) / n * 1e6 for v in med if v != "none"},
    }


def measure(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="flow-tui-ckbench-", dir=args.dir))
    figures: dict[str, Any] = {
        "tasks": args.tasks,
        "rounds": args.rounds,
        "target": TARGET,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "fdatasync_us": fdatasync_latency(folder) * 1e6,
        "cases": [],
    }
    log(f"fdatasync in {folder}: median {figures['fdatasync_us']:.0f} us")
    try:
        for shape in args.shapes:
            for concurrency in args.concurrency:
                limit = concurrency or None
                bench = InProcess(shape, args.tasks, limit, folder)
                bench.run("json")  # warm-up: imports, caches, page cache
                times = interleaved(
                    {v: functools.partial(bench.run, v) for v in VARIANTS}, args.rounds
                )
                case = {
                    "how": "in-process",
                    "shape": shape,
                    "concurrency": limit,
                    **_summary(times, args.tasks),
                    "checkpoint": bench.stats,
                }
                figures["cases"].append(case)
                log(_line(case))
                if args.no_cli:
                    continue
                times = interleaved(
                    {
                        v: functools.partial(cli_run, shape, args.tasks, limit, v, folder)
                        for v in VARIANTS
                    },
                    args.rounds,
                )
                case = {"how": "cli", "shape": shape, "concurrency": limit}
                case.update(_summary(times, args.tasks))
                figures["cases"].append(case)
                log(_line(case))
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return figures


def _line(case: dict[str, Any]) -> str:
    s, r = case["seconds"], case["ratio"]
    return (
        f"  {case['how']:<10} {case['shape']:<11} c={case['concurrency'] or 'inf':<4} "
        f"none {s['none']:.3f}s  json {s['json']:.3f}s ({r['json']:.2f}x)  "
        f"toml {s['toml']:.3f}s ({r['toml']:.2f}x)"
    )


def _io_medians(case: dict[str, Any], variant: str) -> dict[str, float]:
    runs = case.get("checkpoint", {}).get(variant, [])
    if not runs:
        return {}
    return {k: statistics.median(run[k] for run in runs) for k in runs[0]}


def table(figures: dict[str, Any]) -> str:
    headers = (
        "how",
        "shape",
        "conc.",
        "none s",
        "json s",
        "toml s",
        "json x",
        "toml x",
        "json us/task",
        "toml us/task",
        "commits",
        "journal ms",
        "files ms",
    )
    rows = []
    for case in figures["cases"]:
        s, r, w = case["seconds"], case["ratio"], case["write_us_per_task"]
        io = _io_medians(case, "json")
        rows.append(
            (
                case["how"],
                case["shape"],
                str(case["concurrency"] or "none"),
                f"{s['none']:.3f}",
                f"{s['json']:.3f}",
                f"{s['toml']:.3f}",
                f"{r['json']:.2f}" + ("" if r["json"] <= TARGET else " !"),
                f"{r['toml']:.2f}" + ("" if r["toml"] <= TARGET else " !"),
                f"{w['json']:.1f}",
                f"{w['toml']:.1f}",
                f"{io['commits']:.0f}" if io else "",
                f"{io['commit_seconds'] * 1e3:.0f}" if io else "",
                f"{io['write_seconds'] * 1e3:.0f}" if io else "",
            )
        )
    widths = [max(len(h), *(len(row[k]) for row in rows)) for k, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(widths[k]) for k, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(widths[k]) for k, c in enumerate(row)).rstrip() for row in rows]
    title = (
        f"checkpoint overhead: {figures['tasks']} no-op tasks, median of {figures['rounds']} "
        f"interleaved rounds; fdatasync {figures['fdatasync_us']:.0f} us before the runs; "
        f"target <= {TARGET}x ('!' misses it)\n"
        "us/task = (with - without) / tasks; commits = journal fdatasyncs per run; "
        "journal ms / files ms = time the JSON checkpointer spent appending + syncing the "
        "journal / rendering + replacing files (in its thread, per run)"
    )
    return title + "\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument(
        "--concurrency",
        nargs="+",
        type=int,
        default=[64, 0],
        help="concurrency limits to measure (0: unlimited); default 64 and unlimited",
    )
    parser.add_argument("--no-cli", action="store_true", help="in-process runs only")
    parser.add_argument("--dir", help="folder for the checkpoints (default: the temp folder)")
    parser.add_argument("--json", metavar="PATH", help="write every figure to PATH")
    args = parser.parse_args(argv)
    figures = measure(args, lambda text: print(text, file=sys.stderr, flush=True))
    print(table(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
