"""Pause (drain and interrupt), resume and cancel, before and during a run."""

from __future__ import annotations

import asyncio
from typing import Any

from flow_tui import TaskResult, TaskRunner, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import TaskEnd, TaskStart, WorkflowPaused


class Gates:
    """Bodies that block until the test opens their gate, with a log of what happened."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.calls: dict[str, int] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.started: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    def started_event(self, name: str) -> asyncio.Event:
        return self.started.setdefault(name, asyncio.Event())

    def step(self, name: str, *deps: str, gated: bool = False, **kw: Any) -> TaskStep[Any]:
        async def body(ctx: object) -> str:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.log.append(f"start {name}")
            self.started_event(name).set()
            if gated:
                await self.gate(name).wait()
            else:
                await asyncio.sleep(0)
            self.log.append(f"end {name}")
            return name

        return TaskStep(name, body, dependencies=deps, **kw)


def control(coro: Any) -> asyncio.Task[Any]:
    return asyncio.get_running_loop().create_task(coro)


async def test_pause_drains_running_tasks_and_starts_nothing_new_until_resume() -> None:
    g = Gates()
    paused = asyncio.Event()
    drained = asyncio.Event()
    ends: list[str] = []
    runner: TaskRunner[Any]

    def on_start(event: TaskStart) -> None:
        if event.step.name == "a" and not runner.is_paused and not paused.is_set():
            runner.pause()

    def on_end(event: TaskEnd) -> None:
        ends.append(event.step.name)
        if len(ends) == 2:
            drained.set()

    runner = (
        TaskRunnerBuilder(None)
        .on("task_start", on_start)
        .on("task_end", on_end)
        .on("workflow_paused", lambda e: paused.set())
        .build()
    )

    async def operator() -> None:
        await paused.wait()
        assert runner.is_paused
        assert runner.running == ["a", "b"]
        assert runner.snapshot().status == "paused"
        g.gate("a").set()
        g.gate("b").set()
        await drained.wait()
        # Both running tasks finished normally; nothing else started.
        assert runner.running == []
        assert set(runner.results) == {"a", "b"}
        assert all(runner.results[n].status is TaskStatus.SUCCESS for n in "ab")
        assert "start c" not in g.log and "start d" not in g.log
        g.log.append("resume")
        runner.resume()

    op = control(operator())
    results = await runner.execute(
        [g.step("a", gated=True), g.step("b", gated=True), g.step("c"), g.step("d", "a")],
        concurrency=2,
    )
    await op
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert g.log.index("resume") < g.log.index("start c")
    assert g.log.index("resume") < g.log.index("start d")
    assert g.calls == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert not runner.is_paused
    assert runner.snapshot().status == "finished"


async def test_pause_interrupt_cancels_running_tasks_which_run_again_after_resume() -> None:
    g = Gates()
    ended: list[TaskResult] = []
    interrupted = asyncio.Event()
    pauses: list[WorkflowPaused] = []
    resumed = asyncio.Event()

    def on_end(event: TaskEnd) -> None:
        if event.step.name == "slow":
            ended.append(event.result)
            if event.result.status is TaskStatus.CANCELLED:
                interrupted.set()

    runner = (
        TaskRunnerBuilder(None)
        .on("task_end", on_end)
        .on("workflow_paused", pauses.append)
        .on("workflow_resumed", lambda e: resumed.set())
        .build()
    )

    async def operator() -> None:
        await g.started_event("slow").wait()
        runner.pause(interrupt=True)
        await interrupted.wait()
        snap = runner.snapshot()
        assert snap.results["slow"].status is TaskStatus.CANCELLED
        assert "slow" in snap.interrupted
        assert "after" not in snap.results
        assert runner.is_paused
        assert "after" not in g.calls
        # The second run of "slow" returns at once.
        g.gate("slow").set()
        runner.resume()

    op = control(operator())
    results = await runner.execute([g.step("slow", gated=True), g.step("after", "slow")])
    await op
    assert resumed.is_set()
    assert pauses[0].interrupt is True and pauses[0].running == ["slow"]
    assert g.calls == {"slow": 2, "after": 1}
    assert [r.status for r in ended] == [TaskStatus.CANCELLED, TaskStatus.SUCCESS]
    assert results["slow"].status is TaskStatus.SUCCESS
    assert results["after"].status is TaskStatus.SUCCESS
    assert runner.snapshot().interrupted == []
    assert runner.snapshot().status == "finished"


async def test_pause_interrupt_then_immediate_resume_still_reruns_the_task() -> None:
    g = Gates()

    async def operator() -> None:
        await g.started_event("slow").wait()
        g.gate("slow").set()  # the re-run finishes at once
        runner.pause(interrupt=True)
        runner.resume()  # before the cancelled body has even noticed

    runner = TaskRunnerBuilder(None).build()
    op = control(operator())
    results = await runner.execute([g.step("slow", gated=True), g.step("after", "slow")])
    await op
    assert results["slow"].status is TaskStatus.SUCCESS
    assert results["after"].status is TaskStatus.SUCCESS
    assert g.calls == {"slow": 2, "after": 1}


async def test_pause_before_execute_holds_the_run_until_resume() -> None:
    g = Gates()
    runner = (
        TaskRunnerBuilder(None).on("workflow_start", lambda e: g.log.append("wf start")).build()
    )
    runner.pause()
    assert runner.is_paused
    assert runner.snapshot().status == "paused"
    started = asyncio.Event()
    runner.events.on("workflow_start", lambda e: started.set())

    async def operator() -> None:
        await started.wait()
        # Dispatch happens synchronously right after workflow_start: nothing was.
        assert runner.running == []
        assert g.calls == {}
        g.log.append("resume")
        runner.resume()

    op = control(operator())
    results = await runner.execute([g.step("a")])
    await op
    assert results["a"].status is TaskStatus.SUCCESS
    assert g.log == ["wf start", "resume", "start a", "end a"]


async def test_cancel_before_execute_cancels_everything_and_runs_nothing() -> None:
    g = Gates()
    runner = TaskRunnerBuilder(None).build()
    runner.cancel()
    results = await runner.execute([g.step("a"), g.step("b", "a"), g.step("c")])
    assert g.calls == {}
    assert set(results) == {"a", "b", "c"}
    for result in results.values():
        assert result.status is TaskStatus.CANCELLED
        assert "cancel" in (result.message or "")
        assert result.metrics is not None
    assert runner.snapshot().status == "cancelled"


async def test_cancel_during_a_run() -> None:
    g = Gates()
    runner = TaskRunnerBuilder(None).build()

    async def operator() -> None:
        await g.started_event("slow").wait()
        runner.cancel()

    op = control(operator())
    results = await runner.execute(
        [g.step("fast"), g.step("slow", "fast", gated=True), g.step("after", "slow")]
    )
    await op
    assert results["fast"].status is TaskStatus.SUCCESS
    assert results["slow"].status is TaskStatus.CANCELLED
    assert results["after"].status is TaskStatus.CANCELLED
    assert "end slow" not in g.log
    assert "after" not in g.calls
    snap = runner.snapshot()
    assert snap.status == "cancelled"
    assert snap.interrupted == ["slow"]


async def test_cancel_while_paused_ends_the_run() -> None:
    g = Gates()
    runner = TaskRunnerBuilder(None).build()
    paused = asyncio.Event()
    runner.events.on("workflow_paused", lambda e: paused.set())

    def on_end(event: TaskEnd) -> None:
        if event.step.name == "first":
            runner.pause()

    runner.events.on("task_end", on_end)

    async def operator() -> None:
        await paused.wait()
        runner.cancel()

    op = control(operator())
    results = await runner.execute([g.step("first"), g.step("second", "first")])
    await op
    assert results["first"].status is TaskStatus.SUCCESS
    assert results["second"].status is TaskStatus.CANCELLED
    assert "second" not in g.calls


async def test_cancelling_the_execute_call_stops_the_tasks() -> None:
    g = Gates()
    runner = TaskRunnerBuilder(None).build()
    run = asyncio.ensure_future(runner.execute([g.step("slow", gated=True)]))
    await g.started_event("slow").wait()
    run.cancel()
    try:
        await run
    except asyncio.CancelledError:
        pass
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("execute swallowed the cancellation")
    assert runner.results["slow"].status is TaskStatus.CANCELLED
    assert not runner.is_running


async def test_cancel_reaches_tasks_dispatched_but_not_yet_started() -> None:
    g = Gates()
    runner: TaskRunner[Any]

    def on_start(event: TaskStart) -> None:
        if event.step.name == "a":
            runner.cancel()  # "b" was dispatched with "a" and has not begun

    runner = TaskRunnerBuilder(None).on("task_start", on_start).build()
    steps = [g.step("a"), g.step("b"), g.step("c", "a")]
    results = await asyncio.wait_for(runner.execute(steps), 10)
    assert {n: r.status for n, r in results.items()} == {
        "a": TaskStatus.CANCELLED,
        "b": TaskStatus.CANCELLED,
        "c": TaskStatus.CANCELLED,
    }
    assert "b" not in g.calls
    # "a" had started, "b" had not: only "a" counts as interrupted.
    assert runner.snapshot().interrupted == ["a"]


async def test_interrupt_reaches_tasks_dispatched_but_not_yet_started() -> None:
    g = Gates()
    runner: TaskRunner[Any]
    once: list[str] = []

    def on_start(event: TaskStart) -> None:
        if event.step.name == "a" and not once:
            once.append("a")
            runner.pause(interrupt=True)
            runner.resume()

    runner = TaskRunnerBuilder(None).on("task_start", on_start).build()
    results = await asyncio.wait_for(runner.execute([g.step("a"), g.step("b")]), 10)
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    # "a" was stopped from its task_start listener, before its body was called.
    assert g.calls == {"a": 1, "b": 1}


async def test_a_raising_strategy_fails_the_task_instead_of_hanging() -> None:
    class Broken:
        async def execute(self, run: Any) -> TaskResult:
            raise RuntimeError("strategy bug")

    runner = TaskRunnerBuilder(None).use_strategy(Broken()).build()
    steps: list[TaskStep[None]] = [
        TaskStep("a", lambda c: 1),
        TaskStep("b", lambda c: 2, dependencies=["a"]),
    ]
    results = await asyncio.wait_for(runner.execute(steps), 10)
    assert results["a"].status is TaskStatus.FAILURE
    assert results["a"].error == "RuntimeError: strategy bug"
    assert results["b"].status is TaskStatus.SKIPPED


async def test_a_rerun_after_interrupt_is_not_reported_as_finished_while_it_runs() -> None:
    g = Gates()
    interrupted = asyncio.Event()
    restarted = asyncio.Event()
    starts: list[str] = []

    def on_start(event: TaskStart) -> None:
        starts.append(event.step.name)
        if starts.count("slow") == 2:
            restarted.set()

    def on_end(event: TaskEnd) -> None:
        if event.result.status is TaskStatus.CANCELLED:
            interrupted.set()

    runner = TaskRunnerBuilder(None).on("task_start", on_start).on("task_end", on_end).build()

    async def operator() -> None:
        await g.started_event("slow").wait()
        runner.pause(interrupt=True)
        await interrupted.wait()
        assert runner.snapshot().results["slow"].status is TaskStatus.CANCELLED
        runner.resume()
        await restarted.wait()
        snap = runner.snapshot()
        assert "slow" not in snap.results  # running again, not finished
        assert snap.interrupted == ["slow"]
        g.gate("slow").set()

    op = control(operator())
    results = await runner.execute([g.step("slow", gated=True)])
    await op
    assert results["slow"].status is TaskStatus.SUCCESS
