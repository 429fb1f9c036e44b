"""SIGTERM and SIGINT during a real headless run with a checkpoint, then a resume that
runs no finished task again.

tests/cli/workflows/recorder.py: `first` ends at once; `finishes_in_grace` and
`outlives_grace` run until the test opens their gate; `after_in_grace` and
`after_outlives` depend on them. The test opens the first gate only after the process
announced the signal, so that task ends inside the grace period; the other never opens
before the grace period is over.
"""

from __future__ import annotations

import signal

import pytest
from flowcli import WORKFLOWS, Workspace, by_task, check_jsonl

from flow_tui import Snapshot, TaskStatus

RECORDER = WORKFLOWS / "recorder.py"
TASKS = {"first", "finishes_in_grace", "outlives_grace", "after_in_grace", "after_outlives"}
STUBBORN_TASKS = {"first", "stubborn", "cooperative", "last"}


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
def test_signal_stops_dispatch_honours_grace_saves_and_resume_runs_nothing_twice(
    ws: Workspace, sig: signal.Signals, code: int
) -> None:
    run = ws.start(
        "launch", RECORDER, "--headless", "--checkpoint", "ck.toml",
        "--grace", "2", "--output", "jsonl",
    )  # fmt: skip
    ws.wait_started("finishes_in_grace", "outlives_grace")
    run.send(sig)
    run.wait_for_output(f"received {sig.name}")
    ws.open_gate("finishes_in_grace")  # ends inside the grace period
    result = run.wait(timeout=20)

    assert result.returncode == code, result
    events = check_jsonl(result, TASKS)
    ends = by_task(events, "task_end")
    assert ends["first"]["status"] == "success"
    assert ends["finishes_in_grace"]["status"] == "success"  # finished within grace
    assert ends["outlives_grace"]["status"] == "cancelled"  # cancelled after grace
    assert ends["after_in_grace"]["status"] == "cancelled"  # ready, but dispatch stopped
    assert ends["after_outlives"]["status"] == "cancelled"
    notices = [e["message"] for e in events if e["event"] == "notice"]
    assert any(f"received {sig.name}" in m for m in notices), notices
    assert any("grace period over" in m for m in notices), notices
    summary = events[-1]
    assert summary["signal"] == sig.name and summary["exit_code"] == code
    assert summary["checkpoint"] == "ck.toml"
    # Dispatch stopped: nothing started after the signal.
    assert sorted(ws.started()) == ["finishes_in_grace", "first", "outlives_grace"]
    assert "outlives_grace:done" not in ws.calls()

    saved = Snapshot.load(ws.path / "ck.toml")
    assert saved.results["first"].status is TaskStatus.SUCCESS
    assert saved.results["finishes_in_grace"].status is TaskStatus.SUCCESS
    assert saved.results["outlives_grace"].status is TaskStatus.CANCELLED
    assert "outlives_grace" in saved.interrupted
    assert not (ws.path / "ck.toml.lock").exists()

    ws.reset_calls()
    ws.open_gate("outlives_grace")
    resumed = ws.run(
        "launch", RECORDER, "--headless", "--resume", "ck.toml", "--checkpoint", "ck.toml",
        "--output", "jsonl",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed
    events = check_jsonl(resumed, TASKS)
    assert sorted(events[0]["kept"]) == ["finishes_in_grace", "first"]
    # No task that had succeeded ran again.
    assert sorted(ws.started()) == ["after_in_grace", "after_outlives", "outlives_grace"]
    final = Snapshot.load(ws.path / "ck.toml")
    assert {r.status for r in final.results.values()} == {TaskStatus.SUCCESS}
    assert set(final.results) == TASKS


def test_second_sigint_exits_at_once_after_saving(ws: Workspace) -> None:
    # `stubborn` swallows its cancellation; a second Ctrl-C must not wait for it, nor
    # for the 60 s grace period.
    run = ws.start(
        "launch", f"{RECORDER}:stubborn", "--headless", "--checkpoint", "ck.json",
        "--grace", "60", "--output", "plain",
    )  # fmt: skip
    ws.wait_started("stubborn", "cooperative")
    run.send(signal.SIGINT)
    run.wait_for_output("received SIGINT", stream="stderr")
    run.send(signal.SIGINT)
    result = run.wait(timeout=10)
    assert result.returncode == 130, result
    assert result.seconds < 10
    assert "received SIGINT again" in result.stderr
    assert "Traceback" not in result.stderr
    assert "stubborn:ignored-cancel" in ws.calls()

    saved = Snapshot.load(ws.path / "ck.json")  # the checkpoint loads
    assert saved.results["first"].status is TaskStatus.SUCCESS
    assert "stubborn" in saved.interrupted
    assert saved.results.get("last") is None or saved.results["last"].status is not (
        TaskStatus.SUCCESS
    )
    assert not (ws.path / "ck.json.lock").exists()

    ws.reset_calls()
    ws.open_gate("stubborn")
    ws.open_gate("cooperative")
    resumed = ws.run(
        "launch", f"{RECORDER}:stubborn", "--headless", "--resume", "ck.json",
        "--checkpoint", "ck.json",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed
    assert sorted(ws.started()) == ["cooperative", "last", "stubborn"]


def test_a_task_that_ignores_cancellation_does_not_outlive_the_grace_period(
    ws: Workspace,
) -> None:
    run = ws.start(
        "launch", f"{RECORDER}:stubborn", "--headless", "--checkpoint", "ck.toml",
        "--grace", "0.2", "--output", "jsonl",
    )  # fmt: skip
    ws.wait_started("stubborn", "cooperative")
    run.send(signal.SIGTERM)
    result = run.wait(timeout=15)
    assert result.returncode == 143, result
    events = check_jsonl(result, STUBBORN_TASKS)
    assert events[-1]["counts"]["running"] == 1  # stubborn, left behind
    assert any("did not stop" in e.get("message", "") for e in events)
    saved = Snapshot.load(ws.path / "ck.toml")
    assert "stubborn" in saved.interrupted
    assert saved.results["cooperative"].status is TaskStatus.CANCELLED


def test_signal_with_zero_grace_cancels_running_tasks_at_once(ws: Workspace) -> None:
    run = ws.start("launch", RECORDER, "--headless", "--checkpoint", "ck.toml", "--grace", "0")
    ws.wait_started("finishes_in_grace", "outlives_grace")
    run.send(signal.SIGTERM)
    result = run.wait(timeout=10)
    assert result.returncode == 143, result
    saved = Snapshot.load(ws.path / "ck.toml")
    assert saved.results["first"].status is TaskStatus.SUCCESS
    assert saved.results["finishes_in_grace"].status is TaskStatus.CANCELLED
    assert saved.results["outlives_grace"].status is TaskStatus.CANCELLED


def test_a_signal_during_the_last_task_keeps_the_run_s_own_status(ws: Workspace) -> None:
    run = ws.start(
        "launch", f"{RECORDER}:lone", "--headless", "--checkpoint", "ck.toml", "--output", "jsonl"
    )
    ws.wait_started("only")
    run.send(signal.SIGTERM)
    run.wait_for_output("received SIGTERM")
    ws.open_gate("only")  # the last task ends within the grace period
    result = run.wait(timeout=20)
    assert result.returncode == 143, result  # a signal stopped the process...
    events = check_jsonl(result, {"only"})
    assert by_task(events, "task_end")["only"]["status"] == "success"
    # ... but nothing was cut off: the run finished, and says so.
    assert events[-1]["status"] == "finished"
    assert Snapshot.load(ws.path / "ck.toml").status == "finished"
