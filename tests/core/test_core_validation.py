"""The graph is validated before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from flow_tui import TaskRunner, TaskRunnerBuilder, TaskStep, WorkflowValidationError

calls: list[str] = []


def step(name: str, *deps: str) -> TaskStep[Any]:
    def body(ctx: object) -> None:
        calls.append(name)

    return TaskStep(name, body, dependencies=deps)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    calls.clear()


async def expect_invalid(steps: list[TaskStep[Any]]) -> str:
    runner = TaskRunnerBuilder(None).build()
    with pytest.raises(WorkflowValidationError) as info:
        await runner.execute(steps)
    assert calls == [], "nothing may run when the graph is invalid"
    assert isinstance(info.value, ValueError)
    return str(info.value)


async def test_cycle_names_the_tasks_on_it_and_only_those() -> None:
    message = await expect_invalid(
        [
            step("root"),
            step("parse", "root", "enrich"),
            step("clean", "parse"),
            step("enrich", "clean"),
            step("leaf", "enrich"),
        ]
    )
    assert "cycle" in message
    for name in ("parse", "clean", "enrich"):
        assert name in message
    assert "root" not in message
    assert "leaf" not in message
    assert "\n" not in message


async def test_two_task_cycle() -> None:
    message = await expect_invalid([step("ping", "pong"), step("pong", "ping")])
    assert "ping" in message and "pong" in message


async def test_missing_dependency_names_both_tasks() -> None:
    message = await expect_invalid([step("load"), step("report", "transfrom")])
    assert "'report'" in message
    assert "'transfrom'" in message


async def test_duplicate_names() -> None:
    message = await expect_invalid([step("a"), step("b"), step("a")])
    assert "duplicate" in message
    assert "'a'" in message


async def test_self_dependency() -> None:
    message = await expect_invalid([step("a", "a")])
    assert "'a'" in message
    assert "itself" in message


async def test_a_non_step_is_rejected() -> None:
    message = await expect_invalid([step("a"), "b"])  # type: ignore[list-item]
    assert "TaskStep" in message


def test_mermaid_validates_too() -> None:
    with pytest.raises(WorkflowValidationError):
        TaskRunner.mermaid([step("a", "b"), step("b", "a")])


async def test_a_valid_graph_with_repeated_dependency_runs() -> None:
    runner = TaskRunnerBuilder(None).build()
    results = await runner.execute([step("a"), step("b", "a", "a")])
    assert calls == ["a", "b"]
    assert all(r.ok for r in results.values())


async def test_empty_workflow_returns_no_results() -> None:
    assert await TaskRunnerBuilder(None).build().execute([]) == {}


async def test_bad_arguments_to_execute() -> None:
    runner = TaskRunnerBuilder(None).build()
    with pytest.raises(ValueError):
        await runner.execute([step("a")], concurrency=0)
    with pytest.raises(ValueError):
        await runner.execute([step("a")], timeout=0)
    assert calls == []
