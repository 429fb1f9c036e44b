"""A stop (cancel, interrupting pause) that arrives before a body is called keeps it
from being called: from a condition, a task_start listener, a barrier commit, a retry or a
loop's `until`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from flow_tui import LoopPolicy, RetryPolicy, TaskRunner, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import TaskEnd, TaskStart

CONDITION_KINDS = ["sync", "async", "async-swallowing"]


def stopping_condition(kind: str, stop: Callable[[], bool | None]) -> Callable[[Any], Any]:
    """A condition that calls `stop()` and then says the task should run (`stop` returns
    False when it did not stop anything this time)."""
    if kind == "sync":

        def cond(ctx: object) -> bool:
            stop()
            return True

        return cond
    if kind == "async":

        async def acond(ctx: object) -> bool:
            stop()
            return True

        return acond

    async def swallowing(ctx: object) -> bool:
        # Takes the cancellation of its own await and carries on: only the check after
        # the condition can stop the body now.
        if stop() is False:
            return True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(5)
        return True

    return swallowing


class Bodies:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def sync(self, name: str) -> Callable[[Any], str]:
        def body(ctx: object) -> str:
            self.calls.append(name)
            return name

        return body

    def async_(self, name: str) -> Callable[[Any], Any]:
        async def body(ctx: object) -> str:
            self.calls.append(name)
            await asyncio.sleep(0)
            return name

        return body


# -- cancel ----------------------------------------------------------------------------


def test_the_issue_repro_cancel_from_a_lambda_condition(capsys: pytest.CaptureFixture[str]) -> None:
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()

    def body(ctx: object) -> None:
        print("body ran")

    # The issue's repro, verbatim: cancel() returns None, the tuple picks True.
    step = TaskStep("A", body, condition=lambda c: (runner.cancel(), True)[1])  # type: ignore[func-returns-value]
    results = asyncio.run(asyncio.wait_for(runner.execute([step]), 10))
    assert "body ran" not in capsys.readouterr().out
    assert results["A"].status is TaskStatus.CANCELLED


@pytest.mark.parametrize("kind", CONDITION_KINDS)
async def test_cancel_from_a_condition_calls_no_body(kind: str) -> None:
    b = Bodies()
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()
    ends: list[TaskEnd] = []
    runner.events.on("task_end", ends.append)
    steps = [
        TaskStep("A", b.async_("A"), condition=stopping_condition(kind, runner.cancel)),
        TaskStep("B", b.sync("B"), dependencies=["A"]),
    ]
    results = await asyncio.wait_for(runner.execute(steps), 10)
    assert b.calls == []
    assert {n: r.status for n, r in results.items()} == {
        "A": TaskStatus.CANCELLED,
        "B": TaskStatus.CANCELLED,
    }
    assert results["A"].message == "cancelled"
    assert sorted(e.step.name for e in ends) == ["A", "B"]  # one end each
    snap = runner.snapshot()
    assert snap.status == "cancelled"
    assert snap.interrupted == []  # A never started: nothing may have half-run


@pytest.mark.parametrize("body_kind", ["sync", "async"])
async def test_cancel_from_a_task_start_listener_calls_no_body(body_kind: str) -> None:
    b = Bodies()
    runner: TaskRunner[Any]

    def on_start(event: TaskStart) -> None:
        if event.step.name == "A":
            runner.cancel()

    runner = TaskRunnerBuilder(None).on("task_start", on_start).build()
    make = b.sync if body_kind == "sync" else b.async_
    steps = [TaskStep("A", make("A")), TaskStep("B", make("B"), dependencies=["A"])]
    results = await asyncio.wait_for(runner.execute(steps), 10)
    assert b.calls == []
    assert results["A"].status is TaskStatus.CANCELLED
    assert results["A"].message == "cancelled"
    assert results["A"].metrics is not None and results["A"].metrics.attempts == 0
    assert results["B"].status is TaskStatus.CANCELLED
    # A's start was announced (a checkpoint journal records it): it counts as started.
    assert runner.snapshot().interrupted == ["A"]


async def test_cancel_from_a_task_start_listener_on_the_strategy_path() -> None:
    b = Bodies()
    runner: TaskRunner[Any]

    def on_start(event: TaskStart) -> None:
        runner.cancel()

    runner = TaskRunnerBuilder(None).on("task_start", on_start).build()
    step = TaskStep("A", b.async_("A"), retry=RetryPolicy(attempts=2), timeout=5.0)
    results = await asyncio.wait_for(runner.execute([step]), 10)
    assert b.calls == []
    assert results["A"].status is TaskStatus.CANCELLED


async def test_cancel_inside_a_barrier_commit_before_a_non_idempotent_body() -> None:
    b = Bodies()
    runner: TaskRunner[Any]

    class Barrier:
        async def commit(self) -> None:
            if not runner.results:  # the commit before "charge": the run is cancelled
                runner.cancel()

    runner = TaskRunnerBuilder(None).with_barrier(Barrier()).build()
    steps = [TaskStep("charge", b.sync("charge"), idempotent=False)]
    results = await asyncio.wait_for(runner.execute(steps), 10)
    assert b.calls == []
    assert results["charge"].status is TaskStatus.CANCELLED


async def test_cancel_from_a_task_retry_listener_calls_no_retry() -> None:
    calls: list[int] = []
    runner: TaskRunner[Any]

    async def flaky(ctx: object) -> None:
        calls.append(1)
        raise ConnectionError("down")

    runner = TaskRunnerBuilder(None).on("task_retry", lambda e: runner.cancel()).build()
    step: TaskStep[None] = TaskStep("api", flaky, retry=RetryPolicy(attempts=3))
    results = await asyncio.wait_for(runner.execute([step]), 10)
    assert calls == [1]
    assert results["api"].status is TaskStatus.CANCELLED


async def test_cancel_from_a_loop_until_calls_no_next_iteration() -> None:
    calls: list[int] = []
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()

    def until(ctx: object, result: Any) -> bool:
        runner.cancel()
        return False

    async def poll(ctx: object) -> None:
        calls.append(1)

    step = TaskStep("poll", poll, loop=LoopPolicy(until=until))
    results = await asyncio.wait_for(runner.execute([step]), 10)
    assert calls == [1]
    assert results["poll"].status is TaskStatus.CANCELLED


# -- interrupting pause ----------------------------------------------------------------


@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("kind", CONDITION_KINDS)
async def test_interrupting_pause_from_a_condition_calls_no_body_until_resume(
    kind: str, idempotent: bool
) -> None:
    b = Bodies()
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()
    paused = asyncio.Event()
    runner.events.on("workflow_paused", lambda e: paused.set())
    evaluated: list[int] = []

    def stop() -> bool:
        evaluated.append(1)
        if len(evaluated) > 1:
            return False
        runner.pause(interrupt=True)
        return True

    async def operator() -> None:
        await paused.wait()
        await asyncio.sleep(0)  # let the worker reach its check
        assert b.calls == []
        assert "A" not in runner.results  # never started: not shown cancelled
        assert runner.interrupted == []
        # The body never ran, so even a non-idempotent task needs no consent.
        assert runner.needs_consent == []
        runner.resume()

    steps = [
        TaskStep(
            "A",
            b.async_("A"),
            condition=stopping_condition(kind, stop),
            idempotent=idempotent,
        ),
        TaskStep("B", b.sync("B"), dependencies=["A"]),
    ]
    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(steps), 10)
    await op
    assert b.calls == ["A", "B"]
    assert len(evaluated) == 2  # the condition is evaluated again after the resume
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())


async def test_interrupting_pause_from_a_task_start_listener_reruns_an_idempotent_task() -> None:
    b = Bodies()
    ends: list[TaskEnd] = []
    runner: TaskRunner[Any]
    stopped = asyncio.Event()

    def on_start(event: TaskStart) -> None:
        if event.step.name == "A" and not ends:
            runner.pause(interrupt=True)

    def on_end(event: TaskEnd) -> None:
        ends.append(event)
        stopped.set()

    runner = TaskRunnerBuilder(None).on("task_start", on_start).on("task_end", on_end).build()

    async def operator() -> None:
        await stopped.wait()
        assert b.calls == []
        assert ends[0].interrupted is True
        assert ends[0].result.status is TaskStatus.CANCELLED
        assert ends[0].result.message == "interrupted by pause"
        assert runner.interrupted == ["A"]
        assert runner.needs_consent == []
        runner.resume()

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute([TaskStep("A", b.async_("A"))]), 10)
    await op
    assert b.calls == ["A"]
    assert results["A"].status is TaskStatus.SUCCESS
    assert [e.interrupted for e in ends] == [True, False]


async def test_interrupting_pause_from_a_task_start_listener_holds_a_non_idempotent_task() -> None:
    b = Bodies()
    runner: TaskRunner[Any]
    held = asyncio.Event()

    def on_start(event: TaskStart) -> None:
        if not held.is_set():
            runner.pause(interrupt=True)

    def on_end(event: TaskEnd) -> None:
        if event.interrupted:
            held.set()

    runner = TaskRunnerBuilder(None).on("task_start", on_start).on("task_end", on_end).build()

    async def operator() -> None:
        await held.wait()
        assert b.calls == []
        # Its start was announced: from outside it may have begun, so it is held.
        assert runner.needs_consent == ["charge"]
        runner.resume(rerun_interrupted=True)

    op = asyncio.ensure_future(operator())
    step = TaskStep("charge", b.sync("charge"), idempotent=False)
    results = await asyncio.wait_for(runner.execute([step]), 10)
    await op
    assert b.calls == ["charge"]
    assert results["charge"].status is TaskStatus.SUCCESS


async def test_interrupting_pause_from_a_task_retry_listener_calls_no_retry() -> None:
    calls: list[int] = []
    runner: TaskRunner[Any]
    ended = asyncio.Event()

    async def flaky(ctx: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("down")
        return "up"

    def on_retry(event: Any) -> None:
        runner.pause(interrupt=True)

    runner = (
        TaskRunnerBuilder(None)
        .on("task_retry", on_retry)
        .on("task_end", lambda e: ended.set())
        .build()
    )

    async def operator() -> None:
        await ended.wait()
        assert calls == [1]  # the retry was not called
        runner.resume()

    op = asyncio.ensure_future(operator())
    step: TaskStep[None] = TaskStep("api", flaky, retry=RetryPolicy(attempts=3))
    results = await asyncio.wait_for(runner.execute([step]), 10)
    await op
    assert calls == [1, 1]  # the task ran again from its first attempt, which succeeded
    assert results["api"].status is TaskStatus.SUCCESS


@pytest.mark.parametrize("body_kind", ["sync", "async"])
@pytest.mark.parametrize("where", ["condition", "task_start"])
async def test_a_stopped_worker_leaves_no_stale_cancellation_to_later_bodies(
    where: str, body_kind: str
) -> None:
    # Pause with interrupt and resume at once: the stopped task's worker was cancelled;
    # the bodies after it (one slot, so one worker after another) must all run untouched.
    b = Bodies()
    runner: TaskRunner[Any]
    once: list[int] = []

    def stop_once() -> None:
        if not once:
            once.append(1)
            runner.pause(interrupt=True)
            runner.resume()

    def on_start(event: TaskStart) -> None:
        if event.step.name == "t0":
            stop_once()

    def cond(ctx: object) -> bool:
        stop_once()
        return True

    builder = TaskRunnerBuilder(None)
    if where == "task_start":
        builder.on("task_start", on_start)
    runner = builder.build()
    cancelled: list[str] = []

    def on_end(event: TaskEnd) -> None:
        if event.result.status is TaskStatus.CANCELLED:
            cancelled.append(event.step.name)

    runner.events.on("task_end", on_end)
    make = b.sync if body_kind == "sync" else b.async_
    steps: list[TaskStep[None]] = [
        TaskStep("t0", make("t0"), condition=cond if where == "condition" else None)
    ]
    steps += [TaskStep(f"t{i}", make(f"t{i}"), dependencies=[f"t{i - 1}"]) for i in range(1, 8)]
    steps += [TaskStep(f"u{i}", make(f"u{i}")) for i in range(8)]
    results = await asyncio.wait_for(runner.execute(steps, concurrency=1), 10)
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert sorted(b.calls) == sorted(s.name for s in steps)  # each body exactly once
    assert cancelled == (["t0"] if where == "task_start" else [])
