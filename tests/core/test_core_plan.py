"""Resume plans that tell the truth (pending vs new), and who marked a task done."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flow_tui import (
    Snapshot,
    SnapshotError,
    TaskMetrics,
    TaskResult,
    TaskRunner,
    TaskRunnerBuilder,
    TaskStep,
)
from flow_tui.core import (
    InterruptedTaskError,
    MarkDoneError,
    build_graph,
    check_consent,
    marked_done_result,
    missing_consent,
    plan_resume,
    resume_snapshot,
)
from flow_tui.core.model import TaskStatus


def result(status: TaskStatus) -> TaskResult:
    return TaskResult(status, metrics=TaskMetrics(None, None, 1.0, 1))


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []

    def step(self, name: str, *deps: str, **kw: Any) -> TaskStep[Any]:
        def body(ctx: object) -> str:
            self.names.append(name)
            return name

        return TaskStep(name, body, dependencies=deps, **kw)


def killed_run_snapshot() -> Snapshot:
    """A run killed after "a" succeeded and "b" failed, while "c" ran; "d", "e" never
    started."""
    return Snapshot(
        results={"a": result(TaskStatus.SUCCESS), "b": result(TaskStatus.FAILURE)},
        interrupted=["c"],
        tasks=["a", "b", "c", "d", "e"],
    )


def plan_of(saved: Snapshot | dict[str, TaskResult], steps: list[TaskStep[Any]], **kw: Any) -> Any:
    basis = saved if isinstance(saved, Snapshot) else Snapshot(results=dict(saved))
    return plan_resume(basis, build_graph(steps), **kw)


def test_tasks_the_snapshot_lists_that_never_started_are_pending_not_new() -> None:
    c = Calls()
    steps = [c.step(n) for n in "abcde"] + [c.step("f")]
    plan = plan_of(killed_run_snapshot(), steps)
    assert plan.kept == ["a"]
    assert plan.rerun == {"b": "failed", "c": "interrupted"}
    assert plan.pending == ["d", "e"]
    assert plan.new == ["f"]  # only what the snapshot's task list does not hold
    assert plan.removed == []
    assert plan.summary() == "1 kept, 2 re-run, 2 pending, 1 new, 0 removed, 1 interrupted"
    as_dict = plan.to_dict()
    assert as_dict["pending"] == ["d", "e"] and as_dict["new"] == ["f"]


def test_the_issue_counts() -> None:
    # kill -9 after 6 of 21 tasks (one of them running): 6 kept, 1 re-run, 14 pending.
    names = [f"t{i:02}" for i in range(21)]
    snap = Snapshot(
        results={n: result(TaskStatus.SUCCESS) for n in names[:6]},
        interrupted=[names[6]],
        tasks=names,
    )
    c = Calls()
    plan = plan_of(snap, [c.step(n) for n in names])
    assert plan.summary() == "6 kept, 1 re-run, 14 pending, 0 new, 0 removed, 1 interrupted"
    assert plan.new == []


def test_a_listed_task_no_longer_in_the_workflow_is_removed() -> None:
    c = Calls()
    plan = plan_of(killed_run_snapshot(), [c.step(n) for n in "abcd"])
    assert plan.removed == ["e"]


def test_without_a_task_list_tasks_with_no_result_stay_new() -> None:
    c = Calls()
    steps = [c.step(n) for n in "abcde"]
    saved = {"a": result(TaskStatus.SUCCESS), "b": result(TaskStatus.FAILURE)}
    plan = plan_of(saved, steps)
    assert plan.pending == []
    assert plan.new == ["c", "d", "e"]
    old_format = Snapshot(results=dict(saved))  # no `tasks`
    assert plan_of(old_format, steps).new == ["c", "d", "e"]


def test_a_snapshot_with_only_a_task_list_plans_every_task_pending() -> None:
    c = Calls()
    plan = plan_of(Snapshot(tasks=["a", "b"]), [c.step("a"), c.step("b", "a")])
    assert plan.pending == ["a", "b"]
    assert plan.summary() == "0 kept, 0 re-run, 2 pending, 0 new, 0 removed"


async def test_pending_tasks_run_on_resume_like_new_ones() -> None:
    c = Calls()
    steps = [c.step("a"), c.step("b"), c.step("c"), c.step("d", "a"), c.step("e"), c.step("f")]
    snap = killed_run_snapshot()
    runner = TaskRunnerBuilder(None).with_snapshot(snap, rerun_interrupted=True).build()
    results = await runner.execute(steps)
    assert sorted(c.names) == ["b", "c", "d", "e", "f"]
    assert all(r.ok for r in results.values())
    assert runner.plan is not None and runner.plan.pending == ["d", "e"]


# -- mark done -------------------------------------------------------------------------


def test_marked_done_wording_says_who_decided() -> None:
    assert marked_done_result().message == "marked done by hand (--mark-done)"
    assert marked_done_result("flag").message == "marked done by hand (--mark-done)"
    assert marked_done_result("operator").message == "marked done by the operator"
    with pytest.raises(ValueError, match="mark_done_by"):
        marked_done_result("cron")


@pytest.mark.parametrize(
    ("by", "message"),
    [("flag", "marked done by hand (--mark-done)"), ("operator", "marked done by the operator")],
)
async def test_with_snapshot_mark_done_by(by: str, message: str) -> None:
    c = Calls()
    snap = killed_run_snapshot()
    runner = TaskRunnerBuilder(None).with_snapshot(snap, mark_done=["c"], mark_done_by=by).build()
    results = await runner.execute([c.step(n) for n in "abcde"])
    assert "c" not in c.names
    assert results["c"].status is TaskStatus.SUCCESS
    assert results["c"].message == message
    assert runner.plan is not None and runner.plan.marked_done == ["c"]


def test_with_snapshot_rejects_an_unknown_mark_done_by() -> None:
    with pytest.raises(ValueError, match="mark_done_by"):
        TaskRunnerBuilder(None).with_snapshot(killed_run_snapshot(), mark_done_by="robot")


@pytest.mark.parametrize("name", ["a", "d", "zzz"])  # a success, never started, unknown
async def test_mark_done_accepts_only_an_interrupted_task_of_the_snapshot(name: str) -> None:
    c = Calls()
    runner = TaskRunnerBuilder(None).with_snapshot(killed_run_snapshot(), mark_done=[name]).build()
    with pytest.raises(MarkDoneError) as info:
        await runner.execute([c.step(n) for n in "abcde"])
    error = info.value
    assert isinstance(error, SnapshotError)
    assert error.names == [name]
    assert error.interrupted == ["c"]
    assert str(error) == (
        f"cannot mark {name!r} done: it is not an interrupted task of this snapshot "
        "(interrupted: c)"
    )
    assert "\n" not in str(error)
    assert c.names == []


def test_mark_done_error_lists_every_wrong_name_and_says_when_nothing_is_interrupted() -> None:
    c = Calls()
    steps = [c.step(n) for n in "ab"]
    with pytest.raises(MarkDoneError) as info:
        plan_of({"a": result(TaskStatus.SUCCESS)}, steps, mark_done=["b", "a"])
    assert info.value.names == ["a", "b"]
    assert info.value.interrupted == []
    assert str(info.value) == (
        "cannot mark 'a', 'b' done: they are not interrupted tasks of this snapshot "
        "(the snapshot lists no interrupted task)"
    )


# -- pure planning, one consent check, the snapshot before a resumed run ---------------


def test_plan_resume_changes_nothing_it_is_given() -> None:
    c = Calls()
    snap = killed_run_snapshot()
    snap.versions = {"a": "1", "b": "1"}
    before = copy.deepcopy(snap)
    steps = [c.step(n) for n in "abcde"]
    steps[0].version = "2"
    graph = build_graph(steps)
    first = plan_resume(snap, graph, mark_done=["c"])
    assert plan_resume(snap, graph, mark_done=["c"]) == first  # same answer again
    assert snap == before
    assert first.rerun == {"a": "version changed", "b": "failed"}
    assert first.marked_done == ["c"] and first.kept == ["c"]
    assert c.names == []


def test_plan_resume_checks_who_marks_done() -> None:
    c = Calls()
    with pytest.raises(ValueError, match="mark_done_by"):
        plan_resume(killed_run_snapshot(), build_graph([c.step("a")]), mark_done_by="cron")


def test_missing_consent_and_check_consent() -> None:
    held = ["migrate", "charge"]
    assert missing_consent(held) == held
    assert missing_consent(held, rerun_interrupted=True) == []
    assert missing_consent(held, mark_done=["charge", "other"]) == ["migrate"]
    assert missing_consent([], mark_done=["x"]) == []
    check_consent(held, mark_done=held)
    check_consent(held, rerun_interrupted=True)
    with pytest.raises(InterruptedTaskError) as info:
        check_consent(held, mark_done=["migrate"])
    assert info.value.names == ["charge"]


async def test_a_runner_refuses_a_resume_nobody_consented_to() -> None:
    c = Calls()
    steps = [c.step(n) for n in "ab"] + [c.step("c", idempotent=False)] + [c.step("d")]
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).with_snapshot(killed_run_snapshot()).build()
    with pytest.raises(InterruptedTaskError) as info:
        await runner.execute(steps)
    assert info.value.names == ["c"]
    assert c.names == []


def test_resume_snapshot_is_the_basis_with_marked_tasks_done() -> None:
    c = Calls()
    snap = killed_run_snapshot()
    snap.versions = {"a": "1", "b": None, "c": None}
    snap.workflow = "nightly"
    snap.context = {"cursor": 3}
    steps = [c.step(n) for n in "abcdef"]
    steps[0].version = "2"  # changed since: the saved result keeps the version it was made by
    steps[5].version = "7"
    graph = build_graph(steps)
    pre = resume_snapshot(snap, graph, mark_done=["c"], mark_done_by="operator")
    assert pre.results["a"] is snap.results["a"]
    assert pre.results["c"].message == "marked done by the operator"
    assert pre.interrupted == []
    assert pre.versions == {"a": "1", "b": None, "c": None, "d": None, "e": None, "f": "7"}
    assert pre.tasks == list("abcdef")
    assert pre.fingerprint == graph.fingerprint()  # the basis had none
    assert (pre.workflow, pre.context) == ("nightly", {"cursor": 3})
    assert "c" not in snap.results and snap.interrupted == ["c"]  # the basis is untouched
    # A basis without versions (an old file) stays without: nothing is marked changed.
    assert resume_snapshot(killed_run_snapshot(), graph).versions == {}
