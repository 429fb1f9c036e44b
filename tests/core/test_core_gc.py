"""A large run moves older objects out of the collector's way and always gives them back."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from flow_tui import Snapshot, TaskRunnerBuilder, TaskStep
from flow_tui.core.resume import InterruptedTaskError
from flow_tui.core.runner import GC_FREEZE_MIN_TASKS


async def noop(ctx: object) -> None:
    return None


def steps(n: int) -> list[TaskStep[None]]:
    return [TaskStep(f"t{i}", noop) for i in range(n)]


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    yield
    gc.enable()
    gc.unfreeze()


async def test_a_large_run_freezes_during_the_run_and_restores_the_collector() -> None:
    seen: list[tuple[bool, int]] = []

    async def look(ctx: object) -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count()))

    work: list[TaskStep[None]] = [*steps(GC_FREEZE_MIN_TASKS), TaskStep("look", look)]
    results = await TaskRunnerBuilder(None).build().execute(work, concurrency=8)
    assert results["look"].ok
    enabled, frozen = seen[0]
    assert enabled and frozen > 0  # the run happened with older objects frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0


async def test_a_small_run_leaves_the_collector_alone() -> None:
    seen: list[int] = []

    async def look(ctx: object) -> None:
        seen.append(gc.get_freeze_count())

    await TaskRunnerBuilder(None).build().execute([TaskStep("look", look)])
    assert seen == [0]


async def test_a_collector_the_caller_turned_off_or_froze_is_left_as_it_was() -> None:
    gc.disable()
    await TaskRunnerBuilder(None).build().execute(steps(GC_FREEZE_MIN_TASKS))
    assert not gc.isenabled() and gc.get_freeze_count() == 0
    gc.enable()
    gc.freeze()
    await TaskRunnerBuilder(None).build().execute(steps(GC_FREEZE_MIN_TASKS))
    assert gc.isenabled() and gc.get_freeze_count() > 0  # the caller's freeze still holds


async def test_the_collector_is_restored_when_planning_refuses_or_the_run_is_cancelled() -> None:
    work: list[TaskStep[None]] = [
        TaskStep(f"t{i}", noop, idempotent=i != 0) for i in range(GC_FREEZE_MIN_TASKS)
    ]
    refused = Snapshot(results={}, interrupted=["t0"])
    with pytest.raises(InterruptedTaskError):
        await TaskRunnerBuilder(None).with_snapshot(refused).build().execute(work)
    assert gc.isenabled() and gc.get_freeze_count() == 0

    started = asyncio.Event()

    async def block(ctx: object) -> None:
        started.set()
        await asyncio.Event().wait()

    run = asyncio.get_running_loop().create_task(
        TaskRunnerBuilder(None).build().execute([*steps(GC_FREEZE_MIN_TASKS), TaskStep("b", block)])
    )
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert gc.isenabled() and gc.get_freeze_count() == 0
