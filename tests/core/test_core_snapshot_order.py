"""`runner.snapshot()` lists results in declaration order whatever order tasks ended in,
before, during and after a run, and its lists and dicts are the snapshot's own."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from flow_tui import TaskResult, TaskRunnerBuilder, TaskStatus, TaskStep


def shuffled_steps(n: int, seed: int) -> list[TaskStep[None]]:
    rng = random.Random(seed)
    delays = [rng.random() / 500 for _ in range(n)]

    def body(i: int) -> Callable[[None], Awaitable[int]]:
        async def run(ctx: None) -> int:
            await asyncio.sleep(delays[i])
            return i

        return run

    return [
        TaskStep(
            f"t{i}", body(i), dependencies=(f"t{i - 7}",) if i >= 7 else (), version=str(i % 3)
        )
        for i in range(n)
    ]


async def test_results_are_in_declaration_order_after_a_run_that_ended_out_of_order() -> None:
    steps = shuffled_steps(60, seed=1)
    runner = TaskRunnerBuilder(None).build()
    ended: list[str] = []
    runner.events.on("task_end", lambda e: ended.append(e.step.name))
    await runner.execute(steps, concurrency=8)
    live = runner.results  # the run's live view, filled in the order tasks ended
    names = [s.name for s in steps]
    assert ended != names and list(live) == ended
    first = runner.snapshot()
    assert list(first.results) == names
    assert first.tasks == names
    assert first.versions == {s.name: s.version for s in steps}
    assert runner.results is live  # the live view is the same dict, with the same results
    assert dict(live) == first.results
    again = runner.snapshot()
    assert list(again.results) == names and again.results == first.results
    # Each snapshot owns its containers: changing one changes neither the next nor the run.
    again.results.clear()
    again.tasks.append("x")
    again.versions["t0"] = "changed"
    third = runner.snapshot()
    assert list(third.results) == names and third.tasks == names
    assert third.versions["t0"] == "0"


async def test_a_snapshot_during_a_run_holds_only_ended_tasks_in_declaration_order() -> None:
    gate = asyncio.Event()

    async def wait(ctx: None) -> None:
        await gate.wait()

    async def quick(ctx: None) -> None:
        return None

    steps: list[TaskStep[None]] = [
        TaskStep("slow", wait),
        *(TaskStep(f"q{i}", quick) for i in range(5)),
    ]
    steps.append(TaskStep("after", quick, dependencies=("slow",)))
    runner = TaskRunnerBuilder(None).build()
    run = asyncio.ensure_future(runner.execute(steps, concurrency=3))
    while len(runner.results) < 5:
        await asyncio.sleep(0.001)
    mid = runner.snapshot()
    assert list(mid.results) == [f"q{i}" for i in range(5)]
    assert mid.interrupted == ["slow"]
    gate.set()
    await run
    end = runner.snapshot()
    assert list(end.results) == [s.name for s in steps]
    assert all(r.status is TaskStatus.SUCCESS for r in end.results.values())


async def test_a_result_replaced_after_the_run_is_seen_by_the_next_snapshot() -> None:
    steps = shuffled_steps(20, seed=2)
    runner = TaskRunnerBuilder(None).build()
    await runner.execute(steps, concurrency=4)
    runner.snapshot()
    replaced = TaskResult(TaskStatus.FAILURE, error="changed")
    runner.results["t3"] = replaced  # a live view: nothing should, but a snapshot tells
    snap = runner.snapshot()
    assert snap.results["t3"] is replaced
    assert list(snap.results) == [s.name for s in steps]
