"""Event emission cost: the same run with no subscriber, a `task_end` listener, a "*" one."""

from __future__ import annotations

from typing import Any

from benchmarks.baseline import run_dag
from benchmarks.harness import Log, Mode, interleaved_async, median, paired_ratio, run_on
from benchmarks.report import Row
from benchmarks.workloads import make_steps
from flow_tui import TaskRunnerBuilder

SHAPE = "independent"
CONCURRENCY = 64


def _noop_listener(event: Any) -> None:
    return None


async def _measure(mode: Mode, log: Log) -> dict[str, Any]:
    n = mode.events_n
    steps = make_steps(SHAPE, n)
    seen = {"task_end": 0, "*": 0}

    def on_end(event: Any) -> None:
        seen["task_end"] += 1

    def on_any(event: Any) -> None:
        seen["*"] += 1

    async def baseline() -> None:
        await run_dag(steps, CONCURRENCY)

    async def none() -> None:
        await TaskRunnerBuilder(None).build().execute(steps, concurrency=CONCURRENCY)

    async def task_end() -> None:
        runner = TaskRunnerBuilder(None).on("task_end", on_end).build()
        await runner.execute(steps, concurrency=CONCURRENCY)

    async def star() -> None:
        runner = TaskRunnerBuilder(None).on("*", on_any).build()
        await runner.execute(steps, concurrency=CONCURRENCY)

    variants = {"baseline": baseline, "none": none, "task_end": task_end, "star": star}
    times = await interleaved_async(variants, mode.events_rounds)
    us = {k: median(v) / n * 1e6 for k, v in times.items()}
    rounds = mode.events_rounds
    figures = {
        "n": n,
        "shape": SHAPE,
        "concurrency": CONCURRENCY,
        "rounds": rounds,
        "us_per_task": us,
        # paired per round (the variants of a round ran back to back), then the median
        "extra_us_per_task": {
            k: median([(a - b) / n * 1e6 for a, b in zip(times[k], times["none"], strict=True)])
            for k in ("task_end", "star")
        },
        "ratio_to_none": {k: paired_ratio(times[k], times["none"]) for k in ("task_end", "star")},
        "none_ratio_to_baseline": paired_ratio(times["none"], times["baseline"]),
        "events_per_run": {"task_end": seen["task_end"] // rounds, "*": seen["*"] // rounds},
        "seconds": times,
    }
    log(
        "  events: "
        + ", ".join(f"{k} {v:.2f} us/task" for k, v in us.items())
        + f" ({figures['events_per_run']['*']} events per run to '*')"
    )
    return figures


def run(mode: Mode, log: Log) -> dict[str, Any]:
    figures: dict[str, Any] = run_on("asyncio", lambda: _measure(mode, log))
    return figures


def summarize(figures: dict[str, Any]) -> list[Row]:
    us = figures["us_per_task"]
    extra = figures["extra_us_per_task"]
    n = figures["n"]
    return [
        Row(
            "event emission",
            f"{n // 1000 if n >= 1000 else n}{'k' if n >= 1000 else ''} tasks: no subscriber / "
            "+ no-op task_end listener / + no-op '*' listener",
            f"{us['none']:.2f} / {us['task_end']:.2f} (+{extra['task_end']:.2f}) / "
            f"{us['star']:.2f} (+{extra['star']:.2f}) us/task; baseline {us['baseline']:.2f} "
            f"(paired differences, median of {figures['rounds']})",
            "reported (no subscriber: next to nothing)",
            None,
        )
    ]


def details(figures: dict[str, Any]) -> list[Any]:
    us = figures["us_per_task"]
    rows = [
        ["baseline (no events)", f"{us['baseline']:.2f}", "", ""],
        ["no subscriber", f"{us['none']:.2f}", "", ""],
        [
            "task_end listener",
            f"{us['task_end']:.2f}",
            f"+{figures['extra_us_per_task']['task_end']:.2f}",
            f"{figures['ratio_to_none']['task_end']:.2f}x",
        ],
        [
            "'*' listener",
            f"{us['star']:.2f}",
            f"+{figures['extra_us_per_task']['star']:.2f}",
            f"{figures['ratio_to_none']['star']:.2f}x",
        ],
    ]
    title = (
        f"event emission ({figures['n']} {figures['shape']} tasks, concurrency "
        f"{figures['concurrency']}, median of {figures['rounds']})"
    )
    return [(title, ("variant", "us/task", "extra", "vs none"), rows)]
