"""Dependencies, skip cascades, concurrency, priority, timeouts and dry runs."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from flow_tui import (
    LoopPolicy,
    RetryPolicy,
    TaskResult,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
    WorkflowValidationError,
)


class Tracker:
    """Records body starts/ends and the peak number of bodies running at once."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.ended: list[str] = []
        self.active = 0
        self.peak = 0

    def body(self, name: str, work: float = 0.0, fail: bool = False) -> Any:
        async def run(ctx: object) -> str:
            self.order.append(name)
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                await asyncio.sleep(work)
                if fail:
                    raise RuntimeError(f"{name} broke")
                return name
            finally:
                self.active -= 1
                self.ended.append(name)

        return run

    def step(self, name: str, *deps: str, work: float = 0.0, fail: bool = False, **kw: Any) -> Any:
        return TaskStep(name, self.body(name, work, fail), dependencies=deps, **kw)


async def run(steps: list[TaskStep[Any]], **kw: Any) -> dict[str, TaskResult]:
    return await TaskRunnerBuilder(None).build().execute(steps, **kw)


# -- dependencies ----------------------------------------------------------------------


async def test_diamond_runs_each_task_after_its_dependencies() -> None:
    t = Tracker()
    results = await run(
        [
            t.step("top", work=0.01),
            t.step("left", "top", work=0.02),
            t.step("right", "top", work=0.005),
            t.step("bottom", "left", "right"),
        ]
    )
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert t.order[0] == "top"
    assert t.order[-1] == "bottom"
    assert t.ended.index("left") < t.order.index("bottom")
    assert t.ended.index("right") < t.order.index("bottom")
    assert t.peak == 2  # left and right ran side by side


async def test_fan_out_fan_in() -> None:
    t = Tracker()
    leaves = [f"leaf{i}" for i in range(8)]
    results = await run(
        [
            t.step("source"),
            *(t.step(name, "source", work=0.01) for name in leaves),
            t.step("sink", *leaves),
        ]
    )
    assert all(r.ok for r in results.values())
    assert t.peak == 8
    assert t.order[0] == "source" and t.order[-1] == "sink"
    assert set(t.ended[:-1]) >= set(leaves)


async def test_dependents_of_a_failure_are_skipped_and_the_skip_cascades() -> None:
    t = Tracker()
    results = await run(
        [
            t.step("extract", fail=True),
            t.step("transform", "extract"),
            t.step("load", "transform"),
            t.step("report", "load"),
            t.step("unrelated"),
        ]
    )
    assert results["extract"].status is TaskStatus.FAILURE
    assert results["extract"].error == "RuntimeError: extract broke"
    for name in ("transform", "load", "report"):
        assert results[name].status is TaskStatus.SKIPPED, name
    assert results["transform"].message == (
        "skipped because dependency 'extract' failed: RuntimeError: extract broke"
    )
    assert "'transform'" in (results["load"].message or "")
    assert "'load'" in (results["report"].message or "")
    assert results["unrelated"].status is TaskStatus.SUCCESS
    assert sorted(t.order) == ["extract", "unrelated"]


async def test_diamond_with_one_failed_branch_skips_the_join_once() -> None:
    t = Tracker()
    skipped: list[str] = []
    runner = (
        TaskRunnerBuilder(None).on("task_skipped", lambda e: skipped.append(e.step.name)).build()
    )
    results = await runner.execute(
        [
            t.step("top"),
            t.step("left", "top", fail=True),
            t.step("right", "top", work=0.02),
            t.step("bottom", "left", "right"),
        ]
    )
    assert results["right"].status is TaskStatus.SUCCESS
    assert results["bottom"].status is TaskStatus.SKIPPED
    assert "'left'" in (results["bottom"].message or "")
    assert "bottom" not in t.order
    assert skipped == ["bottom"]


async def test_continue_on_error_lets_dependents_run_and_keeps_the_failure() -> None:
    t = Tracker()
    results = await run(
        [
            t.step("optional", fail=True, continue_on_error=True),
            t.step("next", "optional"),
            t.step("strict", fail=True),
            t.step("blocked", "strict"),
        ]
    )
    assert results["optional"].status is TaskStatus.FAILURE
    assert results["next"].status is TaskStatus.SUCCESS
    assert "next" in t.order
    assert results["blocked"].status is TaskStatus.SKIPPED


# -- concurrency and priority -----------------------------------------------------------


async def test_concurrency_limit_is_never_exceeded_and_is_reached() -> None:
    t = Tracker()
    steps = [t.step(f"t{i}", work=0.005) for i in range(24)]
    results = await run(steps, concurrency=3)
    assert len(results) == 24 and all(r.ok for r in results.values())
    assert t.peak == 3


async def test_concurrency_limit_with_layers_and_sync_bodies() -> None:
    lock = threading.Lock()
    state = {"active": 0, "peak": 0}

    def body(ctx: object) -> None:
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
        threading.Event().wait(0.02)
        with lock:
            state["active"] -= 1

    layer1 = [TaskStep(f"a{i}", body) for i in range(6)]
    layer2 = [TaskStep(f"b{i}", body, dependencies=[f"a{i}", f"a{5 - i}"]) for i in range(6)]
    results = await run([*layer1, *layer2], concurrency=2)
    assert all(r.ok for r in results.values())
    assert state["peak"] == 2


async def test_unlimited_concurrency_starts_all_ready_tasks() -> None:
    t = Tracker()
    await run([t.step(f"t{i}", work=0.01) for i in range(10)])
    assert t.peak == 10


async def test_priority_order_with_concurrency_one_ties_in_declaration_order() -> None:
    t = Tracker()
    steps = [
        t.step("low", priority=-1),
        t.step("mid_a"),
        t.step("high", priority=5),
        t.step("mid_b"),
        t.step("higher", priority=9),
        t.step("mid_c"),
        t.step("high_2", priority=5),
    ]
    await run(steps, concurrency=1)
    assert t.order == ["higher", "high", "high_2", "mid_a", "mid_b", "mid_c", "low"]


async def test_priority_among_tasks_that_become_ready_later() -> None:
    t = Tracker()
    steps = [
        t.step("root"),
        t.step("slow_low", "root", priority=0),
        t.step("urgent", "root", priority=3),
        t.step("other", priority=1),
    ]
    await run(steps, concurrency=1)
    # "other" (1) beats "root" (0) at the start; then root's dependents by priority.
    assert t.order == ["other", "root", "urgent", "slow_low"]


# -- timeouts --------------------------------------------------------------------------


async def test_workflow_timeout_cancels_running_and_unstarted_tasks() -> None:
    never = asyncio.Event()
    started: list[str] = []

    async def quick(ctx: object) -> str:
        return "ok"

    async def hang(ctx: object) -> None:
        started.append("hang")
        await never.wait()

    async def after(ctx: object) -> None:
        started.append("after")

    runner = TaskRunnerBuilder(None).build()
    results = await runner.execute(
        [
            TaskStep("quick", quick),
            TaskStep("hang", hang),
            TaskStep("after", after, dependencies=["hang"]),
            TaskStep("queued", after, dependencies=["quick", "hang"]),
        ],
        timeout=0.1,
    )
    assert results["quick"].status is TaskStatus.SUCCESS
    for name in ("hang", "after", "queued"):
        assert results[name].status is TaskStatus.CANCELLED, name
        assert "timed out" in (results[name].message or ""), name
    assert started == ["hang"]
    assert runner.snapshot().status == "cancelled"
    assert "hang" in runner.snapshot().interrupted


async def test_per_task_timeout_is_a_failure_saying_it_timed_out() -> None:
    never = asyncio.Event()

    async def hang(ctx: object) -> None:
        await never.wait()

    async def fine(ctx: object) -> int:
        return 1

    results = await run(
        [
            TaskStep("hang", hang, timeout=0.05),
            TaskStep("after", fine, dependencies=["hang"]),
            TaskStep("quick", fine, timeout=5),
        ]
    )
    assert results["hang"].status is TaskStatus.FAILURE
    assert "timed out" in (results["hang"].message or "")
    assert "hang" in (results["hang"].error or "")
    assert results["after"].status is TaskStatus.SKIPPED
    assert results["quick"].status is TaskStatus.SUCCESS


async def test_per_task_timeout_on_a_sync_body() -> None:
    release = threading.Event()

    def stuck(ctx: object) -> None:
        release.wait(10)

    try:
        results = await run([TaskStep("stuck", stuck, timeout=0.05)])
    finally:
        release.set()  # let the worker thread go
    assert results["stuck"].status is TaskStatus.FAILURE
    assert "timed out" in (results["stuck"].message or "")


async def test_a_body_raising_timeout_error_itself_is_an_ordinary_failure() -> None:
    async def own(ctx: object) -> None:
        raise TimeoutError("upstream API timed out")

    results = await run([TaskStep("own", own, timeout=10)])
    assert results["own"].status is TaskStatus.FAILURE
    assert results["own"].error == "TimeoutError: upstream API timed out"


# -- dry run ---------------------------------------------------------------------------


async def test_dry_run_calls_nothing_fires_events_and_reports_success() -> None:
    called: list[str] = []

    def body(ctx: object) -> None:
        called.append("body")
        raise RuntimeError("must not run")

    def condition(ctx: object) -> bool:
        called.append("condition")
        return False

    def should_retry(result: TaskResult) -> bool:
        called.append("should_retry")
        return True

    def until(ctx: object, result: TaskResult) -> bool:
        called.append("until")
        return True

    events: list[tuple[str, str]] = []
    runner = (
        TaskRunnerBuilder(None)
        .on("task_start", lambda e: events.append(("start", e.step.name)))
        .on("task_end", lambda e: events.append(("end", e.step.name)))
        .on("task_retry", lambda e: events.append(("retry", e.step.name)))
        .on("workflow_start", lambda e: events.append(("wf_start", "")))
        .on("workflow_end", lambda e: events.append(("wf_end", "")))
        .build()
    )
    steps: list[TaskStep[None]] = [
        TaskStep("a", body, retry=RetryPolicy(attempts=3, should_retry=should_retry)),
        TaskStep("b", body, dependencies=["a"], condition=condition),
        TaskStep("c", body, dependencies=["b"], loop=LoopPolicy(until=until)),
    ]
    results = await runner.execute(steps, dry_run=True)
    assert called == []
    for name in "abc":
        assert results[name].status is TaskStatus.SUCCESS
        assert "dry run" in (results[name].message or "")
        assert results[name].metrics is not None
    assert events == [
        ("wf_start", ""),
        ("start", "a"),
        ("end", "a"),
        ("start", "b"),
        ("end", "b"),
        ("start", "c"),
        ("end", "c"),
        ("wf_end", ""),
    ]


# -- scale -----------------------------------------------------------------------------


async def test_a_long_chain_cascades_without_recursion() -> None:
    n = 3000

    def boom(ctx: object) -> None:
        raise RuntimeError("root failed")

    async def noop(ctx: object) -> None:
        return None

    steps = [TaskStep("t0", boom)]
    steps += [TaskStep(f"t{i}", noop, dependencies=[f"t{i - 1}"]) for i in range(1, n)]
    results = await run(steps)
    assert results["t0"].status is TaskStatus.FAILURE
    assert all(results[f"t{i}"].status is TaskStatus.SKIPPED for i in range(1, n))
    assert results[f"t{n - 1}"].message == f"skipped because dependency 't{n - 2}' was skipped"


async def test_a_long_cycle_is_reported_without_recursion() -> None:
    n = 3000
    steps: list[TaskStep[Any]] = [
        TaskStep(f"t{i}", lambda c: None, dependencies=[f"t{(i + 1) % n}"]) for i in range(n)
    ]
    with pytest.raises(WorkflowValidationError, match="cycle"):
        await run(steps)


async def test_execute_is_not_reentrant() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def wait(ctx: object) -> None:
        started.set()
        await gate.wait()

    runner = TaskRunnerBuilder(None).build()
    first = asyncio.ensure_future(runner.execute([TaskStep("a", wait)]))
    await started.wait()
    assert runner.is_running
    with pytest.raises(RuntimeError):
        await runner.execute([TaskStep("b", wait)])
    gate.set()
    assert (await first)["a"].status is TaskStatus.SUCCESS
    assert not runner.is_running


async def test_a_skip_carries_the_failed_dependency_error_and_cascades_keep_their_words() -> None:
    def divide(ctx: object) -> float:
        return 1 / 0

    def fails_quietly(ctx: object) -> TaskResult:
        return TaskResult(TaskStatus.FAILURE, message="no data today")

    results = (
        await TaskRunnerBuilder(None)
        .build()
        .execute(
            [
                TaskStep("A", divide),
                TaskStep("B", lambda c: 1, dependencies=["A"]),
                TaskStep("C", lambda c: 1, dependencies=["B"]),
                TaskStep("Q", fails_quietly),
                TaskStep("R", lambda c: 1, dependencies=["Q"]),
            ]
        )
    )
    assert results["A"].error == "ZeroDivisionError: division by zero"
    assert results["B"].message == (
        "skipped because dependency 'A' failed: ZeroDivisionError: division by zero"
    )
    assert results["C"].message == "skipped because dependency 'B' was skipped"
    assert results["R"].message == "skipped because dependency 'Q' failed"  # no error text
