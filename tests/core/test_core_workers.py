"""Tasks run on reused workers: what that must not change.

A worker runs task after task while each one succeeds and another is ready, so these
check what a task per asyncio task gave for free: the loop is never starved, the task
name is right for every task, an interrupted worker leaves nothing stale behind, and
priorities and concurrency still hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from flow_tui import TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import RunStatus, TaskEnd, TaskStart, current_task_name


async def noop(ctx: object) -> None:
    return None


async def test_tasks_that_never_suspend_still_let_the_loop_run_other_work() -> None:
    # A chain of 2,000 no-op tasks at concurrency 1 is run by one worker back to back;
    # another coroutine on the same loop must get turns during the run, not only after.
    steps: list[TaskStep[None]] = [
        TaskStep(f"t{i}", noop, dependencies=(f"t{i - 1}",) if i else ()) for i in range(2000)
    ]
    ends = 0
    ends_seen_by_ticker: list[int] = []

    def on_end(event: TaskEnd) -> None:
        nonlocal ends
        ends += 1

    async def ticker() -> None:
        while True:
            ends_seen_by_ticker.append(ends)
            await asyncio.sleep(0)

    tick = asyncio.get_running_loop().create_task(ticker())
    await asyncio.sleep(0)
    results = await TaskRunnerBuilder(None).on("task_end", on_end).build().execute(steps, 1)
    tick.cancel()
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    during = [e for e in ends_seen_by_ticker if 0 < e < 2000]
    assert len(during) >= 2000 // 32, f"the loop ran other work only {len(during)} times"


async def test_each_task_sees_its_own_name_when_a_worker_runs_several() -> None:
    seen: dict[str, str | None] = {}

    def body(name: str) -> Any:
        async def run(ctx: object) -> None:
            seen[name] = current_task_name.get()

        return run

    steps = [
        TaskStep(f"t{i}", body(f"t{i}"), dependencies=(f"t{i - 1}",) if i else ())
        for i in range(50)
    ]
    await TaskRunnerBuilder(None).build().execute(steps, concurrency=1)
    assert seen == {f"t{i}": f"t{i}" for i in range(50)}
    assert current_task_name.get() is None  # nothing leaks into the caller


async def test_priorities_and_the_concurrency_cap_hold_across_reused_workers() -> None:
    running = 0
    most = 0
    order: list[str] = []

    def body(name: str) -> Any:
        async def run(ctx: object) -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            order.append(name)
            await asyncio.sleep(0)
            running -= 1

        return run

    steps = [TaskStep("root", body("root"))]
    steps += [
        TaskStep(f"p{p}_{k}", body(f"p{p}_{k}"), dependencies=("root",), priority=p)
        for k in range(3)
        for p in (1, 5, 3)
    ]
    results = await TaskRunnerBuilder(None).build().execute(steps, concurrency=2)
    assert all(r.ok for r in results.values())
    assert most == 2
    # After root, the ready tasks start highest priority first, then in declaration order.
    assert order[1:] == [f"p{p}_{k}" for p in (5, 3, 1) for k in range(3)]


async def test_interrupting_pause_then_resume_runs_every_task_exactly_once_more() -> None:
    # Workers that have already run several tasks are interrupted mid-body; after resume
    # the cut-off tasks run again and nothing that finished runs twice.
    calls: dict[str, int] = {}
    gate = asyncio.Event()
    slow = {"t20", "t21"}
    blocked: set[str] = set()
    both_blocked = asyncio.Event()

    def body(name: str) -> Any:
        async def run(ctx: object) -> None:
            calls[name] = calls.get(name, 0) + 1
            if name in slow and calls[name] == 1:
                blocked.add(name)
                if blocked == slow:
                    both_blocked.set()
                await gate.wait()
            await asyncio.sleep(0)

        return run

    steps = [TaskStep(f"t{i}", body(f"t{i}")) for i in range(40)]
    runner = TaskRunnerBuilder(None).build()
    t20_ended = asyncio.Event()

    def on_end(event: TaskEnd) -> None:
        if event.step.name == "t20":
            t20_ended.set()

    runner.events.on("task_end", on_end)
    run = asyncio.get_running_loop().create_task(runner.execute(steps, concurrency=2))
    await both_blocked.wait()  # both slow bodies are inside, waiting at the gate
    runner.pause(interrupt=True)
    await asyncio.wait_for(t20_ended.wait(), 10)
    assert runner.results["t20"].status is TaskStatus.CANCELLED
    runner.resume()
    results = await run
    assert all(r.ok for r in results.values())
    assert calls == {f"t{i}": 2 if f"t{i}" in slow else 1 for i in range(40)}


async def test_a_body_that_swallows_an_interrupt_leaves_no_cancellation_behind() -> None:
    # The body ignores the cancellation of an interrupting pause and returns. Tasks run
    # after it must not find a pending cancellation on the asyncio task they run in
    # (asyncio.Task.cancelling() is what structured-concurrency code consults).
    entered = asyncio.Event()

    async def stubborn(ctx: object) -> str:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed on purpose
            await asyncio.Event().wait()
        return "done anyway"

    async def after(ctx: object) -> int:
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    steps: list[TaskStep[None]] = [TaskStep("stubborn", stubborn)]
    steps += [TaskStep(f"after{k}", after, dependencies=("stubborn",)) for k in range(3)]
    runner = TaskRunnerBuilder(None).build()
    run = asyncio.get_running_loop().create_task(runner.execute(steps, concurrency=1))
    await entered.wait()
    runner.pause(interrupt=True)
    runner.resume()
    results = await run
    assert results["stubborn"].data == "done anyway"
    assert [results[f"after{k}"].data for k in range(3)] == [0, 0, 0]


async def test_cancel_stops_workers_between_tasks_and_marks_the_rest_cancelled() -> None:
    ran: list[str] = []
    runner = TaskRunnerBuilder(None).build()

    def body(name: str) -> Any:
        async def run(ctx: object) -> None:
            ran.append(name)
            if name == "t5":
                runner.cancel()

        return run

    steps = [
        TaskStep(f"t{i}", body(f"t{i}"), dependencies=(f"t{i - 1}",) if i else ())
        for i in range(20)
    ]
    results = await runner.execute(steps, concurrency=1)
    assert ran == [f"t{i}" for i in range(6)]
    assert [results[f"t{i}"].status for i in range(6)] == [TaskStatus.SUCCESS] * 6
    assert {results[f"t{i}"].status for i in range(6, 20)} == {TaskStatus.CANCELLED}
    assert runner.status is RunStatus.CANCELLED


@pytest.mark.parametrize(
    ("width", "concurrency", "commit_yields"), [(10, 3, 0), (10, 3, 2), (7, 64, 1), (25, 1, 1)]
)
async def test_under_a_barrier_reused_workers_keep_slots_until_ends_are_committed(
    width: int, concurrency: int, commit_yields: int
) -> None:
    # Workers that wait for the group commit and then go on must still start nothing on
    # top of an end no completed commit covers, and hold every such end's slot.
    commits_started = 0
    commits_done = 0
    covered_after: dict[str, int] = {}  # task -> the commit count that makes it durable
    unsettled: set[str] = set()  # started, and its end not yet durable
    most = 0

    class Barrier:
        async def commit(self) -> None:
            nonlocal commits_started, commits_done
            commits_started += 1
            for _ in range(commit_yields):
                await asyncio.sleep(0)
            commits_done += 1
            for name in [n for n in unsettled if covered_after.get(n, 10**9) <= commits_done]:
                unsettled.discard(name)

    def on_start(event: TaskStart) -> None:
        nonlocal most
        for dep in event.step.dependencies:
            assert covered_after[dep] <= commits_done, f"{event.step.name} before {dep}"
        unsettled.add(event.step.name)
        most = max(most, len(unsettled))

    def on_end(event: TaskEnd) -> None:
        covered_after[event.step.name] = commits_started + 1

    steps: list[TaskStep[None]] = [
        TaskStep(
            f"t{i}",
            noop,
            dependencies=(f"t{i - width}", f"t{i - width + 1}") if i >= width else (),
        )
        for i in range(width * 6)
    ]
    runner = (
        TaskRunnerBuilder(None)
        .with_barrier(Barrier())
        .on("task_start", on_start)
        .on("task_end", on_end)
        .build()
    )
    results = await runner.execute(steps, concurrency=concurrency)
    assert all(r.ok for r in results.values())
    assert most <= concurrency
    assert covered_after  # every end was recorded
    assert max(covered_after.values()) <= commits_done  # the last ends were committed too


class CountingBarrier:
    """A barrier that only counts its commits (each takes one loop turn)."""

    def __init__(self) -> None:
        self.commits = 0

    async def commit(self) -> None:
        self.commits += 1
        await asyncio.sleep(0)


async def test_under_a_barrier_plain_tasks_commit_in_full_batches_and_let_the_loop_in() -> None:
    # After each commit one worker takes the freed slots task after task; its voluntary
    # yields let the loop in but do not start a commit in the middle of the batch.
    n, limit = 640, 64
    steps: list[TaskStep[None]] = [TaskStep(f"t{i}", noop) for i in range(n)]
    barrier = CountingBarrier()
    ends = 0
    ends_seen_by_ticker: list[int] = []

    def on_end(event: TaskEnd) -> None:
        nonlocal ends
        ends += 1

    async def ticker() -> None:
        while True:
            ends_seen_by_ticker.append(ends)
            await asyncio.sleep(0)

    tick = asyncio.get_running_loop().create_task(ticker())
    runner = TaskRunnerBuilder(None).with_barrier(barrier).on("task_end", on_end).build()
    results = await runner.execute(steps, concurrency=limit)
    tick.cancel()
    assert all(r.ok for r in results.values()) and len(results) == n
    assert barrier.commits <= n // limit + 1
    during = {e for e in ends_seen_by_ticker if 0 < e < n}
    assert len(during) >= n // 32, f"the loop ran other work only {len(during)} times"


@pytest.mark.parametrize("turns", [2, 5])
async def test_under_a_barrier_steps_that_suspend_still_fill_every_slot(turns: int) -> None:
    # The worker woken after a commit suspends in its step: the other free slots get
    # a step each on the next loop turn, as many as the concurrency allows (a step
    # that suspends for one turn only may end before they start).
    limit = 8
    running = most = 0

    async def body(ctx: object) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        for _ in range(turns):
            await asyncio.sleep(0)
        running -= 1

    # The first tasks never suspend: their workers park, and every later step starts on
    # a worker woken after a commit.
    steps: list[TaskStep[None]] = [TaskStep(f"p{i}", noop) for i in range(limit)]
    steps += [TaskStep(f"t{i}", body) for i in range(10 * limit)]
    runner = TaskRunnerBuilder(None).with_barrier(CountingBarrier()).build()
    results = await runner.execute(steps, concurrency=limit)
    assert all(r.ok for r in results.values()) and len(results) == 11 * limit
    assert most == limit
