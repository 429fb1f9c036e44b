"""What core answers when asked: run status, threads still busy, metrics' clock readings,
and the state that only its own methods change."""

from __future__ import annotations

import ast
import asyncio
import graphlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import flow_tui.core
from flow_tui import (
    TaskMetrics,
    TaskResult,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
)
from flow_tui.core import RunStatus, TaskStateManager, WorkflowEnd


async def noop(ctx: object) -> None:
    return None


async def fail(ctx: object) -> None:
    raise RuntimeError("no")


def test_run_status_values_are_the_status_strings() -> None:
    assert [s.value for s in RunStatus] == [
        "pending",
        "running",
        "paused",
        "finished",
        "failed",
        "cancelled",
    ]
    assert [s for s in RunStatus if s.is_over] == [
        RunStatus.FINISHED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
    ]


async def test_runner_status_through_a_run() -> None:
    seen: list[RunStatus] = []
    ends: list[WorkflowEnd] = []
    runner = TaskRunnerBuilder(None).on("workflow_end", ends.append).build()

    async def body(ctx: object) -> None:
        seen.append(runner.status)

    statuses = [runner.status]
    runner.pause()
    statuses.append(runner.status)
    runner.resume()
    statuses.append(runner.status)
    assert statuses == [RunStatus.PENDING, RunStatus.PAUSED, RunStatus.PENDING]
    gate = asyncio.Event()

    async def wait(ctx: object) -> None:
        await gate.wait()

    after: list[RunStatus] = []
    await runner.execute([TaskStep("a", body)])
    after.append(runner.status)
    assert runner.snapshot().status == "finished"
    await runner.execute([TaskStep("b", fail)])
    after.append(runner.status)
    await runner.execute([TaskStep("c", wait)], timeout=0.01)
    after.append(runner.status)
    assert seen == [RunStatus.RUNNING]
    assert after == [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELLED]
    assert [e.status for e in ends] == after


async def test_a_paused_run_says_so_and_resumes_running() -> None:
    runner = TaskRunnerBuilder(None).build()
    statuses: list[RunStatus] = []

    async def first(ctx: object) -> None:
        runner.pause()
        statuses.append(runner.status)
        asyncio.get_running_loop().call_later(0.01, runner.resume)

    async def second(ctx: object) -> None:
        statuses.append(runner.status)

    await runner.execute([TaskStep("a", first), TaskStep("b", second, ["a"])])
    assert statuses == [RunStatus.PAUSED, RunStatus.RUNNING]


async def test_busy_threads_counts_sync_bodies_still_running() -> None:
    release = threading.Event()
    started = threading.Event()

    def stubborn(ctx: object) -> None:
        started.set()
        release.wait(10)

    runner = TaskRunnerBuilder(None).build()
    assert runner.busy_threads == 0
    run = asyncio.ensure_future(runner.execute([TaskStep("s", stubborn)]))
    while not started.is_set():
        await asyncio.sleep(0.001)
    assert runner.busy_threads == 1
    runner.cancel()
    await run  # the run ends; the thread does not
    assert runner.busy_threads == 1
    release.set()
    deadline = time.monotonic() + 5
    while runner.busy_threads and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    assert runner.busy_threads == 0


async def test_busy_threads_is_zero_for_an_invoker_without_threads() -> None:
    class Remote:
        def invoke(self, step: TaskStep[object], context: object) -> asyncio.Future[None]:
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    runner = TaskRunnerBuilder(None).with_invoker(Remote()).build()
    await runner.execute([TaskStep("a", noop)])
    assert runner.busy_threads == 0


async def test_executor_metrics_give_their_clock_reading() -> None:
    before = time.time()
    results = await TaskRunnerBuilder(None).build().execute([TaskStep("a", noop)])
    metrics = results["a"].metrics
    assert metrics is not None
    started_ts = metrics.started_ts
    assert started_ts is not None and before <= started_ts <= time.time()
    assert metrics.started_at == datetime.fromtimestamp(started_ts, UTC)
    assert metrics.finished_at == datetime.fromtimestamp(
        started_ts + metrics.duration_ms / 1000.0, UTC
    )
    now = datetime.now(UTC)
    assert TaskMetrics(now, now, 0.0, 1).started_ts is None


def test_state_status_changes_only_through_its_methods() -> None:
    state = TaskStateManager()
    assert state.status is RunStatus.PENDING
    with pytest.raises(AttributeError):
        state.status = RunStatus.RUNNING  # type: ignore[misc]
    state.set_status(RunStatus.PAUSED)
    assert state.status is RunStatus.PAUSED
    assert state.finish(cancelled=True) is RunStatus.CANCELLED
    assert state.finish(cancelled=False) is RunStatus.FINISHED  # no result failed


async def test_a_failure_the_run_continued_past_still_fails_the_run() -> None:
    runner = TaskRunnerBuilder[object](None).build()
    steps = [TaskStep("a", fail, continue_on_error=True), TaskStep("b", noop, ["a"])]
    results = await runner.execute(steps)
    assert results["b"].status is TaskStatus.SUCCESS
    assert runner.status is RunStatus.FAILED


async def test_a_task_skipped_by_its_condition_does_not_fail_the_run() -> None:
    runner = TaskRunnerBuilder(None).build()
    results = await runner.execute([TaskStep("a", noop, condition=lambda c: False)])
    assert results["a"].status is TaskStatus.SKIPPED
    assert runner.status is RunStatus.FINISHED


async def test_a_body_returning_a_result_keeps_it() -> None:
    async def custom(ctx: object) -> TaskResult:
        return TaskResult(TaskStatus.SUCCESS, message="m")

    results = await TaskRunnerBuilder(None).build().execute([TaskStep("a", custom)])
    assert results["a"].message == "m" and results["a"].metrics is not None


def test_core_modules_import_each_other_without_a_circle() -> None:
    # Every import counts, also one made only for type checking or inside a function:
    # the circle events -> runner -> executor -> events was one such import.
    core = Path(flow_tui.core.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in core.glob("*.py"):
        if path.stem == "__init__":
            continue
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found.update(
                n.removeprefix("flow_tui.core.") for n in names if n.startswith("flow_tui.core.")
            )
        imports[path.stem] = found
    assert "runner" not in imports["events"] and "runner" not in imports["plugins"]
    try:
        list(graphlib.TopologicalSorter(imports).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"core modules import each other in a circle: {exc.args[1]}")
