"""Headless output a machine can trust, through the real `flow-tui` process: what task
bodies print and log never lands in the event stream (tests/cli/workflows/chatty.py)."""

from __future__ import annotations

import pytest
from flowcli import WORKFLOWS, Workspace, by_task, check_jsonl

CHATTY = WORKFLOWS / "chatty.py"
TALKERS = ("async_a", "async_b", "sync_a", "sync_b")


def test_task_prints_become_task_log_events_and_every_stdout_line_is_json(
    ws: Workspace,
) -> None:
    # Two async bodies and two sync bodies (worker threads) print at the same time, half a
    # line each in turn: every line is still whole and attributed to its own task.
    result = ws.run("launch", CHATTY, "--headless", "--output", "jsonl")
    assert result.returncode == 0, result
    events = check_jsonl(result, {*TALKERS, "quiet"})  # every line parsed as JSON
    assert result.stderr == "", result
    logs = [e for e in events if e["event"] == "task_log"]
    for name in TALKERS:
        printed = [e["message"] for e in logs if e["task"] == name and e["stream"] == "stdout"]
        assert printed == [f"{name} says line {i}" for i in range(3)], logs
        logged = [(e["level"], e["message"]) for e in logs if e["task"] == name and "level" in e]
        level = "INFO" if name.startswith("async") else "WARNING"
        assert logged == [(level, f"{name} logged at {level.lower()}")], logs
        # Each line arrives while its task runs: after its start, before its end.
        positions = [i for i, e in enumerate(events) if e.get("task") == name]
        assert events[positions[0]]["event"] == "task_start", events
        assert events[positions[-1]]["event"] == "task_end", events
    assert not [e for e in logs if e["task"] == "quiet"]


@pytest.mark.parametrize("output", ["plain", "rich"])
def test_task_warnings_and_errors_show_with_the_task_name_and_info_only_when_verbose(
    ws: Workspace, output: str
) -> None:
    result = ws.run("launch", f"{CHATTY}:levels", "--headless", "--output", output)
    assert result.returncode == 0, result
    err = result.stderr_lines
    for line in (
        "[leveled] WARNING: warning from leveled",
        "[leveled] ERROR: error from leveled",
        "[leveled] stderr: stderr from leveled",
        "[sync_leveled] ERROR: error from sync_leveled",
        "[sync_leveled] stderr: stderr from sync_leveled",
    ):
        assert any(shown.endswith(line) for shown in err), (line, result)
    assert len(err) == 5, result
    for quiet in ("info from leveled", "stdout from leveled", "stdout from sync_leveled"):
        assert quiet not in result.stdout + result.stderr, result
    assert "from leveled" not in result.stdout  # stdout keeps the reporter's own lines

    verbose = ws.run("launch", f"{CHATTY}:levels", "--headless", "--output", output, "--verbose")
    assert verbose.returncode == 0, verbose
    for line in (
        "[leveled] INFO: info from leveled",
        "[leveled] stdout from leveled",
        "[sync_leveled] stdout from sync_leveled",
        "[leveled] ERROR: error from leveled",
    ):
        assert any(shown.endswith(line) for shown in verbose.stderr_lines), (line, verbose)
    assert len(verbose.stderr_lines) == 8, verbose


def test_a_failure_shows_the_exception_type_and_its_traceback_in_plain_output(
    ws: Workspace,
) -> None:
    result = ws.run("launch", f"{CHATTY}:failing", "--headless", "--output", "plain")
    assert result.returncode == 1, result
    lines = result.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if " FAILED ingest " in line)
    assert lines[failed].endswith(": ValueError: bad payload"), result
    traceback = lines[failed + 1 : failed + 7]
    assert traceback[0] == "    Traceback (most recent call last):", result
    assert traceback[1].endswith(", in ingest") and traceback[3].endswith(", in parse")
    assert traceback[-1] == "    ValueError: bad payload", result
    assert lines[-1].endswith("failed ingest: ValueError: bad payload"), result


def test_a_failure_in_json_lines_carries_its_type_and_traceback(ws: Workspace) -> None:
    result = ws.run("launch", f"{CHATTY}:failing", "--headless", "--output", "jsonl")
    assert result.returncode == 1, result
    events = check_jsonl(result, {"ingest", "after"})
    end = by_task(events, "task_end")["ingest"]
    assert end["error"] == "ValueError: bad payload", end
    assert end["traceback"].startswith("Traceback (most recent call last):"), end
    assert 'in parse\n    raise ValueError(f"bad {payload}")\n' in end["traceback"], end
    assert end["traceback"].endswith("ValueError: bad payload\n"), end
    assert "traceback" not in by_task(events, "task_skipped")["after"]
    logs = [(e["task"], e["stream"], e["message"]) for e in events if e["event"] == "task_log"]
    assert logs == [("ingest", "stdout", "ingesting")]
