"""The timeline view's cost: a run under the dashboard with the timeline open vs the
same run headless, keys in the timeline while events stream, and the timeline of
50,000 attempts (rebuild, one screen drawn).

    python -m benchmarks.timeline_cost            # about a minute on 2 cores
    python -m benchmarks.timeline_cost --quick

Workloads are benchmarks/dashboard.py's (large_graph-like, concurrency 64):
- "no-op burst": 5000 no-op tasks, the run started once the app (and the timeline,
  opened first) settled; the slowdown of the best runs (other processes only add time);
- "2 ms tasks": 5000 tasks at a few thousand a second;
- keys: while 5000 10 ms tasks stream, `right` / `left` move the timeline's cursor;
  the time until the canvas's handler runs.
Targets (issue 14): slowdown <= 1.2x with the timeline open, a key answered within
100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from benchmarks.dashboard import (
    LATENCY_TARGET_MS,
    SLOWDOWN_TARGET,
    TimedDashboard,
    large_graph,
    run_headless,
    run_to_its_end,
)
from flow_tui import TaskStep, Workflow
from flow_tui.core.events import TaskEnd, TaskStart
from flow_tui.core.model import TaskResult, TaskStatus
from flow_tui.session import Session
from flow_tui.tui.attempts import AttemptLog
from flow_tui.tui.clock import ManualClock
from flow_tui.tui.timeline_view import TimelineCanvas, TimelineScreen


async def run_with_timeline(workflow: Workflow) -> tuple[float, float, int]:
    """(runner wall time, CPU time while it ran, timeline rebuilds) under the app with
    the timeline open from before the start."""
    app = TimedDashboard(Session.open(workflow), autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.action_timeline()
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        cpu = await run_to_its_end(app)
        await pilot.pause()
        builds = screen.canvas.builds
    return app.session.elapsed(), cpu, builds


async def compare(workflow: Workflow, rounds: int) -> dict[str, Any]:
    headless: list[float] = []
    dashboard: list[float] = []
    cpu_ratios: list[float] = []
    builds = 0
    for r in range(rounds):
        if r % 2:
            d, d_cpu, builds = await run_with_timeline(workflow)
            h, h_cpu = await run_headless(workflow)
        else:
            h, h_cpu = await run_headless(workflow)
            d, d_cpu, builds = await run_with_timeline(workflow)
        headless.append(h)
        dashboard.append(d)
        cpu_ratios.append(d_cpu / h_cpu if h_cpu else float("nan"))
    return {
        "tasks": len(workflow.steps),
        "rounds": rounds,
        "headless_best_s": round(min(headless), 4),
        "timeline_best_s": round(min(dashboard), 4),
        "slowdown_of_bests": round(min(dashboard) / min(headless), 3),
        "slowdown_median": round(
            statistics.median(d / h for d, h in zip(dashboard, headless, strict=True)), 3
        ),
        "cpu_slowdown": round(statistics.median(cpu_ratios), 3),
        "timeline_rebuilds_last_run": builds,
    }


async def key_latency(workflow: Workflow, samples: int) -> dict[str, Any]:
    app = TimedDashboard(Session.open(workflow), autostart=False)
    waits: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.action_timeline()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        canvas = screen.query_one(TimelineCanvas)
        handled: list[float] = []
        original = canvas.action_bar

        def timed(step: int) -> None:
            handled.append(time.perf_counter())
            original(step)

        canvas.action_bar = timed  # type: ignore[method-assign]
        app.start_run()
        session = app.session
        while not session.is_running:
            await asyncio.sleep(0.001)
        loop = asyncio.get_running_loop()
        presses: set[asyncio.Future[None]] = set()
        turn = 0
        while session.is_running and len(waits) < samples:
            seen = len(handled)
            start = time.perf_counter()
            key = "right" if turn % 2 == 0 else "left"
            presses.add(asyncio.ensure_future(pilot.press(key)))
            deadline = loop.time() + 2.0
            while len(handled) == seen and loop.time() < deadline:
                await asyncio.sleep(0.0005)
            if len(handled) > seen:
                waits.append(handled[seen] - start)
            turn += 1
            await asyncio.sleep(0.05)
        await app.wait_for_run()
        await asyncio.gather(*presses)
    ordered = sorted(waits) or [float("nan")]
    return {
        "n": len(waits),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2),
        "max_ms": round(max(ordered) * 1000, 2),
    }


def fifty_thousand() -> tuple[AttemptLog, ManualClock]:
    """50,000 attempts, 64 at a time, 1 s each (as tests/tui/test_tui_timeline.py)."""
    clock = ManualClock()
    history = AttemptLog(clock)
    done = TaskResult(TaskStatus.SUCCESS)
    ends: list[tuple[float, TaskStep[Any]]] = []
    for i in range(50_000):
        step: TaskStep[Any] = TaskStep(f"t{i:05d}", lambda ctx: None)
        now = i / 64
        while ends and ends[0][0] <= now:
            clock.t, ended = ends.pop(0)
            history(TaskEnd(ended, done))
        clock.t = now
        history(TaskStart(step))
        ends.append((now + 1.0, step))
    for clock.t, ended in ends:
        history(TaskEnd(ended, done))
    return history, clock


async def large() -> dict[str, Any]:
    from textual.app import App

    history, clock = fifty_thousand()
    screen = TimelineScreen(history, clock.monotonic, None)

    class Only(App[None]):
        def on_mount(self) -> None:
            self.push_screen(screen)

    app = Only()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        canvas = screen.canvas
        began = time.perf_counter()
        canvas.rebuild()
        rebuild = time.perf_counter() - began
        for key in ("plus", "plus", "plus", "plus", "plus"):
            await pilot.press(key)
        await pilot.press("end")
        began = time.perf_counter()
        for y in range(canvas.size.height):
            canvas.render_line(y)
        screenful = time.perf_counter() - began
    return {
        "attempts": len(canvas.bars),
        "lanes": canvas.lanes,
        "rebuild_ms": round(rebuild * 1000, 1),
        "one_screen_drawn_ms": round(screenful * 1000, 2),
    }


async def summary(quick: bool) -> dict[str, Any]:
    rounds = 5 if quick else 11
    tasks = 5000
    return {
        "burst": await compare(large_graph(tasks, 0.0), rounds),
        "paced": await compare(large_graph(tasks, 0.002), max(3, rounds // 2)),
        "keys": await key_latency(large_graph(tasks, 0.01), 15 if quick else 30),
        "fifty_thousand": await large(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples")
    args = parser.parse_args(argv)
    figures = asyncio.run(summary(args.quick))
    print("timeline benchmark: large_graph-like workflows (width 100, 2 deps), concurrency 64")
    for name in ("burst", "paced"):
        f = figures[name]
        print(
            f"  {name:6} {f['tasks']} tasks: headless {f['headless_best_s'] * 1000:7.1f} ms, "
            f"timeline open {f['timeline_best_s'] * 1000:7.1f} ms: slowdown of bests "
            f"{f['slowdown_of_bests']:.2f}x (CPU {f['cpu_slowdown']:.2f}x), "
            f"{f['timeline_rebuilds_last_run']} rebuilds"
        )
    k = figures["keys"]
    print(
        f"  keys in the timeline while 10 ms tasks stream: n={k['n']} median "
        f"{k['median_ms']} ms, p95 {k['p95_ms']} ms, max {k['max_ms']} ms "
        f"(target <= {LATENCY_TARGET_MS:g} ms)"
    )
    big = figures["fifty_thousand"]
    print(
        f"  50k attempts in {big['lanes']} lanes: rebuild {big['rebuild_ms']} ms, one "
        f"screen (80x24) drawn in {big['one_screen_drawn_ms']} ms"
    )
    burst = figures["burst"]["slowdown_of_bests"]
    print(f"  target <= {SLOWDOWN_TARGET}x: {'ok' if burst <= SLOWDOWN_TARGET else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
