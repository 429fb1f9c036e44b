"""The public value types: TaskStatus, TaskResult, TaskStep, the policies, metrics."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any

import pytest

import flow_tui
from flow_tui import (
    LoopPolicy,
    RetryPolicy,
    TaskMetrics,
    TaskResult,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
)


def test_public_names_are_importable_from_the_package() -> None:
    for name in (
        "TaskRunner",
        "TaskRunnerBuilder",
        "TaskStep",
        "TaskResult",
        "TaskStatus",
        "RetryPolicy",
        "LoopPolicy",
        "Snapshot",
        "SnapshotError",
        "WorkflowValidationError",
        "Workflow",
    ):
        assert hasattr(flow_tui, name), name


def test_task_status_is_exactly_the_reference_four() -> None:
    assert {s.value for s in TaskStatus} == {"success", "failure", "skipped", "cancelled"}
    status: str = TaskStatus.SUCCESS
    assert status == "success"
    assert TaskStatus("failure") is TaskStatus.FAILURE
    assert isinstance(TaskStatus.SKIPPED, str)


def test_task_result_fields_and_defaults() -> None:
    result = TaskResult(TaskStatus.SUCCESS)
    assert result.message is None
    assert result.error is None
    assert result.data is None
    assert result.metrics is None
    fields = [f.name for f in dataclasses.fields(TaskResult)]
    assert fields[:5] == ["status", "message", "error", "data", "metrics"]
    assert result.ok
    assert not TaskResult(TaskStatus.FAILURE, error="boom").ok


def test_task_step_defaults() -> None:
    def body(ctx: object) -> None:
        return None

    step = TaskStep(name="a", run=body)
    assert step.run is body
    assert tuple(step.dependencies) == ()
    assert step.retry is None
    assert step.loop is None
    assert step.condition is None
    assert step.priority == 0
    assert step.continue_on_error is False
    assert step.timeout is None
    assert step.idempotent is True
    assert step.version is None
    assert tuple(step.tags) == ()


def test_task_step_takes_a_single_dependency_as_a_string() -> None:
    step: TaskStep[None] = TaskStep("b", lambda ctx: None, dependencies="extract")
    assert tuple(step.dependencies) == ("extract",)


@pytest.mark.parametrize("kwargs", [{"name": ""}, {"name": "a", "timeout": 0}])
def test_task_step_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TaskStep(run=lambda ctx: None, **kwargs)


def test_policies_reject_bad_values() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=-1)
    with pytest.raises(ValueError):
        RetryPolicy(delay=-0.5)
    with pytest.raises(ValueError):
        RetryPolicy(backoff="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LoopPolicy(until=lambda ctx, r: True, max_iterations=0)


def test_retry_policy_delays() -> None:
    fixed = RetryPolicy(attempts=3, delay=0.5)
    assert [fixed.delay_before(k) for k in (1, 2, 3)] == [0.5, 0.5, 0.5]
    exp = RetryPolicy(attempts=3, delay=0.5, backoff="exponential")
    assert [exp.delay_before(k) for k in (1, 2, 3)] == [0.5, 1.0, 2.0]
    capped = RetryPolicy(attempts=9, delay=1.0, backoff="exponential", max_delay=3.0)
    assert [capped.delay_before(k) for k in (1, 2, 3, 9)] == [1.0, 2.0, 3.0, 3.0]


async def test_every_result_carries_metrics() -> None:
    async def fine(ctx: object) -> int:
        return 1

    def boom(ctx: object) -> None:
        raise RuntimeError("no")

    steps: list[TaskStep[None]] = [
        TaskStep("ok", fine),
        TaskStep("bad", boom),
        TaskStep("after_bad", fine, dependencies=["bad"]),
        TaskStep("off", fine, condition=lambda ctx: False),
    ]
    results = await TaskRunnerBuilder(None).build().execute(steps)
    assert set(results) == {"ok", "bad", "after_bad", "off"}
    for name, result in results.items():
        m = result.metrics
        assert isinstance(m, TaskMetrics), name
        assert m.started_at is not None and m.finished_at is not None, name
        assert m.started_at.utcoffset() is not None, name
        assert m.started_at.tzinfo is not None
        assert m.started_at.utcoffset().total_seconds() == 0, name  # type: ignore[union-attr]
        assert m.finished_at >= m.started_at, name
        assert m.duration_ms >= 0.0, name
    assert results["ok"].metrics.attempts == 1  # type: ignore[union-attr]
    assert results["bad"].metrics.attempts == 1  # type: ignore[union-attr]
    assert results["after_bad"].metrics.attempts == 0  # type: ignore[union-attr]
    assert results["ok"].metrics.started_at.tzinfo == UTC  # type: ignore[union-attr]


async def test_duration_reflects_the_work_done() -> None:
    import asyncio

    async def work(ctx: object) -> None:
        await asyncio.sleep(0.03)

    results = await TaskRunnerBuilder(None).build().execute([TaskStep("w", work)])
    m = results["w"].metrics
    assert m is not None and m.started_at and m.finished_at
    assert m.duration_ms >= 29.0
    assert (m.finished_at - m.started_at).total_seconds() * 1000 >= 29.0
