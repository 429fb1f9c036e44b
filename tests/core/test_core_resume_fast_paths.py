"""The fast paths of a large resume and of a run's end give what the task-by-task ways
gave: the graph fingerprint (saved snapshots compare it), the plan, the results and
their order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flow_tui import Snapshot, TaskResult, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core.graph import build_graph
from flow_tui.core.model import TaskMetrics
from flow_tui.core.resume import plan_resume


def noop(ctx: None) -> None:
    return None


# Values of the fingerprint as computed before it was made of map() passes: they must
# not change, snapshots saved with them compare them.
@pytest.mark.parametrize(
    ("steps", "fingerprint"),
    [
        ([], "sha256:e3b0c44298fc1c14"),
        ([TaskStep("a", noop)], "sha256:f806186995760ded"),
        (
            [
                TaskStep("b", noop),
                TaskStep("a", noop),
                TaskStep("c", noop, dependencies=("b", "a", "b")),
                TaskStep("ab", noop, dependencies=("c",)),
            ],
            "sha256:4adcf0273194fdc2",
        ),
        (  # names holding a NUL: the pieces do not sort as the names do
            [
                TaskStep("a", noop),
                TaskStep("a\x00b", noop, dependencies=("a",)),
                TaskStep("a\x00", noop),
                TaskStep("z", noop, dependencies=("a\x00b", "a")),
            ],
            "sha256:3cbd172d8adb4e33",
        ),
    ],
)
def test_the_graph_fingerprint_keeps_its_values(
    steps: list[TaskStep[None]], fingerprint: str
) -> None:
    assert build_graph(steps).fingerprint() == fingerprint
    assert build_graph(list(reversed(steps))).fingerprint() == fingerprint


def chain(n: int, versions: dict[str, str] | None = None) -> list[TaskStep[None]]:
    versions = versions or {}
    return [
        TaskStep(
            f"t{i}",
            noop,
            dependencies=(f"t{i - 1}",) if i else (),
            version=versions.get(f"t{i}"),
        )
        for i in range(n)
    ]


def success() -> TaskResult:
    now = datetime.now(UTC)
    return TaskResult(TaskStatus.SUCCESS, metrics=TaskMetrics(now, now, 0.0, 1))


def saved(names: list[str], *, tasks: list[str] | None = None) -> Snapshot:
    # Results in an order other than declaration order, as a journal may leave them.
    return Snapshot(
        results={name: success() for name in reversed(names)},
        workflow="w",
        fingerprint=build_graph(chain(len(names))).fingerprint(),
        versions=dict.fromkeys(names),
        tasks=list(names) if tasks is None else tasks,
    )


async def test_a_resume_where_every_task_is_kept_runs_nothing_and_keeps_the_order() -> None:
    steps = chain(50)
    names = [s.name for s in steps]
    basis = saved(names)
    plan = plan_resume(basis, build_graph(steps))
    assert plan.kept == names and not plan.rerun and not plan.removed
    assert not plan.graph_changed
    started: list[str] = []
    runner = TaskRunnerBuilder(None).with_snapshot(basis).build()
    runner.events.on("task_start", lambda e: started.append(e.step.name))
    results = await runner.execute(steps)
    assert started == []
    assert list(results) == names
    assert all(results[n] is basis.results[n] for n in names)
    assert list(runner.results) == names
    snap = runner.snapshot()
    assert list(snap.results) == names and snap.tasks == names
    assert runner.plan is not None and runner.plan.kept == names
    results.clear()  # the returned dict is the caller's
    assert len(runner.snapshot().results) == 50


async def test_a_resume_with_a_removed_task_and_a_changed_version_is_classified() -> None:
    steps = chain(6, versions={"t3": "2"})
    names = [s.name for s in steps]
    basis = saved([*names, "gone"], tasks=[*names, "gone"])
    plan = plan_resume(basis, build_graph(steps))
    assert plan.removed == ["gone"]
    assert plan.kept == ["t0", "t1", "t2"]
    assert plan.rerun == {
        "t3": "version changed",
        "t4": "upstream version changed",
        "t5": "upstream version changed",
    }
    started: list[str] = []
    runner = TaskRunnerBuilder(None).with_snapshot(basis).build()
    runner.events.on("task_start", lambda e: started.append(e.step.name))
    results = await runner.execute(steps)
    assert started == ["t3", "t4", "t5"]
    assert list(results) == names
    assert list(runner.snapshot().results) == names


async def test_a_resume_with_a_task_missing_from_the_results_plans_it_pending() -> None:
    steps = chain(4)
    names = [s.name for s in steps]
    basis = saved(names[:3], tasks=names)
    plan = plan_resume(basis, build_graph(steps))
    assert plan.kept == names[:3] and plan.pending == ["t3"] and not plan.removed
    results = await TaskRunnerBuilder(None).with_snapshot(basis).build().execute(steps)
    assert list(results) == names and results["t3"].status is TaskStatus.SUCCESS


async def test_the_first_snapshot_after_a_run_sees_a_result_the_run_replaced() -> None:
    steps = chain(5)
    runner = TaskRunnerBuilder(None).build()
    first = await runner.execute(steps)
    assert list(first) == [s.name for s in steps]
    again = await runner.execute(steps)  # a second run: its own results, not the first's
    snap = runner.snapshot()
    assert all(snap.results[n] is again[n] for n in again)
    assert list(snap.results) == list(again)


def in_order(names: list[str], versions: dict[str, str | None]) -> Snapshot:
    # As a file of this graph reads back: results, task list and versions in declaration
    # order, the versions keyed by the results' own strings.
    results = {name: success() for name in names}
    return Snapshot(
        results=results,
        fingerprint=build_graph(chain(len(names))).fingerprint(),
        versions={**dict.fromkeys(results), **versions},
        tasks=list(results),
    )


@pytest.mark.parametrize(
    ("saved_versions", "now_versions", "kept", "rerun"),
    [
        ({}, {}, 6, {}),
        ({"t2": "1"}, {"t2": "1"}, 6, {}),
        ({}, {"t4": "2"}, 4, {"t4": "version changed", "t5": "upstream version changed"}),
        ({"t1": "1"}, {}, 1, {"t1": "version changed"}),
        ({"t0": ""}, {}, 0, {"t0": "version changed"}),
    ],
)
def test_a_snapshot_in_declaration_order_is_planned_as_one_in_any_order(
    saved_versions: dict[str, str | None],
    now_versions: dict[str, str],
    kept: int,
    rerun: dict[str, str],
) -> None:
    steps = chain(6, versions=now_versions)
    names = [s.name for s in steps]
    ordered = in_order(names, saved_versions)
    shuffled = Snapshot(
        results=dict(reversed(ordered.results.items())),
        fingerprint=ordered.fingerprint,
        versions=dict(reversed(ordered.versions.items())),
        tasks=list(reversed(ordered.tasks)),
    )
    graph = build_graph(steps)
    plan = plan_resume(ordered, graph)
    assert plan.to_dict() == plan_resume(shuffled, graph).to_dict()
    assert plan.kept == names[:kept]
    # Every task after a changed one runs again because of it.
    assert {k: v for k, v in plan.rerun.items() if k in rerun} == rerun
    assert list(plan.rerun) == names[kept:]


async def test_a_resume_from_a_file_of_this_graph_keeps_every_result_in_order(
    tmp_path: Path,
) -> None:
    steps = chain(3000)
    first = TaskRunnerBuilder(None).build()
    await first.execute(steps)
    loaded = Snapshot.load(first.snapshot().save(tmp_path / "run.json"))
    runner = TaskRunnerBuilder(None).with_snapshot(loaded).build()
    results = await runner.execute(steps)
    assert runner.plan is not None and len(runner.plan.kept) == 3000
    assert list(results) == [s.name for s in steps]
    assert all(results[n] is loaded.results[n] for n in results)
    assert runner.snapshot().results == loaded.results


async def test_a_plan_made_before_is_taken_only_for_what_it_was_made_of() -> None:
    steps = chain(8)
    graph = build_graph(steps)
    basis = saved([s.name for s in steps[:5]], tasks=[s.name for s in steps])
    plan = plan_resume(basis, graph)

    runner = TaskRunnerBuilder(None).with_snapshot(basis, plan=plan).build()
    await runner.execute(graph)
    assert runner.plan is plan  # not planned again

    other_graph = TaskRunnerBuilder(None).with_snapshot(basis, plan=plan).build()
    await other_graph.execute(steps)  # a graph of its own: planned for it
    assert other_graph.plan is not plan and other_graph.plan == plan

    copy = Snapshot(results=dict(basis.results), tasks=list(basis.tasks))
    other_basis = TaskRunnerBuilder(None).with_snapshot(copy, plan=plan).build()
    await other_basis.execute(graph)
    assert other_basis.plan is not plan

    interrupted = Snapshot(results=dict(basis.results), tasks=list(basis.tasks), interrupted=["t5"])
    unmarked = plan_resume(interrupted, graph)
    marked = TaskRunnerBuilder(None).with_snapshot(interrupted, mark_done=["t5"], plan=unmarked)
    runner = marked.build()
    results = await runner.execute(graph)
    assert runner.plan is not unmarked and runner.plan is not None
    assert runner.plan.marked_done == ["t5"] and results["t5"].message is not None


async def test_a_session_resuming_a_snapshot_plans_it_once(tmp_path: Path) -> None:
    from flow_tui import Workflow
    from flow_tui.session import Session, SessionOptions

    steps = chain(50)
    first = TaskRunnerBuilder(None).build()
    await first.execute(steps[:30])
    path = first.snapshot().save(tmp_path / "run.json")
    session = Session.open(Workflow(name="w", steps=steps), SessionOptions(resume=path))
    try:
        planned = session.plan
        assert planned is not None and len(planned.kept) == 30 and len(planned.new) == 20
        results = await session.run()
        assert session.runner is not None and session.runner.plan is planned
        assert len(results) == 50 and all(r.ok for r in results.values())
    finally:
        await session.close()
