"""What a session counts (`ps`, the summary, the viewers' state) and its exit code: the
workflow's own tasks, whoever holds other results, and work left undone is not a
success."""

from __future__ import annotations

from pathlib import Path

from flow_tui import Snapshot, TaskResult, TaskStatus, TaskStep, Workflow
from flow_tui.exit_codes import EXIT_FAILED, EXIT_OK
from flow_tui.session import Session, SessionOptions


async def ok(ctx: object) -> str:
    return "ok"


async def boom(ctx: object) -> None:
    raise RuntimeError("boom")


def workflow() -> Workflow:
    return Workflow(
        name="counted",
        steps=[TaskStep("a", ok), TaskStep("b", boom, ["a"]), TaskStep("c", ok, ["b"])],
    )


async def test_counts_and_exit_code_before_and_after_a_run() -> None:
    session = Session(workflow())
    assert session.counts() == {
        "success": 0,
        "failure": 0,
        "skipped": 0,
        "cancelled": 0,
        "running": 0,
        "pending": 3,
    }
    assert session.exit_code() == EXIT_FAILED  # nothing ran: work left undone
    await session.run()
    counts = session.counts()
    assert (counts["success"], counts["failure"], counts["skipped"], counts["pending"]) == (
        1,
        1,
        1,
        0,
    )
    assert session.exit_code() == EXIT_FAILED
    await session.close()

    done = Workflow(name="done", steps=[TaskStep("a", ok), TaskStep("b", ok, ["a"])])
    session = Session(done)
    await session.run()
    assert session.counts()["success"] == 2 and session.exit_code() == EXIT_OK
    await session.close()


async def test_results_of_tasks_the_workflow_no_longer_has_are_not_counted(
    tmp_path: Path,
) -> None:
    saved = Snapshot(
        results={
            "a": TaskResult(TaskStatus.SUCCESS),
            "retired": TaskResult(TaskStatus.FAILURE, error="gone"),
        },
        workflow="counted",
    )
    path = saved.save(tmp_path / "old.json")
    session = Session.open(workflow(), SessionOptions(resume=path))
    counts = session.counts()
    assert (counts["success"], counts["failure"], counts["pending"]) == (1, 0, 2)
    assert session.exit_code() == EXIT_FAILED
    await session.close()
