"""`upstream(name)`: the data of a finished declared dependency, in the local executor
(sync and async bodies); anything else is a clear UpstreamError. `TaskInterrupted` from an
invoker ends a task cancelled and interrupted (a lost remote worker)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest

from flow_tui import (
    TaskResult,
    TaskRunner,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
    UpstreamError,
    upstream,
)
from flow_tui.core.graph import build_graph
from flow_tui.core.invoke import LocalInvoker, TaskInterrupted
from flow_tui.core.resume import plan_resume
from flow_tui.core.workflow import Workflow


async def test_upstream_reads_the_data_of_declared_dependencies() -> None:
    async def extract(ctx: Any) -> list[int]:
        return [1, 2, 3]

    def double(ctx: Any) -> list[int]:  # a sync body, in a worker thread
        return [2 * x for x in upstream("extract")]

    async def total(ctx: Any) -> int:
        return sum(upstream("extract")) + sum(upstream("double"))

    steps = [
        TaskStep("extract", extract),
        TaskStep("double", double, dependencies=["extract"]),
        TaskStep("total", total, dependencies=["extract", "double"]),
    ]
    results = await TaskRunnerBuilder().build().execute(steps)
    assert results["double"].data == [2, 4, 6]
    assert results["total"].data == 18


async def test_upstream_of_a_task_that_is_not_a_dependency_fails_the_task_clearly() -> None:
    def sneaky(ctx: Any) -> Any:
        return upstream("a")

    steps = [TaskStep("a", lambda ctx: 1), TaskStep("b", sneaky)]
    results = await TaskRunnerBuilder().build().execute(steps)
    assert results["b"].status is TaskStatus.FAILURE
    assert results["b"].error is not None
    assert "UpstreamError" in results["b"].error
    assert "'a' is not one of its declared dependencies" in results["b"].error


def test_upstream_outside_a_task_body_raises() -> None:
    with pytest.raises(UpstreamError, match="inside a task body"):
        upstream("a")


async def test_upstream_of_a_kept_result_on_resume() -> None:
    steps: list[TaskStep[Any]] = [
        TaskStep("a", lambda ctx: 1),
        TaskStep("b", lambda ctx: upstream("a") + 1, dependencies=["a"]),
    ]
    saved = {"a": TaskResult(TaskStatus.SUCCESS, data=41)}
    results = await TaskRunnerBuilder().with_snapshot(saved).build().execute(steps)
    assert results["b"].data == 42


def test_workflow_task_decorator_takes_local() -> None:
    wf = Workflow(name="w")

    @wf.task(local=True)
    def here(ctx: Any) -> None:
        return None

    assert wf.step("here").local is True
    assert TaskStep("x", here).local is False


class LostWorkerInvoker(LocalInvoker):
    """Raises TaskInterrupted for the tasks named, as a remote invoker does for a body
    whose worker was lost."""

    def __init__(self, lost: set[str]) -> None:
        super().__init__()
        self.lost = lost

    def invoke(self, step: TaskStep[Any], context: Any) -> Awaitable[Any]:
        if step.name in self.lost:
            return self._lose(step)
        return super().invoke(step, context)

    async def _lose(self, step: TaskStep[Any]) -> Any:
        raise TaskInterrupted(f"task {step.name!r}: its worker was lost mid-body")


async def test_task_interrupted_ends_the_task_interrupted_and_needing_consent() -> None:
    steps: list[TaskStep[Any]] = [
        TaskStep("charge", lambda ctx: 1, idempotent=False),
        TaskStep("email", lambda ctx: 2, dependencies=["charge"]),
        TaskStep("other", lambda ctx: 3),
    ]
    ends: list[tuple[str, bool]] = []
    runner: TaskRunner[Any] = (
        TaskRunnerBuilder()
        .with_invoker(LostWorkerInvoker({"charge"}))
        .on("task_end", lambda e: ends.append((e.step.name, e.interrupted)))
        .build()
    )
    results = await runner.execute(steps)
    assert results["charge"].status is TaskStatus.CANCELLED
    assert results["charge"].message == "task 'charge': its worker was lost mid-body"
    assert results["email"].status is TaskStatus.SKIPPED
    assert results["other"].status is TaskStatus.SUCCESS
    assert ("charge", True) in ends
    snap = runner.snapshot()
    assert snap.interrupted == ["charge"]
    # Like after a crash: resuming needs consent for the non-idempotent task.
    plan = plan_resume(snap, build_graph(steps))
    assert plan.needs_consent == ["charge"]
