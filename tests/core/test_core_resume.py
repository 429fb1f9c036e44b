"""runner.snapshot() at any moment, and resuming with with_snapshot()."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from flow_tui import (
    Snapshot,
    SnapshotError,
    TaskMetrics,
    TaskResult,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
)
from flow_tui.core import InterruptedTaskError, ResumePlan, TaskEnd, TaskStart


class Counter:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.calls: dict[str, int] = {}
        self.failing = set(failing or ())

    def step(self, name: str, *deps: str, **kw: Any) -> TaskStep[Any]:
        async def body(ctx: object) -> dict[str, Any]:
            self.calls[name] = self.calls.get(name, 0) + 1
            await asyncio.sleep(0)
            if name in self.failing:
                raise RuntimeError(f"{name} failed")
            return {"task": name, "n": self.calls[name]}

        return TaskStep(name, body, dependencies=deps, **kw)


def result(status: TaskStatus, data: Any = None) -> TaskResult:
    return TaskResult(status, data=data, metrics=TaskMetrics(None, None, 1.0, 1))


# -- snapshot() ------------------------------------------------------------------------


async def test_snapshot_inside_task_callbacks_mid_run_is_consistent_and_serializable() -> None:
    started: list[str] = []
    ended: list[str] = []
    checks: list[Snapshot] = []
    runner = TaskRunnerBuilder(None).with_workflow_name("wf").build()

    def check(snap: Snapshot) -> None:
        assert set(snap.results) == set(ended)
        # Interrupted means exactly: its body may have started and it has not ended. A
        # task dispatched but not yet started (condition pending) is not interrupted.
        assert set(snap.interrupted) == set(started) - set(ended)
        assert not set(snap.interrupted) & set(snap.results)
        assert snap.interrupted == sorted(snap.interrupted, key=order.index)
        assert set(snap.interrupted) <= set(runner.running)
        assert snap.status == "running"
        assert snap.context is None
        back = Snapshot.from_json(json.dumps(json.loads(snap.to_json())))
        assert {n: r.status for n, r in back.results.items()} == {
            n: r.status for n, r in snap.results.items()
        }
        assert back.interrupted == snap.interrupted
        checks.append(snap)

    def on_start(event: TaskStart) -> None:
        started.append(event.step.name)
        check(runner.snapshot())

    def on_end(event: TaskEnd) -> None:
        ended.append(event.step.name)
        check(runner.snapshot())

    runner.events.on("task_start", on_start)
    runner.events.on("task_end", on_end)
    c = Counter()
    steps = [
        c.step("a"),
        c.step("b", "a"),
        c.step("c", "a"),
        c.step("d", "b", "c"),
        c.step("e"),
        c.step("f", "e"),
    ]
    order = [s.name for s in steps]
    results = await runner.execute(steps, concurrency=2)
    assert runner.events.errors == []
    assert len(checks) == 12
    final = runner.snapshot()
    assert final.status == "finished"
    assert final.results == results
    assert list(final.results) == order
    assert final.interrupted == []
    assert final.workflow == "wf"
    assert final.tasks == order
    assert final.versions == dict.fromkeys(order)
    assert final.fingerprint


async def test_snapshot_in_a_task_end_callback_includes_the_cascade() -> None:
    seen: list[Snapshot] = []
    runner = TaskRunnerBuilder(None).build()
    runner.events.on(
        "task_end", lambda e: seen.append(runner.snapshot()) if e.step.name == "bad" else None
    )
    c = Counter(failing={"bad"})
    await runner.execute([c.step("bad"), c.step("child", "bad"), c.step("grandchild", "child")])
    (snap,) = seen
    assert snap.results["bad"].status is TaskStatus.FAILURE
    assert snap.results["child"].status is TaskStatus.SKIPPED
    assert snap.results["grandchild"].status is TaskStatus.SKIPPED


async def test_snapshot_from_outside_while_tasks_run() -> None:
    gate = asyncio.Event()
    running = asyncio.Event()

    async def slow(ctx: object) -> str:
        running.set()
        await gate.wait()
        return "slow"

    runner = TaskRunnerBuilder(None).build()

    async def observer() -> Snapshot:
        await running.wait()
        snap = runner.snapshot()
        gate.set()
        return snap

    watch = asyncio.ensure_future(observer())
    await runner.execute(
        [TaskStep("quick", lambda c: 1), TaskStep("slow", slow, dependencies=["quick"])]
    )
    snap = await watch
    assert list(snap.results) == ["quick"]
    assert snap.interrupted == ["slow"]
    assert snap.tasks == ["quick", "slow"]
    json.loads(snap.to_json())
    # Later changes to the run do not leak into an earlier snapshot.
    assert "slow" not in snap.results


def test_snapshot_before_any_run() -> None:
    snap = TaskRunnerBuilder({"ctx": 1}).build().snapshot()
    assert snap.results == {}
    assert snap.status == "pending"
    assert snap.context is None
    hydrated = (
        TaskRunnerBuilder(None)
        .with_snapshot({"a": result(TaskStatus.SUCCESS, 1)})
        .build()
        .snapshot()
    )
    assert hydrated.results["a"].data == 1


async def test_the_context_is_never_serialized_unless_passed() -> None:
    ctx = {"api_key": "sk-secret-123", "rows": [1, 2]}
    runner = TaskRunnerBuilder(ctx).build()
    await runner.execute([TaskStep("a", lambda c: len(c["rows"]))])
    snap = runner.snapshot()
    assert snap.context is None
    assert "sk-secret-123" not in snap.to_json()
    assert "sk-secret-123" not in snap.to_toml()
    opted_in = runner.snapshot(context={"rows": ctx["rows"]})
    assert opted_in.context == {"rows": [1, 2]}
    assert Snapshot.from_json(opted_in.to_json()).context == {"rows": [1, 2]}
    assert Snapshot.from_toml(opted_in.to_toml()).context == {"rows": [1, 2]}


# -- with_snapshot ---------------------------------------------------------------------


async def test_saved_success_never_runs_again_and_satisfies_dependents() -> None:
    first = Counter(failing={"b"})
    steps = [first.step("a"), first.step("b"), first.step("c", "a", "b"), first.step("d", "a")]
    runner = TaskRunnerBuilder(None).build()
    results = await runner.execute(steps)
    assert results["b"].status is TaskStatus.FAILURE
    assert results["c"].status is TaskStatus.SKIPPED
    snap = runner.snapshot()

    second = Counter()
    steps2 = [second.step("a"), second.step("b"), second.step("c", "a", "b"), second.step("d", "a")]
    resumed = TaskRunnerBuilder(None).with_snapshot(snap).build()
    results2 = await resumed.execute(steps2)
    assert second.calls == {"b": 1, "c": 1}
    assert all(r.status is TaskStatus.SUCCESS for r in results2.values())
    # Kept results are the saved ones, data included.
    assert results2["a"].data == {"task": "a", "n": 1}
    assert results2["d"] is snap.results["d"]
    plan = resumed.plan
    assert isinstance(plan, ResumePlan)
    assert sorted(plan.kept) == ["a", "d"]
    assert plan.rerun == {"b": "failed", "c": "skipped"}


async def test_mapping_form_reruns_failed_cancelled_and_skipped() -> None:
    saved = {
        "ok": result(TaskStatus.SUCCESS, "kept"),
        "bad": result(TaskStatus.FAILURE),
        "stopped": result(TaskStatus.CANCELLED),
        "skipped": result(TaskStatus.SKIPPED),
    }
    c = Counter()
    steps = [
        c.step("ok"),
        c.step("bad", "ok"),
        c.step("stopped"),
        c.step("skipped", "bad"),
        c.step("brand_new", "ok"),
    ]
    starts: list[str] = []
    runner = (
        TaskRunnerBuilder(None)
        .with_snapshot(saved)
        .on("task_start", lambda e: starts.append(e.step.name))
        .build()
    )
    results = await runner.execute(steps)
    assert c.calls == {"bad": 1, "stopped": 1, "skipped": 1, "brand_new": 1}
    assert "ok" not in starts
    assert results["ok"].data == "kept"
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert runner.plan is not None and runner.plan.new == ["brand_new"]


async def test_with_snapshot_rejects_values_that_are_not_results() -> None:
    with pytest.raises(SnapshotError):
        TaskRunnerBuilder(None).with_snapshot({"a": "success"}).build()  # type: ignore[dict-item]
    with pytest.raises(SnapshotError):
        TaskRunnerBuilder(None).with_snapshot([1, 2]).build()  # type: ignore[arg-type]


def versioned(c: Counter, versions: dict[str, str | None]) -> list[TaskStep[Any]]:
    return [
        c.step("a", version=versions.get("a")),
        c.step("b", "a", version=versions.get("b")),
        c.step("c", "b", version=versions.get("c")),
        c.step("e", "c", version=versions.get("e")),
        c.step("d", version=versions.get("d")),
        c.step("x", "d", version=versions.get("x")),
        c.step("y", "a", version=versions.get("y")),
    ]


async def test_version_change_reruns_the_task_and_its_downstream_transitively() -> None:
    base: dict[str, str | None] = {"a": "1", "b": "1", "c": "1", "d": "1"}
    first = Counter()
    runner = TaskRunnerBuilder(None).build()
    await runner.execute(versioned(first, base))
    snap = Snapshot.from_json(runner.snapshot().to_json())
    assert snap.versions["b"] == "1" and snap.versions["e"] is None

    second = Counter()
    resumed = TaskRunnerBuilder(None).with_snapshot(snap).build()
    results = await resumed.execute(versioned(second, {**base, "b": "2"}))
    assert second.calls == {"b": 1, "c": 1, "e": 1}
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())
    assert resumed.plan is not None
    assert resumed.plan.rerun == {
        "b": "version changed",
        "c": "upstream version changed",
        "e": "upstream version changed",
    }
    assert sorted(resumed.plan.kept) == ["a", "d", "x", "y"]
    assert resumed.snapshot().versions["b"] == "2"

    # Adding a version where there was none is a change too.
    third = Counter()
    again = TaskRunnerBuilder(None).with_snapshot(resumed.snapshot()).build()
    await again.execute(versioned(third, {**base, "b": "2", "x": "new"}))
    assert third.calls == {"x": 1}


async def test_mapping_form_has_no_versions_to_compare() -> None:
    saved = {"a": result(TaskStatus.SUCCESS)}
    c = Counter()
    await TaskRunnerBuilder(None).with_snapshot(saved).build().execute([c.step("a", version="9")])
    assert c.calls == {}


async def test_resume_from_a_snapshot_taken_while_a_task_ran() -> None:
    gate = asyncio.Event()
    running = asyncio.Event()
    calls: list[str] = []

    async def slow(ctx: object) -> str:
        calls.append("slow")
        running.set()
        await gate.wait()
        return "slow"

    steps: list[TaskStep[None]] = [
        TaskStep("quick", lambda c: calls.append("quick")),
        TaskStep("slow", slow, dependencies=["quick"]),
    ]
    runner = TaskRunnerBuilder(None).build()
    run = asyncio.ensure_future(runner.execute(steps))
    await running.wait()
    snap = Snapshot.from_toml(runner.snapshot().to_toml())
    gate.set()
    await run
    assert snap.interrupted == ["slow"]

    calls.clear()
    resumed = TaskRunnerBuilder(None).with_snapshot(snap).build()
    results = await resumed.execute(steps)
    assert calls == ["slow"]
    assert results["slow"].status is TaskStatus.SUCCESS
    assert resumed.plan is not None and resumed.plan.rerun == {"slow": "interrupted"}


async def test_interrupted_non_idempotent_task_needs_consent() -> None:
    charged: list[int] = []

    def charge(ctx: object) -> str:
        charged.append(1)
        return "charged"

    steps: list[TaskStep[None]] = [
        TaskStep("charge", charge, idempotent=False),
        TaskStep("mail", lambda c: "sent"),
    ]
    snap = Snapshot(interrupted=["charge"], results={}, tasks=["charge", "mail"])

    refused = TaskRunnerBuilder(None).with_snapshot(snap).build()
    with pytest.raises(InterruptedTaskError) as info:
        await refused.execute(steps)
    assert isinstance(info.value, SnapshotError)
    assert "charge" in str(info.value)
    assert info.value.names == ["charge"]
    assert charged == []

    marked = TaskRunnerBuilder(None).with_snapshot(snap, mark_done=["charge"]).build()
    results = await marked.execute(steps)
    assert charged == []
    assert results["charge"].status is TaskStatus.SUCCESS

    consent = TaskRunnerBuilder(None).with_snapshot(snap, rerun_interrupted=True).build()
    results = await consent.execute(steps)
    assert charged == [1]
    assert results["charge"].data == "charged"


@pytest.mark.parametrize("suffix", [".json", ".toml"])
async def test_resume_through_a_saved_file(tmp_path: Path, suffix: str) -> None:
    first = Counter(failing={"load"})
    steps = [
        first.step("extract"),
        first.step("transform", "extract"),
        first.step("load", "transform"),
    ]
    runner = TaskRunnerBuilder(None).with_workflow_name("etl").build()
    await runner.execute(steps)
    path = runner.snapshot().save(tmp_path / f"run{suffix}")
    loaded = Snapshot.load(path)
    assert loaded.workflow == "etl"
    assert loaded.status == "failed"

    second = Counter()
    steps2 = [
        second.step("extract"),
        second.step("transform", "extract"),
        second.step("load", "transform"),
    ]
    results = await TaskRunnerBuilder(None).with_snapshot(loaded).build().execute(steps2)
    assert second.calls == {"load": 1}
    assert results["transform"].data == {"task": "transform", "n": 1}
    assert all(r.status is TaskStatus.SUCCESS for r in results.values())


# -- the durability barrier ------------------------------------------------------------


async def test_barrier_commits_before_dependents_start_and_before_non_idempotent_bodies() -> None:
    log: list[str] = []

    class Barrier:
        async def commit(self) -> None:
            log.append("commit:start")
            await asyncio.sleep(0.001)
            log.append("commit:end")

    def body(name: str) -> Any:
        def run(ctx: object) -> None:
            log.append(name)

        return run

    runner = (
        TaskRunnerBuilder(None)
        .with_barrier(Barrier())
        .on("task_end", lambda e: log.append(f"end {e.step.name}"))
        .build()
    )
    results = await runner.execute(
        [
            TaskStep("a", body("a")),
            TaskStep("b", body("b"), dependencies=["a"], idempotent=False),
        ]
    )
    assert all(r.ok for r in results.values())
    assert log.index("end a") < log.index("commit:end") < log.index("b")
    # b is not idempotent: a commit completes right before its body.
    before_b = log[: log.index("b")]
    assert before_b[-1] == "commit:end"
    assert log[-1] == "commit:end"  # b's end is made durable too
