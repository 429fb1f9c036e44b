"""Retries with backoff, loops, conditions and replacing the strategy stack."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from flow_tui import LoopPolicy, RetryPolicy, TaskResult, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import StandardStrategy, TaskRetry, TaskRun

SLACK = 0.002  # the event loop may wake a hair early on coarse clocks


def flaky(fail_times: int, calls: list[float]) -> Any:
    async def body(ctx: object) -> str:
        calls.append(time.monotonic())
        if len(calls) <= fail_times:
            raise ConnectionError(f"attempt {len(calls)} failed")
        return f"ok after {len(calls)}"

    return body


# -- retry -----------------------------------------------------------------------------


async def test_retry_until_success_counts_attempts_and_emits_task_retry() -> None:
    calls: list[float] = []
    retries: list[TaskRetry] = []
    runner = TaskRunnerBuilder(None).on("task_retry", retries.append).build()
    results = await runner.execute(
        [TaskStep("api", flaky(2, calls), retry=RetryPolicy(attempts=3, delay=0))]
    )
    result = results["api"]
    assert result.status is TaskStatus.SUCCESS
    assert result.data == "ok after 3"
    assert len(calls) == 3
    assert result.metrics is not None and result.metrics.attempts == 3
    assert [e.attempt for e in retries] == [2, 3]
    assert all(e.step.name == "api" for e in retries)
    assert [e.result.error for e in retries] == [
        "ConnectionError: attempt 1 failed",
        "ConnectionError: attempt 2 failed",
    ]
    assert all(e.result.status is TaskStatus.FAILURE for e in retries)


async def test_retries_exhausted_is_a_failure_after_attempts_plus_one_runs() -> None:
    calls: list[float] = []
    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute([TaskStep("api", flaky(99, calls), retry=RetryPolicy(attempts=2))])
    )
    assert results["api"].status is TaskStatus.FAILURE
    assert results["api"].error == "ConnectionError: attempt 3 failed"
    assert len(calls) == 3
    assert results["api"].metrics.attempts == 3  # type: ignore[union-attr]


async def test_no_retry_policy_runs_once() -> None:
    calls: list[float] = []
    results = await TaskRunnerBuilder(None).build().execute([TaskStep("x", flaky(1, calls))])
    assert results["x"].status is TaskStatus.FAILURE
    assert len(calls) == 1


async def test_fixed_backoff_waits_the_delay_before_each_retry() -> None:
    calls: list[float] = []
    retries: list[TaskRetry] = []
    runner = TaskRunnerBuilder(None).on("task_retry", retries.append).build()
    policy = RetryPolicy(attempts=2, delay=0.04, backoff="fixed")
    await runner.execute([TaskStep("api", flaky(99, calls), retry=policy)])
    assert len(calls) == 3
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.04 - SLACK for gap in gaps), gaps
    assert [e.delay for e in retries] == [0.04, 0.04]


async def test_exponential_backoff_doubles_the_delay() -> None:
    calls: list[float] = []
    retries: list[TaskRetry] = []
    runner = TaskRunnerBuilder(None).on("task_retry", retries.append).build()
    policy = RetryPolicy(attempts=3, delay=0.02, backoff="exponential")
    results = await runner.execute([TaskStep("api", flaky(3, calls), retry=policy)])
    assert results["api"].status is TaskStatus.SUCCESS
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    expected = [0.02, 0.04, 0.08]
    assert [e.delay for e in retries] == expected
    for gap, want in zip(gaps, expected, strict=True):
        assert gap >= want - SLACK, (gaps, expected)


async def test_should_retry_can_veto_a_retry() -> None:
    calls: list[float] = []
    seen: list[TaskResult] = []

    def only_transient(result: TaskResult) -> bool:
        seen.append(result)
        return "transient" in (result.error or "")

    retries: list[TaskRetry] = []
    runner = TaskRunnerBuilder(None).on("task_retry", retries.append).build()
    policy = RetryPolicy(attempts=5, should_retry=only_transient)
    results = await runner.execute([TaskStep("api", flaky(99, calls), retry=policy)])
    assert results["api"].status is TaskStatus.FAILURE
    assert len(calls) == 1
    assert retries == []
    assert len(seen) == 1 and seen[0].error == "ConnectionError: attempt 1 failed"


async def test_should_retry_allows_a_retry() -> None:
    calls: list[float] = []
    policy = RetryPolicy(attempts=5, should_retry=lambda r: "attempt 1" in (r.error or ""))
    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute([TaskStep("api", flaky(99, calls), retry=policy)])
    )
    # Retried after attempt 1, vetoed after attempt 2.
    assert len(calls) == 2
    assert results["api"].status is TaskStatus.FAILURE


async def test_retry_applies_to_returned_failures_and_per_attempt_timeouts() -> None:
    attempts: list[int] = []
    never = asyncio.Event()

    async def body(ctx: object) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            return TaskResult(TaskStatus.FAILURE, error="soft failure")
        if len(attempts) == 2:
            await never.wait()  # times out
        return "third time lucky"

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute([TaskStep("t", body, timeout=0.05, retry=RetryPolicy(attempts=2))])
    )
    assert results["t"].status is TaskStatus.SUCCESS
    assert results["t"].data == "third time lucky"
    assert len(attempts) == 3


# -- loop ------------------------------------------------------------------------------


async def test_loop_runs_until_the_predicate_is_true() -> None:
    ctx = {"polls": 0}
    seen: list[Any] = []

    async def poll(c: dict[str, int]) -> int:
        c["polls"] += 1
        return c["polls"]

    def until(c: dict[str, int], result: TaskResult) -> bool:
        seen.append(result.data)
        return bool(result.data == 4)

    results = (
        await TaskRunnerBuilder(ctx)
        .build()
        .execute([TaskStep("poll", poll, loop=LoopPolicy(until=until, max_iterations=10))])
    )
    assert results["poll"].status is TaskStatus.SUCCESS
    assert results["poll"].data == 4
    assert ctx["polls"] == 4
    assert seen == [1, 2, 3, 4]


async def test_loop_with_async_until_and_interval() -> None:
    stamps: list[float] = []

    async def poll(ctx: object) -> int:
        stamps.append(time.monotonic())
        return len(stamps)

    async def until(ctx: object, result: TaskResult) -> bool:
        await asyncio.sleep(0)
        return bool(result.data == 3)

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute([TaskStep("poll", poll, loop=LoopPolicy(until=until, interval=0.03))])
    )
    assert results["poll"].status is TaskStatus.SUCCESS
    assert len(stamps) == 3
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(gap >= 0.03 - SLACK for gap in gaps), gaps


async def test_loop_fails_when_iterations_run_out() -> None:
    count = {"n": 0}

    def poll(ctx: object) -> str:
        count["n"] += 1
        return "pending"

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute(
            [
                TaskStep("poll", poll, loop=LoopPolicy(until=lambda c, r: False, max_iterations=3)),
                TaskStep("after", poll, dependencies=["poll"]),
            ]
        )
    )
    assert count["n"] == 3
    assert results["poll"].status is TaskStatus.FAILURE
    assert "3" in (results["poll"].message or "")
    assert results["after"].status is TaskStatus.SKIPPED


async def test_loop_stops_at_a_failed_iteration() -> None:
    count = {"n": 0}

    async def poll(ctx: object) -> None:
        count["n"] += 1
        if count["n"] == 2:
            raise RuntimeError("poll broke")

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute(
            [TaskStep("poll", poll, loop=LoopPolicy(until=lambda c, r: False, max_iterations=10))]
        )
    )
    assert count["n"] == 2
    assert results["poll"].status is TaskStatus.FAILURE
    assert results["poll"].error == "RuntimeError: poll broke"


async def test_loop_until_raising_is_a_failure() -> None:
    def until(ctx: object, result: TaskResult) -> bool:
        raise ValueError("bad predicate")

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute([TaskStep("poll", lambda c: 1, loop=LoopPolicy(until=until))])
    )
    assert results["poll"].status is TaskStatus.FAILURE
    assert results["poll"].error == "ValueError: bad predicate"


# -- use_strategy ----------------------------------------------------------------------


async def test_use_strategy_replaces_the_default_stack() -> None:
    seen: list[str] = []

    class Audited:
        def __init__(self) -> None:
            self.inner = StandardStrategy()

        async def execute(self, run: TaskRun) -> TaskResult:
            seen.append(run.step.name)
            result = await self.inner.execute(run)
            result.message = f"audited {run.step.name}"
            return result

    calls: list[float] = []
    runner = TaskRunnerBuilder(None).use_strategy(Audited()).build()
    results = await runner.execute(
        [
            TaskStep("a", flaky(1, calls), retry=RetryPolicy(attempts=3)),
            TaskStep("b", lambda c: "b", dependencies=["a"], continue_on_error=False),
        ]
    )
    # The default RetryingStrategy is gone: the flaky task ran once and stayed failed.
    assert seen == ["a"]
    assert len(calls) == 1
    assert results["a"].status is TaskStatus.FAILURE
    assert results["a"].message == "audited a"
    assert results["b"].status is TaskStatus.SKIPPED


# -- conditions ------------------------------------------------------------------------


async def test_conditions_sync_async_and_false_cascade() -> None:
    ran: list[str] = []
    ctx = {"region": "eu"}

    def body(name: str) -> Any:
        def run(c: object) -> str:
            ran.append(name)
            return name

        return run

    async def is_eu(c: dict[str, str]) -> bool:
        await asyncio.sleep(0)
        return c["region"] == "eu"

    skipped: list[str] = []
    runner = (
        TaskRunnerBuilder(ctx).on("task_skipped", lambda e: skipped.append(e.step.name)).build()
    )
    results = await runner.execute(
        [
            TaskStep("sync_true", body("sync_true"), condition=lambda c: c["region"] == "eu"),
            TaskStep("async_true", body("async_true"), condition=is_eu),
            TaskStep("off", body("off"), condition=lambda c: c["region"] == "us"),
            TaskStep("after_off", body("after_off"), dependencies=["off"]),
            TaskStep("last", body("last"), dependencies=["after_off"]),
        ]
    )
    assert sorted(ran) == ["async_true", "sync_true"]
    assert results["sync_true"].status is TaskStatus.SUCCESS
    assert results["async_true"].status is TaskStatus.SUCCESS
    assert results["off"].status is TaskStatus.SKIPPED
    assert "condition" in (results["off"].message or "")
    assert results["after_off"].status is TaskStatus.SKIPPED
    assert "'off'" in (results["after_off"].message or "")
    assert results["last"].status is TaskStatus.SKIPPED
    assert "'after_off'" in (results["last"].message or "")
    assert sorted(skipped) == ["after_off", "last", "off"]


async def test_condition_that_raises_is_a_failure() -> None:
    ran: list[str] = []

    def broken(ctx: object) -> bool:
        raise LookupError("no such flag")

    async def abroken(ctx: object) -> bool:
        raise LookupError("async flag lookup failed")

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute(
            [
                TaskStep("a", lambda c: ran.append("a"), condition=broken),
                TaskStep("b", lambda c: ran.append("b"), condition=abroken),
                TaskStep("c", lambda c: ran.append("c"), dependencies=["a"]),
            ]
        )
    )
    assert ran == []
    assert results["a"].status is TaskStatus.FAILURE
    assert "no such flag" in (results["a"].error or "")
    assert results["b"].status is TaskStatus.FAILURE
    assert "async flag lookup failed" in (results["b"].error or "")
    assert results["c"].status is TaskStatus.SKIPPED


async def test_a_task_skipped_by_its_condition_does_not_fail_the_run() -> None:
    runner = TaskRunnerBuilder(None).build()
    results = await runner.execute(
        [TaskStep("a", lambda c: 1), TaskStep("b", lambda c: 2, condition=lambda c: False)]
    )
    assert results["b"].status is TaskStatus.SKIPPED
    assert runner.snapshot().status == "finished"


async def test_retry_and_loop_retry_a_failed_iteration_on_its_own() -> None:
    # Iteration 2 fails once; the retry repeats that iteration only and the loop goes on
    # from there (it is not restarted from iteration 1).
    iterations: list[int] = []  # the iteration each body call belongs to
    done = 0  # iterations that succeeded
    retries: list[TaskRetry] = []

    async def poll(ctx: object) -> int:
        nonlocal done
        n = done + 1
        iterations.append(n)
        if n == 2 and iterations.count(2) == 1:
            raise ConnectionError("blip")
        done = n
        return n

    step: TaskStep[None] = TaskStep(
        "poll",
        poll,
        retry=RetryPolicy(attempts=1),
        loop=LoopPolicy(until=lambda c, r: r.data == 4, max_iterations=10),
    )
    runner = TaskRunnerBuilder(None).on("task_retry", retries.append).build()
    results = await runner.execute([step])
    result = results["poll"]
    assert result.status is TaskStatus.SUCCESS
    assert iterations == [1, 2, 2, 3, 4]
    assert result.data == 4
    assert [(e.attempt, e.result.error) for e in retries] == [(2, "ConnectionError: blip")]
    assert result.metrics is not None and result.metrics.attempts == 2  # 1 + the retry


async def test_retry_and_loop_fail_when_an_iteration_exhausts_its_retries() -> None:
    calls: list[int] = []

    async def poll(ctx: object) -> int:
        calls.append(1)
        if len(calls) >= 2:
            raise ConnectionError("down for good")
        return len(calls)

    step: TaskStep[None] = TaskStep(
        "poll",
        poll,
        retry=RetryPolicy(attempts=2),
        loop=LoopPolicy(until=lambda c, r: False, max_iterations=10),
    )
    results = await TaskRunnerBuilder(None).build().execute([step])
    assert results["poll"].status is TaskStatus.FAILURE
    assert results["poll"].error == "ConnectionError: down for good"
    assert len(calls) == 4  # iteration 1, then iteration 2 and its two retries
