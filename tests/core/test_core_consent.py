"""Consent inside one run: a non-idempotent task cut off by an interrupting pause is held
until `resume` is told to re-run it or to record it done."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flow_tui import TaskRunner, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import InterruptedTaskError, TaskEnd, TaskStart, WorkflowPaused


class Gated:
    """Bodies that block until their gate opens; counts calls."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.started: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    def began(self, name: str) -> asyncio.Event:
        return self.started.setdefault(name, asyncio.Event())

    def step(self, name: str, *deps: str, gated: bool = False, **kw: Any) -> TaskStep[Any]:
        async def body(ctx: object) -> str:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.began(name).set()
            if gated:
                await self.gate(name).wait()
            return name

        return TaskStep(name, body, dependencies=deps, **kw)


class Recorder:
    """task_end events by task, and an event set when a given task is cut off."""

    def __init__(self) -> None:
        self.ends: list[TaskEnd] = []
        self.cut: dict[str, asyncio.Event] = {}

    def cut_off(self, name: str) -> asyncio.Event:
        return self.cut.setdefault(name, asyncio.Event())

    def __call__(self, event: TaskEnd) -> None:
        self.ends.append(event)
        if event.interrupted:
            self.cut_off(event.step.name).set()

    def of(self, name: str) -> list[TaskEnd]:
        return [e for e in self.ends if e.step.name == name]


def charge_pipeline(g: Gated) -> list[TaskStep[Any]]:
    return [
        g.step("charge", gated=True, idempotent=False),
        g.step("receipt", "charge"),
    ]


async def interrupt_when_running(runner: TaskRunner[Any], g: Gated, *names: str) -> None:
    for name in names:
        await g.began(name).wait()
    runner.pause(interrupt=True)


async def test_a_cut_off_non_idempotent_task_is_held_and_resume_refuses_without_consent() -> None:
    g = Gated()
    rec = Recorder()
    runner = TaskRunnerBuilder(None).on("task_end", rec).build()

    async def operator() -> None:
        await interrupt_when_running(runner, g, "charge")
        await rec.cut_off("charge").wait()
        assert runner.needs_consent == ["charge"]
        assert runner.interrupted == ["charge"]
        assert runner.results["charge"].status is TaskStatus.CANCELLED
        snap = runner.snapshot()
        assert snap.interrupted == ["charge"] and snap.status == "paused"
        with pytest.raises(InterruptedTaskError) as info:
            runner.resume()
        assert info.value.names == ["charge"]
        # Refused: still paused, nothing changed, nothing runs.
        assert runner.is_paused
        assert runner.snapshot().status == "paused"
        assert runner.needs_consent == ["charge"]
        for _ in range(3):
            await asyncio.sleep(0)
        assert g.calls == {"charge": 1}
        g.gate("charge").set()
        runner.resume(rerun_interrupted=True)

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(charge_pipeline(g)), 10)
    await op
    assert g.calls == {"charge": 2, "receipt": 1}
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert [e.interrupted for e in rec.of("charge")] == [True, False]
    assert runner.needs_consent == [] and runner.interrupted == []
    assert runner.snapshot().interrupted == []


async def test_resume_with_mark_done_records_the_held_task_as_done_by_the_operator() -> None:
    g = Gated()
    rec = Recorder()
    order: list[str] = []
    runner = (
        TaskRunnerBuilder(None)
        .on("task_end", rec)
        .on("task_end", lambda e: order.append(f"end {e.step.name}"))
        .on("task_start", lambda e: order.append(f"start {e.step.name}"))
        .build()
    )

    async def operator() -> None:
        await interrupt_when_running(runner, g, "charge")
        await rec.cut_off("charge").wait()
        runner.resume(mark_done=["charge"])

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(charge_pipeline(g)), 10)
    await op
    assert g.calls == {"charge": 1, "receipt": 1}
    charge = results["charge"]
    assert charge.status is TaskStatus.SUCCESS
    assert charge.message == "marked done by the operator"
    ends = rec.of("charge")
    assert [e.result.status for e in ends] == [TaskStatus.CANCELLED, TaskStatus.SUCCESS]
    assert ends[1].result is charge and ends[1].interrupted is False
    assert order.index("end charge", order.index("end charge") + 1) < order.index("start receipt")
    assert runner.snapshot().interrupted == []
    assert runner.snapshot().status == "finished"


async def test_mark_done_naming_a_task_that_is_not_held_raises_value_error() -> None:
    g = Gated()
    rec = Recorder()
    runner = TaskRunnerBuilder(None).on("task_end", rec).build()

    async def operator() -> None:
        await interrupt_when_running(runner, g, "charge")
        await rec.cut_off("charge").wait()
        for wrong in (["receipt"], ["nope"], ["charge", "receipt"]):
            with pytest.raises(ValueError, match="is not an interrupted task"):
                runner.resume(mark_done=wrong)
            assert runner.is_paused and runner.needs_consent == ["charge"]
        runner.resume(rerun_interrupted=True)
        g.gate("charge").set()

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(charge_pipeline(g)), 10)
    await op
    assert all(r.ok for r in results.values())


async def test_each_held_task_must_be_covered() -> None:
    g = Gated()
    rec = Recorder()
    runner = TaskRunnerBuilder(None).on("task_end", rec).build()
    steps = [
        g.step("charge", gated=True, idempotent=False),
        g.step("email", gated=True, idempotent=False),
        g.step("resize", gated=True),  # idempotent: re-queued, never asks
        g.step("done", "charge", "email", "resize"),
    ]

    async def operator() -> None:
        await interrupt_when_running(runner, g, "charge", "email", "resize")
        for name in ("charge", "email", "resize"):
            await rec.cut_off(name).wait()
        assert runner.needs_consent == ["charge", "email"]
        assert runner.interrupted == ["charge", "email", "resize"]
        with pytest.raises(InterruptedTaskError) as info:
            runner.resume(mark_done=["charge"])
        assert info.value.names == ["email"]
        assert runner.needs_consent == ["charge", "email"]
        assert runner.results["charge"].status is TaskStatus.CANCELLED
        for name in ("email", "resize"):
            g.gate(name).set()
        runner.resume(rerun_interrupted=True, mark_done=["charge"])

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(steps), 10)
    await op
    assert g.calls == {"charge": 1, "email": 2, "resize": 2, "done": 1}
    assert results["charge"].message == "marked done by the operator"
    assert all(r.ok for r in results.values())


async def test_cancelling_a_run_with_held_tasks_ends_it_and_keeps_them_interrupted() -> None:
    g = Gated()
    rec = Recorder()
    runner = TaskRunnerBuilder(None).on("task_end", rec).build()

    async def operator() -> None:
        await interrupt_when_running(runner, g, "charge")
        await rec.cut_off("charge").wait()
        runner.cancel()

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(charge_pipeline(g)), 10)
    await op
    assert g.calls == {"charge": 1}
    assert results["charge"].status is TaskStatus.CANCELLED
    assert results["receipt"].status is TaskStatus.CANCELLED
    snap = runner.snapshot()
    assert snap.status == "cancelled"
    assert snap.interrupted == ["charge"]
    assert runner.interrupted == ["charge"]
    assert runner.needs_consent == []  # no run: nothing is held in it any more


async def test_a_run_resumed_before_the_cut_off_body_ended_pauses_again_for_consent() -> None:
    g = Gated()
    rec = Recorder()
    pauses: list[WorkflowPaused] = []
    repaused = asyncio.Event()

    def on_paused(event: WorkflowPaused) -> None:
        pauses.append(event)
        if len(pauses) == 2:
            repaused.set()

    runner = TaskRunnerBuilder(None).on("task_end", rec).on("workflow_paused", on_paused).build()

    async def operator() -> None:
        await g.began("charge").wait()
        runner.pause(interrupt=True)
        runner.resume()  # the cut-off body has not ended yet: nothing is held so far
        await repaused.wait()
        assert runner.is_paused
        assert runner.needs_consent == ["charge"]
        assert pauses[1].interrupt is False
        g.gate("charge").set()
        runner.resume(rerun_interrupted=True)

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(charge_pipeline(g)), 10)
    await op
    assert g.calls == {"charge": 2, "receipt": 1}
    assert all(r.ok for r in results.values())


async def test_idempotent_interrupted_tasks_still_run_again_on_a_plain_resume() -> None:
    g = Gated()
    rec = Recorder()
    runner = TaskRunnerBuilder(None).on("task_end", rec).build()

    async def operator() -> None:
        await interrupt_when_running(runner, g, "resize")
        await rec.cut_off("resize").wait()
        assert runner.needs_consent == []
        assert runner.interrupted == ["resize"]
        g.gate("resize").set()
        runner.resume()

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute([g.step("resize", gated=True)]), 10)
    await op
    assert g.calls == {"resize": 2}
    assert results["resize"].ok


async def test_resume_without_a_run_keeps_its_behaviour() -> None:
    runner = TaskRunnerBuilder(None).build()
    runner.resume()  # nothing paused: nothing happens
    runner.pause()
    assert runner.is_paused and runner.snapshot().status == "paused"
    runner.resume(rerun_interrupted=True)
    assert not runner.is_paused and runner.snapshot().status == "pending"
    with pytest.raises(ValueError, match="is not an interrupted task"):
        runner.resume(mark_done=["x"])
    assert runner.needs_consent == [] and runner.interrupted == []


# -- under a commit barrier ------------------------------------------------------------


class JournalBarrier:
    """Stands in for the checkpointer: task ends are buffered by a listener and become
    durable when a commit covers them."""

    def __init__(self) -> None:
        self.buffer: list[tuple[str, str, str | None]] = []
        self.durable: list[tuple[str, str, str | None]] = []
        self.commits = 0

    def on_end(self, event: TaskEnd) -> None:
        self.buffer.append((event.step.name, event.result.status.value, event.result.message))

    async def commit(self) -> None:
        taken, self.buffer = self.buffer, []
        await asyncio.sleep(0)
        self.durable.extend(taken)
        self.commits += 1


@pytest.mark.parametrize("decision", ["mark_done", "rerun"])
async def test_consent_under_a_commit_barrier(decision: str) -> None:
    g = Gated()
    rec = Recorder()
    journal = JournalBarrier()
    durable_at_start: dict[str, list[tuple[str, str, str | None]]] = {}
    runner: TaskRunner[Any]

    def on_start(event: TaskStart) -> None:
        durable_at_start.setdefault(event.step.name, list(journal.durable))

    runner = (
        TaskRunnerBuilder(None)
        .with_barrier(journal)
        .on("task_end", journal.on_end)
        .on("task_end", rec)
        .on("task_start", on_start)
        .build()
    )

    async def operator() -> None:
        await interrupt_when_running(runner, g, "charge")
        await rec.cut_off("charge").wait()
        with pytest.raises(InterruptedTaskError):
            runner.resume()
        if decision == "mark_done":
            runner.resume(mark_done=["charge"])
        else:
            g.gate("charge").set()
            runner.resume(rerun_interrupted=True)

    op = asyncio.ensure_future(operator())
    results = await asyncio.wait_for(runner.execute(charge_pipeline(g)), 10)
    await op
    assert all(r.ok for r in results.values())
    # The interruption was journalled like any end.
    assert ("charge", "cancelled", "interrupted by pause") in journal.durable
    if decision == "mark_done":
        assert g.calls == {"charge": 1, "receipt": 1}
        done = ("charge", "success", "marked done by the operator")
        # The operator's word was durable before the task that depends on it started.
        assert done in durable_at_start["receipt"]
    else:
        assert g.calls == {"charge": 2, "receipt": 1}
        assert ("charge", "success", None) in durable_at_start["receipt"]
    assert journal.buffer == []  # every end was committed
