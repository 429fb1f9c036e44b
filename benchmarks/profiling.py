"""Profiles of flow-tui's side of a case, to find where the time per task goes.

    python -m benchmarks.profiling scheduler --shape fan_in --n 10000 --concurrency 64
    python -m benchmarks.profiling scheduler --runner baseline     # the floor, same view
    python -m benchmarks.profiling snapshot --n 100000
    python -m benchmarks.profiling files --n 100000 --format toml --op load
    python -m benchmarks.profiling resume --n 100000
    python -m benchmarks.profiling checkpoint --n 10000 --format json
    python -m benchmarks.profiling memory --n 100000 --shape independent

cProfile output is printed per task (us/task = seconds / n * 1e6), sorted by cumulative
time; `--sort tottime` for self time. cProfile inflates small functions, so compare rows
with each other, not with the suite's figures. The checkpoint profile sees the event-loop
thread only (journal writes run in worker threads). `memory` uses tracemalloc: the lines
that hold the most memory at the end of the run, per task.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.baseline import run_dag
from benchmarks.harness import ROOT
from benchmarks.workloads import SHAPES, make_steps
from flow_tui import Snapshot, TaskRunner, TaskRunnerBuilder, Workflow

SRC = str(ROOT / "src") + "/"


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename.startswith(SRC):
        filename = filename[len(SRC) :]
    elif "/lib/python" in filename:
        filename = filename.split("/lib/python", 1)[1].split("/", 1)[-1]
    if filename == "~":
        return name
    return f"{filename}:{line}({name})"


def print_profile(profile: cProfile.Profile, n: int, top: int, sort: str, title: str) -> None:
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(v[3] for v in raw.values())
    rows = []
    for func, (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        rows.append((func, ncalls, tottime, cumtime))
    key = 3 if sort == "cumtime" else 2
    rows.sort(key=lambda r: r[key], reverse=True)
    print(f"\n{title}: {total:.3f} s under cProfile, {n} tasks, sorted by {sort}")
    print(f"{'calls/task':>10} {'self us/task':>12} {'cum us/task':>12}  function")
    for func, ncalls, tottime, cumtime in rows[:top]:
        print(
            f"{ncalls / n:>10.2f} {tottime / n * 1e6:>12.2f} {cumtime / n * 1e6:>12.2f}  "
            f"{_where(func)}"
        )


def _profile_async(make: Callable[[], Any]) -> cProfile.Profile:
    async def go() -> None:
        profile.enable()
        try:
            await make()
        finally:
            profile.disable()

    profile = cProfile.Profile()
    gc.collect()
    asyncio.run(go())
    return profile


def _finished_runner(n: int, shape: str) -> tuple[list[Any], TaskRunner[Any]]:
    steps = make_steps(shape, n)
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()
    asyncio.run(runner.execute(steps, concurrency=64))
    return steps, runner


def scheduler(args: argparse.Namespace) -> None:
    steps = make_steps(args.shape, args.n)

    def make() -> Any:
        if args.runner == "baseline":
            return run_dag(steps, args.concurrency)
        return TaskRunnerBuilder(None).build().execute(steps, concurrency=args.concurrency)

    # One unprofiled run first, so imports and caches are not billed to the profile.
    asyncio.run(make())
    profile = _profile_async(make)
    title = f"scheduler ({args.runner}) {args.shape} n={args.n} concurrency={args.concurrency}"
    print_profile(profile, args.n, args.top, args.sort, title)


def snapshot(args: argparse.Namespace) -> None:
    _, runner = _finished_runner(args.n, args.shape)
    profile = cProfile.Profile()
    profile.enable()
    runner.snapshot()  # first call: fingerprint included
    runner.snapshot()
    profile.disable()
    print_profile(profile, args.n, args.top, args.sort, "runner.snapshot() x2 (first, later)")


def files(args: argparse.Namespace) -> None:
    _, runner = _finished_runner(args.n, args.shape)
    snap = runner.snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"snap.{args.format}"
        snap.save(path)
        profile = cProfile.Profile()
        gc.collect()
        profile.enable()
        if args.op == "load":
            Snapshot.load(path)
        else:
            snap.save(path)
        profile.disable()
    print_profile(profile, args.n, args.top, args.sort, f"Snapshot {args.op} {args.format}")


def resume(args: argparse.Namespace) -> None:
    steps, runner = _finished_runner(args.n, args.shape)
    snap = runner.snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"snap.{args.format}"
        snap.save(path)

        async def go() -> None:
            loaded = Snapshot.load(path)
            await TaskRunnerBuilder(None).with_snapshot(loaded).build().execute(steps)

        profile = _profile_async(go)
    print_profile(profile, args.n, args.top, args.sort, f"resume from {args.format}")


def checkpoint(args: argparse.Namespace) -> None:
    from flow_tui.session import Session, SessionOptions

    workflow = Workflow(name="profile", steps=make_steps(args.shape, args.n), concurrency=64)
    with tempfile.TemporaryDirectory() as tmp:
        path = None if args.format == "none" else Path(tmp) / f"ckpt.{args.format}"

        async def go() -> None:
            session = Session.open(workflow, SessionOptions(checkpoint=path))
            try:
                await session.run()
            finally:
                await session.close()

        profile = _profile_async(go)
    print_profile(profile, args.n, args.top, args.sort, f"Session run, checkpoint {args.format}")


def memory(args: argparse.Namespace) -> None:
    steps = make_steps(args.shape, args.n)
    concurrency = None if args.concurrency == 0 else args.concurrency
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()

    async def go() -> Any:
        runner = TaskRunnerBuilder(None).build()
        task = asyncio.ensure_future(runner.execute(steps, concurrency=concurrency))
        # The peak for unlimited concurrency: every task created, none finished.
        await asyncio.sleep(0)
        peak = tracemalloc.take_snapshot()
        await task
        return peak, runner

    peak, runner = asyncio.run(go())
    after = tracemalloc.take_snapshot()
    for title, snap in (("at the first loop turn (tasks alive)", peak), ("after the run", after)):
        diff = snap.compare_to(before, "lineno")
        total = sum(d.size_diff for d in diff)
        print(f"\ntracemalloc {title}: +{total / args.n:.0f} B/task, top lines")
        for d in diff[: args.top]:
            frame = d.traceback[0]
            where = frame.filename.replace(SRC, "")
            if "/lib/python" in where:
                where = where.split("/lib/python", 1)[1].split("/", 1)[-1]
            print(
                f"{d.size_diff / args.n:>8.0f} B/task {d.count_diff / args.n:>6.2f} obj/task  "
                f"{where}:{frame.lineno}"
            )
    del runner


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument(
        "case", choices=("scheduler", "snapshot", "files", "resume", "checkpoint", "memory")
    )
    parser.add_argument("--shape", choices=(*SHAPES, "stride"), default=None)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument(
        "--concurrency", type=int, default=64, help="0 = unlimited (scheduler, memory)"
    )
    parser.add_argument(
        "--runner", choices=("ours", "baseline"), default="ours", help="scheduler only"
    )
    parser.add_argument("--format", choices=("json", "toml", "none"), default="json")
    parser.add_argument("--op", choices=("load", "save"), default="load")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", choices=("cumtime", "tottime"), default="cumtime")
    args = parser.parse_args()
    if args.shape is None:
        args.shape = "independent" if args.case in ("scheduler", "memory") else "layered"
    if args.case == "scheduler" and args.concurrency == 0:
        args.concurrency = None
    {
        "scheduler": scheduler,
        "snapshot": snapshot,
        "files": files,
        "resume": resume,
        "checkpoint": checkpoint,
        "memory": memory,
    }[args.case](args)


if __name__ == "__main__":
    main()
