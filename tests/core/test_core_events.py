"""Events, sync and async callbacks, failing callbacks, plugins."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from flow_tui import RetryPolicy, TaskResult, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import (
    PluginContext,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowEnd,
    WorkflowPaused,
    WorkflowResumed,
    WorkflowStart,
)

ALL_EVENTS = (
    "workflow_start",
    "workflow_end",
    "task_start",
    "task_end",
    "task_skipped",
    "task_retry",
    "workflow_paused",
    "workflow_resumed",
)


async def test_all_eight_events_fire_with_their_fields() -> None:
    seen: dict[str, list[Any]] = {name: [] for name in ALL_EVENTS}
    builder = TaskRunnerBuilder(None)
    for name in ALL_EVENTS:
        builder.on(name, seen[name].append)
    runner = builder.build()
    flaky_calls: list[int] = []

    async def flaky(ctx: object) -> str:
        flaky_calls.append(1)
        if len(flaky_calls) == 1:
            raise RuntimeError("first try fails")
        return "ok"

    def pause_and_resume(event: TaskStart) -> None:
        if event.step.name == "first":
            runner.pause()
            runner.resume()

    runner.events.on("task_start", pause_and_resume)

    async def boom(ctx: object) -> None:
        raise RuntimeError("boom")

    steps: list[TaskStep[None]] = [
        TaskStep("first", lambda c: 1),
        TaskStep("flaky", flaky, dependencies=["first"], retry=RetryPolicy(attempts=1)),
        TaskStep("broken", boom),
        TaskStep("downstream", lambda c: 2, dependencies=["broken"]),
    ]
    results = await runner.execute(steps)

    (start,) = seen["workflow_start"]
    assert isinstance(start, WorkflowStart)
    assert [s.name for s in start.steps] == ["first", "flaky", "broken", "downstream"]
    (end,) = seen["workflow_end"]
    assert isinstance(end, WorkflowEnd)
    assert end.results == results
    assert end.status == "failed"
    assert all(isinstance(e, TaskStart) for e in seen["task_start"])
    assert sorted(e.step.name for e in seen["task_start"]) == ["broken", "first", "flaky"]
    assert all(e.attempt == 1 for e in seen["task_start"])
    ends = {e.step.name: e for e in seen["task_end"]}
    assert all(isinstance(e, TaskEnd) for e in ends.values())
    assert set(ends) == {"first", "flaky", "broken"}
    assert ends["flaky"].result is results["flaky"]
    assert ends["broken"].result.status is TaskStatus.FAILURE
    (skip,) = seen["task_skipped"]
    assert isinstance(skip, TaskSkipped)
    assert skip.step.name == "downstream"
    assert skip.result.status is TaskStatus.SKIPPED
    (retry,) = seen["task_retry"]
    assert isinstance(retry, TaskRetry)
    assert retry.step.name == "flaky" and retry.attempt == 2
    assert retry.result.error == "RuntimeError: first try fails"
    (paused,) = seen["workflow_paused"]
    assert isinstance(paused, WorkflowPaused)
    assert paused.interrupt is False
    assert "first" in paused.running
    (resumed,) = seen["workflow_resumed"]
    assert isinstance(resumed, WorkflowResumed)


async def test_event_order_for_a_chain() -> None:
    log: list[str] = []
    runner = TaskRunnerBuilder(None).on("*", lambda e: log.append(e.name)).build()
    await runner.execute([TaskStep("a", lambda c: 1), TaskStep("b", lambda c: 2, dependencies="a")])
    assert log == [
        "workflow_start",
        "task_start",
        "task_end",
        "task_start",
        "task_end",
        "workflow_end",
    ]


async def test_workflow_end_status_finished_when_everything_succeeds() -> None:
    ends: list[WorkflowEnd] = []
    runner = TaskRunnerBuilder(None).on("workflow_end", ends.append).build()
    await runner.execute([TaskStep("a", lambda c: 1)])
    assert ends[0].status == "finished"
    assert runner.snapshot().status == "finished"


async def test_async_callbacks_are_awaited_before_execute_returns() -> None:
    done: list[str] = []

    async def slow_listener(event: TaskEnd) -> None:
        await asyncio.sleep(0.01)
        done.append(event.step.name)

    runner = TaskRunnerBuilder(None).on("task_end", slow_listener).build()
    await runner.execute([TaskStep("a", lambda c: 1), TaskStep("b", lambda c: 2)])
    assert sorted(done) == ["a", "b"]


async def test_a_raising_callback_is_reported_and_never_breaks_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def bad_sync(event: Any) -> None:
        raise RuntimeError("sync listener bug")

    async def bad_async(event: Any) -> None:
        raise ValueError("async listener bug")

    later: list[str] = []
    runner = (
        TaskRunnerBuilder(None)
        .on("task_start", bad_sync)
        .on("task_end", bad_async)
        .on("task_end", bad_sync)
        .on("workflow_start", bad_sync)
        .on("workflow_end", bad_async)
        .on("task_end", lambda e: later.append(e.step.name))
        .build()
    )
    with caplog.at_level(logging.WARNING, logger="flow_tui.events"):
        results = await runner.execute(
            [TaskStep("a", lambda c: 1), TaskStep("b", lambda c: 2, dependencies=["a"])]
        )
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    # Later listeners still got their events.
    assert later == ["a", "b"]
    errors = runner.events.errors
    kinds = sorted({(name, type(exc).__name__) for name, exc in errors})
    assert kinds == [
        ("task_end", "RuntimeError"),
        ("task_end", "ValueError"),
        ("task_start", "RuntimeError"),
        ("workflow_end", "ValueError"),
        ("workflow_start", "RuntimeError"),
    ]
    assert "sync listener bug" in caplog.text
    assert "async listener bug" in caplog.text


def test_unknown_event_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="task_finished"):
        TaskRunnerBuilder(None).on("task_finished", print).build()


async def test_plugin_install_gets_the_runner_and_context_and_can_listen() -> None:
    class Counter:
        def __init__(self) -> None:
            self.installed: PluginContext | None = None
            self.ends: list[tuple[str, TaskStatus]] = []

        def install(self, context: PluginContext) -> None:
            self.installed = context
            context.on("task_end", self.on_end)

        def on_end(self, event: TaskEnd) -> None:
            self.ends.append((event.step.name, event.result.status))

    ctx = {"env": "test"}
    plugin = Counter()
    runner = TaskRunnerBuilder(ctx).use(plugin).build()
    assert plugin.installed is not None
    assert plugin.installed.context is ctx
    assert plugin.installed.runner is runner

    def fail(c: object) -> None:
        raise RuntimeError("x")

    await runner.execute([TaskStep("a", lambda c: 1), TaskStep("b", fail)])
    assert sorted(plugin.ends) == [("a", TaskStatus.SUCCESS), ("b", TaskStatus.FAILURE)]


def test_use_rejects_an_object_without_install() -> None:
    with pytest.raises(TypeError):
        TaskRunnerBuilder(None).use(object())  # type: ignore[arg-type]


async def test_task_end_callback_sees_the_final_result_with_metrics() -> None:
    seen: list[TaskResult] = []
    runner = TaskRunnerBuilder(None).on("task_end", lambda e: seen.append(e.result)).build()
    await runner.execute([TaskStep("a", lambda c: 5)])
    (result,) = seen
    assert result.data == 5
    assert result.metrics is not None and result.metrics.attempts == 1


async def test_every_task_cancelled_with_the_run_gets_an_end_event() -> None:
    gate = asyncio.Event()

    async def wait(ctx: object) -> None:
        await gate.wait()

    async def after(ctx: object) -> None:
        return None

    ended: list[str] = []
    runner = (
        TaskRunnerBuilder(None)
        .on("task_end", lambda e: ended.append(e.step.name))
        .on("task_skipped", lambda e: ended.append(e.step.name))
        .build()
    )
    results = await runner.execute(
        [TaskStep("wait", wait), TaskStep("after", after, ["wait"])], timeout=0.05
    )
    assert results["after"].status is TaskStatus.CANCELLED
    assert sorted(ended) == ["after", "wait"]


async def test_an_async_plugin_install_is_awaited_before_any_task_runs() -> None:
    log: list[str] = []

    class Remote:
        async def install(self, context: PluginContext) -> None:
            await asyncio.sleep(0)  # e.g. connects somewhere first
            log.append("installed")
            context.on("task_start", lambda e: log.append(f"start {e.step.name}"))
            context.on("workflow_start", lambda e: log.append("workflow_start"))

    runner = TaskRunnerBuilder(None).use(Remote()).build()
    assert log == []  # nothing awaited at build()
    results = await runner.execute([TaskStep("a", lambda c: log.append("body a"))])
    assert results["a"].ok
    assert log == ["installed", "workflow_start", "start a", "body a"]
    # Installed once: a second run does not install it again.
    log.clear()
    await runner.execute([TaskStep("b", lambda c: None)])
    assert log == ["workflow_start", "start b"]


async def test_a_sync_plugin_install_still_happens_at_build() -> None:
    installed: list[PluginContext] = []

    class Local:
        def install(self, context: PluginContext) -> None:
            installed.append(context)

    runner = TaskRunnerBuilder(None).use(Local()).build()
    assert len(installed) == 1 and installed[0].runner is runner
