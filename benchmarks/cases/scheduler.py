"""Scheduler overhead: no-op tasks through flow-tui and through the lean baseline.

Also the growth case (us/task at the large size over the small one) and the same
measurements on uvloop, when it is installed.
"""

from __future__ import annotations

from typing import Any

from benchmarks.baseline import run_dag
from benchmarks.harness import (
    Log,
    Mode,
    fmt_ratio,
    interleaved_async,
    label,
    median,
    paired_ratio,
    run_on,
    spread,
    uvloop_factory,
)
from benchmarks.report import Row
from benchmarks.workloads import SHAPES, make_steps
from flow_tui import TaskRunnerBuilder, TaskStatus, TaskStep

RATIO_TARGET = 1.5
RATIO_AIM = 1.25
GROWTH_TARGET = 1.25


async def _config(
    steps: list[TaskStep[Any]], concurrency: int | None, rounds: int
) -> dict[str, list[float]]:
    """Interleaved rounds of the baseline and flow-tui on one step list."""
    last: dict[str, Any] = {}

    async def baseline() -> None:
        last["baseline"] = await run_dag(steps, concurrency)

    async def ours() -> None:
        runner = TaskRunnerBuilder(None).build()
        last["ours"] = await runner.execute(steps, concurrency=concurrency)

    times = await interleaved_async({"baseline": baseline, "ours": ours}, rounds)
    _check(last, len(steps))
    return times


async def _measure(mode: Mode, log: Log, loop: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n, rounds in zip(mode.scheduler_sizes, mode.scheduler_rounds, strict=True):
        for shape in SHAPES:
            steps = make_steps(shape, n)
            for concurrency in mode.concurrencies:
                times = await _config(steps, concurrency, rounds)
                b, o = median(times["baseline"]), median(times["ours"])
                row = {
                    "shape": shape,
                    "n": n,
                    "concurrency": concurrency,
                    "rounds": rounds,
                    "baseline_us": b / n * 1e6,
                    "ours_us": o / n * 1e6,
                    "ratio": paired_ratio(times["ours"], times["baseline"]),
                    "ratio_of_medians": o / b,
                    "spread": max(spread(times["ours"]), spread(times["baseline"])),
                    "baseline_s": times["baseline"],
                    "ours_s": times["ours"],
                }
                rows.append(row)
                log(
                    f"  [{loop}] {shape:<11} n={n:<7} c={label(concurrency):<9} "
                    f"baseline {row['baseline_us']:6.2f} us/task  ours {row['ours_us']:6.2f} "
                    f"us/task  {fmt_ratio(row['ratio'])}"
                )
            del steps
    return rows


def _check(last: dict[str, Any], n: int) -> None:
    if len(last["baseline"]) != n or len(last["ours"]) != n:
        raise AssertionError("a runner did not return a result per task")
    bad = [k for k, r in last["ours"].items() if r.status is not TaskStatus.SUCCESS]
    if bad:
        raise AssertionError(f"{len(bad)} task(s) did not succeed, e.g. {bad[0]}")


def _growth(rows: list[dict[str, Any]], sizes: tuple[int, int]) -> list[dict[str, Any]]:
    small, large = sizes
    by = {(r["shape"], r["n"], r["concurrency"]): r for r in rows}
    out = []
    for (shape, n, c), r in by.items():
        if n != large or (shape, small, c) not in by:
            continue
        s = by[(shape, small, c)]
        out.append(
            {
                "shape": shape,
                "concurrency": c,
                "small": small,
                "large": large,
                "ours_growth": r["ours_us"] / s["ours_us"],
                "baseline_growth": r["baseline_us"] / s["baseline_us"],
                # the part of the growth that is flow-tui's own (asyncio, the allocator and
                # the caches slow the baseline down too when 100k tasks are in memory)
                "relative_growth": r["ratio"] / s["ratio"],
            }
        )
    return out


def run(mode: Mode, log: Log, loop: str = "asyncio") -> dict[str, Any]:
    rows = run_on(loop, lambda: _measure(mode, log, loop))
    ratios = [r["ratio"] for r in rows]
    worst = max(rows, key=lambda r: r["ratio"])
    return {
        "loop": loop,
        "sizes": list(mode.scheduler_sizes),
        "rounds": list(mode.scheduler_rounds),
        "rows": rows,
        "worst_ratio": worst["ratio"],
        "worst_config": {k: worst[k] for k in ("shape", "n", "concurrency")},
        "median_ratio": median(ratios),
        "target_ratio": RATIO_TARGET,
        "aim_ratio": RATIO_AIM,
        "passed": worst["ratio"] <= RATIO_TARGET,
        "growth": _growth(rows, mode.scheduler_sizes),
    }


def run_uvloop(mode: Mode, log: Log, on_asyncio: dict[str, Any] | None = None) -> dict[str, Any]:
    if uvloop_factory() is None:
        return {"status": "uvloop not installed"}
    figures = run(mode, log, loop="uvloop")
    figures["status"] = "measured"
    if on_asyncio and "rows" in on_asyncio:
        # The same configurations on both loops: how much uvloop buys each runner.
        before = {(r["shape"], r["n"], r["concurrency"]): r for r in on_asyncio["rows"]}
        speedups = []
        for r in figures["rows"]:
            a = before.get((r["shape"], r["n"], r["concurrency"]))
            if a is not None:
                speedups.append(
                    {
                        "shape": r["shape"],
                        "n": r["n"],
                        "concurrency": r["concurrency"],
                        "ours": a["ours_us"] / r["ours_us"],
                        "baseline": a["baseline_us"] / r["baseline_us"],
                    }
                )
        figures["speedup_over_asyncio"] = speedups
        if speedups:
            figures["median_speedup"] = {
                "ours": median([x["ours"] for x in speedups]),
                "baseline": median([x["baseline"] for x in speedups]),
            }
    return figures


def growth_figures(scheduler: dict[str, Any]) -> dict[str, Any]:
    growth = scheduler["growth"]
    if not growth:
        return {"status": "needs two sizes", "rows": []}
    worst = max(growth, key=lambda g: g["ours_growth"])
    worst_base = max(growth, key=lambda g: g["baseline_growth"])
    worst_rel = max(growth, key=lambda g: g["relative_growth"])
    return {
        "rows": growth,
        "sizes": scheduler["sizes"],
        "worst": worst["ours_growth"],
        "worst_config": {"shape": worst["shape"], "concurrency": worst["concurrency"]},
        "baseline_worst": worst_base["baseline_growth"],
        "baseline_worst_config": {
            "shape": worst_base["shape"],
            "concurrency": worst_base["concurrency"],
        },
        "worst_relative": worst_rel["relative_growth"],
        "worst_relative_config": {
            "shape": worst_rel["shape"],
            "concurrency": worst_rel["concurrency"],
        },
        "target": GROWTH_TARGET,
        "passed": worst["ours_growth"] <= GROWTH_TARGET,
        "passed_relative": worst_rel["relative_growth"] <= GROWTH_TARGET,
    }


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def summarize(figures: dict[str, Any], case: str = "scheduler overhead") -> list[Row]:
    if figures.get("status") == "uvloop not installed":
        return [Row(case, "us/task, ratio to the baseline", "uvloop not installed", "—", None)]
    out = []
    rows = figures["rows"]
    speed = figures.get("median_speedup")
    if speed:
        out.append(
            Row(
                case,
                "us/task on uvloop vs on asyncio, median over the configurations",
                f"flow-tui {speed['ours']:.2f}x faster, baseline {speed['baseline']:.2f}x faster",
                "reported",
                None,
            )
        )
    for shape in SHAPES:
        mine = [r for r in rows if r["shape"] == shape]
        if not mine:
            continue
        worst = max(mine, key=lambda r: r["ratio"])
        lo, hi = min(r["ratio"] for r in mine), worst["ratio"]
        ours = [r["ours_us"] for r in mine]
        base = [r["baseline_us"] for r in mine]
        sizes = "/".join(_k(n) for n in figures["sizes"])
        conc = "/".join(sorted({label(r["concurrency"]) for r in mine}))
        out.append(
            Row(
                case,
                f"{shape}, {sizes} tasks, concurrency {conc}: ratio to the baseline",
                f"{lo:.2f}-{hi:.2f}x (worst {_k(worst['n'])} c={label(worst['concurrency'])});"
                f" ours {min(ours):.1f}-{max(ours):.1f} us/task, baseline "
                f"{min(base):.1f}-{max(base):.1f}",
                f"<= {RATIO_TARGET}x (aim {RATIO_AIM}x)",
                hi <= RATIO_TARGET,
            )
        )
    return out


def summarize_growth(figures: dict[str, Any]) -> list[Row]:
    if not figures.get("rows"):
        return [Row("growth", "us/task large vs small", "not measured", "<= 1.25x", None)]
    small, large = figures["sizes"]
    cfg = figures["worst_config"]
    base = figures["baseline_worst_config"]
    rel = figures["worst_relative_config"]
    return [
        Row(
            "growth",
            f"us/task at {_k(large)} vs {_k(small)}, worst shape (raw)",
            f"{figures['worst']:.2f}x ({cfg['shape']}, c={label(cfg['concurrency'])}); the "
            f"baseline itself grows up to {figures['baseline_worst']:.2f}x ({base['shape']}, "
            f"c={label(base['concurrency'])})",
            f"<= {GROWTH_TARGET}x",
            figures["passed"],
        ),
        Row(
            "growth",
            f"ratio to the baseline at {_k(large)} vs at {_k(small)}, worst shape "
            "(flow-tui's own growth)",
            f"{figures['worst_relative']:.2f}x ({rel['shape']}, c={label(rel['concurrency'])})",
            f"<= {GROWTH_TARGET}x",
            figures["passed_relative"],
        ),
    ]


def details(figures: dict[str, Any], title: str = "scheduler overhead") -> list[Any]:
    if "rows" not in figures:
        return []
    rows = [
        [
            r["shape"],
            r["n"],
            label(r["concurrency"]),
            f"{r['baseline_us']:.2f}",
            f"{r['ours_us']:.2f}",
            fmt_ratio(r["ratio"]),
            f"{r['rounds']}",
            f"{r['spread'] * 100:.0f}%",
        ]
        for r in figures["rows"]
    ]
    headers = (
        "shape",
        "tasks",
        "concurrency",
        "baseline us/task",
        "ours us/task",
        "ratio",
        "rounds",
        "spread",
    )
    title = (
        f"{title} ({figures['loop']}; us/task: medians; ratio: median of the per-round "
        "ratios; spread: (max-min)/median of the noisier side)"
    )
    out = [(title, headers, rows)]
    growth = figures.get("growth") or []
    if growth:
        out.append(
            (
                f"growth (us/task at {growth[0]['large']} / at {growth[0]['small']})",
                ("shape", "concurrency", "ours", "baseline", "ratio to baseline"),
                [
                    [
                        g["shape"],
                        label(g["concurrency"]),
                        fmt_ratio(g["ours_growth"]),
                        fmt_ratio(g["baseline_growth"]),
                        fmt_ratio(g["relative_growth"]),
                    ]
                    for g in growth
                ],
            )
        )
    return out
