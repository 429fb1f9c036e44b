"""The JSON Lines schema of `--output jsonl`, checked line by line on real runs."""

from __future__ import annotations

from pathlib import Path

from flowcli import WORKFLOWS, Workspace, by_task, check_jsonl

MIXED = WORKFLOWS / "mixed.py"
MIXED_TASKS = {"flaky", "broken", "after_broken", "polished", "conditional"}


def test_every_line_of_a_run_with_retries_a_failure_and_skips(ws: Workspace) -> None:
    result = ws.run("launch", MIXED, "--headless", "--output", "jsonl")
    assert result.returncode == 1, result
    assert result.stderr == ""
    events = check_jsonl(result, MIXED_TASKS)

    assert events[0] == {
        "event": "workflow_start",
        "ts": events[0]["ts"],
        "workflow": "mixed",
        "tasks": 5,
        "kept": [],
        "control": events[0]["control"],
        "executor": {"executor": "local"},
    }
    assert events[0]["control"].endswith(".sock")  # the run's socket, removed at exit
    assert not Path(events[0]["control"]).exists()
    retries = [e for e in events if e["event"] == "task_retry"]
    assert [(e["task"], e["attempt"], e["error"]) for e in retries] == [
        ("flaky", 2, "ConnectionError: flaky failure 1"),
        ("flaky", 3, "ConnectionError: flaky failure 2"),
    ]
    assert all(e["delay_s"] == 0.01 for e in retries)

    starts = by_task(events, "task_start")
    assert set(starts) == {"flaky", "broken", "polished"}  # skipped tasks never start
    assert all(e["attempt"] == 1 and e["status"] == "running" for e in starts.values())

    ends = by_task(events, "task_end")
    assert set(ends) == {"flaky", "broken", "polished"}
    assert ends["flaky"]["status"] == "success" and ends["flaky"]["attempt"] == 3
    assert ends["broken"]["status"] == "failure"
    assert ends["broken"]["error"] == "ValueError: broken on purpose"
    assert ends["broken"]["attempt"] == 1
    assert ends["polished"]["message"] == "all good"
    assert "error" not in ends["polished"]

    skips = by_task(events, "task_skipped")
    assert set(skips) == {"after_broken", "conditional"}
    assert "'broken'" in skips["after_broken"]["message"]
    assert "condition" in skips["conditional"]["message"]

    order = [e["event"] for e in events]
    assert order[-2:] == ["workflow_end", "summary"]
    assert events[-2]["status"] == "failed"
    summary = events[-1]
    assert summary["workflow"] == "mixed"
    assert summary["exit_code"] == 1
    assert summary["failed"] == ["broken"]
    assert summary["counts"] == {
        "success": 2,
        "failure": 1,
        "skipped": 2,
        "cancelled": 0,
        "running": 0,
        "pending": 0,
    }
    assert summary["checkpoint"] is None
    assert "signal" not in summary
    # Times are in order.
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)


def test_timeout_reports_an_end_for_every_task_including_those_never_started(
    ws: Workspace,
) -> None:
    tasks = {"first", "finishes_in_grace", "outlives_grace", "after_in_grace", "after_outlives"}
    result = ws.run(
        "launch", WORKFLOWS / "recorder.py", "--headless", "--output", "jsonl", "--timeout", "0.5"
    )
    assert result.returncode == 1, result
    events = check_jsonl(result, tasks)
    ends = by_task(events, "task_end")
    assert ends["first"]["status"] == "success"
    for name in tasks - {"first"}:
        assert ends[name]["status"] == "cancelled", ends[name]
        assert ends[name]["message"] == "workflow timed out after 0.5s"
    assert "attempt" not in ends["after_in_grace"]  # its body never ran
    assert events[-1]["status"] == "cancelled"
    assert events[-1]["counts"]["cancelled"] == 4


def test_resume_plan_event_comes_first_when_resuming(ws: Workspace) -> None:
    assert ws.run("launch", MIXED, "--headless", "--checkpoint", "ck.json").returncode == 1
    result = ws.run(
        "launch", MIXED, "--headless", "--resume", "ck.json", "--checkpoint", "ck.json",
        "--output", "jsonl",
    )  # fmt: skip
    events = check_jsonl(result, MIXED_TASKS)
    plan = events[0]
    assert plan["event"] == "resume_plan"
    assert plan["snapshot"] == "ck.json"
    assert sorted(plan["kept"]) == ["flaky", "polished"]
    assert plan["rerun"] == {
        "broken": "failed",
        "after_broken": "skipped",
        "conditional": "skipped",
    }
    assert plan["new"] == [] and plan["removed"] == [] and plan["graph_changed"] is False
    assert events[1]["event"] == "workflow_start"
    assert sorted(events[1]["kept"]) == ["flaky", "polished"]
    assert "flaky" not in by_task(events, "task_start")
