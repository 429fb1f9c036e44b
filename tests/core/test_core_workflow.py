"""The Workflow class: list form and decorator form."""

from __future__ import annotations

from typing import Any

import pytest

from flow_tui import (
    RetryPolicy,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
    Workflow,
    WorkflowValidationError,
)


async def run(wf: Workflow) -> dict[str, Any]:
    runner = TaskRunnerBuilder(wf.make_context()).with_workflow_name(wf.name).build()
    results = await runner.execute(wf.steps, concurrency=wf.concurrency, timeout=wf.timeout)
    assert runner.snapshot().workflow == wf.name
    return results


async def test_list_form() -> None:
    def extract(ctx: dict[str, Any]) -> list[int]:
        rows = [1, 2, 3]
        ctx["rows"] = rows
        return rows

    async def total(ctx: dict[str, Any]) -> int:
        return sum(ctx["rows"])

    wf = Workflow(
        name="etl",
        steps=[TaskStep("extract", extract), TaskStep("total", total, dependencies=["extract"])],
        context=dict,
        concurrency=2,
    )
    assert wf.concurrency == 2
    assert wf.save_context is None and wf.restore_context is None
    results = await run(wf)
    assert results["total"].data == 6
    assert wf.step("total").dependencies == ("extract",)
    with pytest.raises(KeyError):
        wf.step("nope")


async def test_context_factory_is_called_once_per_run() -> None:
    made: list[dict[str, int]] = []

    def factory() -> dict[str, int]:
        made.append({})
        return made[-1]

    wf = Workflow(name="w", steps=[TaskStep("a", lambda c: c.setdefault("n", 1))], context=factory)
    await run(wf)
    await run(wf)
    assert len(made) == 2
    assert made[0] is not made[1]
    assert Workflow(name="none").make_context() is None


async def test_decorator_form_bare_and_with_options() -> None:
    wf = Workflow(name="nightly", context=dict)
    calls: list[str] = []

    @wf.task
    async def extract(ctx: dict[str, Any]) -> int:
        calls.append("extract")
        return 10

    @wf.task(dependencies=["extract"], retry=RetryPolicy(attempts=2), priority=3, version="2")
    def transform(ctx: dict[str, Any]) -> int:
        calls.append("transform")
        if calls.count("transform") == 1:
            raise RuntimeError("flaky")
        return 20

    @wf.task(name="load-all", dependencies=["transform"], tags=["io"])
    async def load(ctx: dict[str, Any]) -> str:
        calls.append("load")
        return "loaded"

    # The decorator returns the function unchanged.
    assert callable(extract) and extract.__name__ == "extract"
    assert [s.name for s in wf.steps] == ["extract", "transform", "load-all"]
    step = wf.step("transform")
    assert step.run is transform
    assert step.retry is not None and step.retry.attempts == 2
    assert step.priority == 3 and step.version == "2"
    assert wf.step("load-all").tags == ("io",)

    results = await run(wf)
    assert calls == ["extract", "transform", "transform", "load"]
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert results["load-all"].data == "loaded"


def test_workflow_needs_a_name() -> None:
    with pytest.raises(ValueError):
        Workflow(name="  ")


def test_workflow_graph_is_built_once_and_again_when_the_steps_change() -> None:
    async def body(ctx: object) -> None:
        return None

    wf = Workflow(name="w", steps=[TaskStep("a", body), TaskStep("b", body, ["a"])])
    first = wf.graph()
    assert wf.graph() is first  # loading validated it; the run reuses that work
    wf.steps.append(TaskStep("c", body, ["b"]))
    assert list(wf.graph().index) == ["a", "b", "c"]
    wf.steps[0] = TaskStep("a", body, ["c"])  # replaced in place: a cycle now
    with pytest.raises(WorkflowValidationError, match="cycle"):
        wf.graph()
