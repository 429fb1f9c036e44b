"""Driving the real `flow-tui` process from tests: run it, start it in the background,
wait for what it writes, and check what it printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flow_tui.core import EVENT_NAMES as CORE_EVENT_NAMES

HERE = Path(__file__).resolve().parent
WORKFLOWS = HERE / "workflows"
REPO = HERE.parents[1]
SAMPLES = REPO / "sample_workflows"

TASK_STATUSES = {"success", "failure", "skipped", "cancelled"}


def command() -> list[str]:
    """The installed `flow-tui` script next to this Python, else `python -m flow_tui.cli`."""
    script = Path(sys.executable).with_name("flow-tui")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "flow_tui.cli"]


def base_env(**extra: str) -> dict[str, str]:
    """The test process's environment without anything that changes flow-tui's behaviour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLOW_TUI_") and k not in ("DEPLOY_WEBHOOK", "NO_COLOR")
    }
    env.update(extra)
    return env


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def events(self) -> list[dict[str, Any]]:
        """stdout parsed as JSON Lines (every line must be one JSON object)."""
        out = []
        for line in self.stdout.splitlines():
            obj = json.loads(line)
            assert isinstance(obj, dict), line
            out.append(obj)
        return out

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def assert_usage_error(result: Result, *needles: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback, and the line names `needles`."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    lines = result.stderr_lines
    assert len(lines) == 1, result
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


class Running:
    """A `flow-tui` process in the background, its stdout and stderr going to files."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], name: str) -> None:
        self.out_path = cwd / f"{name}.stdout"
        self.err_path = cwd / f"{name}.stderr"
        self.started = time.monotonic()
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*command(), *args], cwd=cwd, env=env, stdout=out, stderr=err
            )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8")

    def send(self, sig: signal.Signals) -> None:
        assert self.proc.poll() is None, f"process already exited: {self.stderr}"
        self.proc.send_signal(sig)

    def wait_for_output(self, text: str, timeout: float = 15.0, stream: str = "any") -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and text not in self.stdout + self.stderr:
                raise AssertionError(f"exited before printing {text!r}:\n{self.result()}")
            haystack = {"stdout": self.stdout, "stderr": self.stderr}.get(
                stream, self.stdout + self.stderr
            )
            return text in haystack

        wait_until(seen, f"{text!r} in the output", timeout)

    def wait(self, timeout: float = 30.0) -> Result:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"flow-tui still running after {timeout}s:\n{self.result()}"
            ) from None
        return self.result()

    def result(self) -> Result:
        code = self.proc.returncode if self.proc.returncode is not None else -1
        return Result(code, self.stdout, self.stderr, time.monotonic() - self.started)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Workspace:
    """A temporary working folder for one test: the cwd of every flow-tui it runs, the
    call log and the gates of tests/cli/workflows/recorder.py."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log = path / "calls.log"
        self.gates = path / "gates"
        self.gates.mkdir()
        self.env = base_env(
            FLOW_TUI_TEST_LOG=str(self.log),
            FLOW_TUI_TEST_GATES=str(self.gates),
        )
        self._background: list[Running] = []

    def run(
        self, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 30.0
    ) -> Result:
        started = time.monotonic()
        proc = subprocess.run(
            [*command(), *map(str, args)],
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def start(self, *args: str | Path, env: dict[str, str] | None = None) -> Running:
        name = f"run{len(self._background)}"
        running = Running(list(map(str, args)), self.path, {**self.env, **(env or {})}, name)
        self._background.append(running)
        return running

    def calls(self) -> list[str]:
        """Lines of the call log: `NAME` when a body started, `NAME:done` when it returned."""
        if not self.log.exists():
            return []
        return self.log.read_text(encoding="utf-8").splitlines()

    def started(self) -> list[str]:
        return [c for c in self.calls() if ":" not in c]

    def reset_calls(self) -> None:
        self.log.unlink(missing_ok=True)

    def open_gate(self, name: str) -> None:
        (self.gates / name).touch()

    def wait_started(self, *names: str, timeout: float = 15.0) -> None:
        wait_until(lambda: set(names) <= set(self.started()), f"tasks {names} to start", timeout)

    def write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def close(self) -> None:
        for running in self._background:
            running.kill()


# -- JSON Lines ------------------------------------------------------------------------

#: what a headless run writes besides the runner's own events
HEADLESS_EVENT_NAMES = {"resume_plan", "notice", "checkpoint_failed", "task_log", "summary"}
EVENT_NAMES = {*CORE_EVENT_NAMES, *HEADLESS_EVENT_NAMES}
TASK_EVENTS = {"task_start", "task_end", "task_skipped", "task_retry"}


def check_jsonl(result: Result, task_names: set[str]) -> list[dict[str, Any]]:
    """Validate every line of a `--output jsonl` run against the documented schema and
    return the events. Each task reaches exactly one end event (task_end or task_skipped)
    unless it was kept from a snapshot."""
    from datetime import datetime

    events = result.events()
    assert events, result
    for obj in events:
        name = obj.get("event")
        assert name in EVENT_NAMES, obj
        ts = datetime.fromisoformat(obj["ts"])
        assert ts.utcoffset() == timedelta(0), obj
        for key in ("message", "error"):
            if key in obj and name != "task_log":  # a task may print an empty line
                assert isinstance(obj[key], str) and obj[key], obj
        if name in TASK_EVENTS:
            assert obj["task"] in task_names, obj
            assert isinstance(obj["status"], str), obj
        if name == "task_start":
            assert obj["status"] == "running", obj
            assert isinstance(obj["attempt"], int) and obj["attempt"] >= 1, obj
        elif name == "task_retry":
            assert obj["status"] == "retrying", obj
            assert isinstance(obj["attempt"], int) and obj["attempt"] >= 2, obj
            assert isinstance(obj["delay_s"], int | float) and obj["delay_s"] >= 0, obj
        elif name == "task_end":
            assert obj["status"] in TASK_STATUSES, obj
            assert isinstance(obj["duration_ms"], int | float) and obj["duration_ms"] >= 0
            if "attempt" in obj:
                assert isinstance(obj["attempt"], int) and obj["attempt"] >= 1, obj
        elif name == "task_skipped":
            assert obj["status"] == "skipped", obj
            assert obj["message"], obj
            assert "attempt" not in obj, obj
        elif name == "workflow_start":
            assert obj["tasks"] == len(task_names), obj
            assert isinstance(obj["workflow"], str) and isinstance(obj["kept"], list), obj
        elif name == "workflow_end":
            assert obj["status"] in {"finished", "failed", "cancelled"}, obj
        elif name == "notice":
            assert obj["message"], obj
        elif name == "task_log":
            assert obj["task"] in task_names, obj
            assert obj["stream"] in {"stdout", "stderr", "log"}, obj
            assert isinstance(obj["message"], str), obj
            assert ("level" in obj) == (obj["stream"] == "log"), obj
        if "traceback" in obj:
            assert name == "task_end" and obj["status"] == "failure", obj
            assert isinstance(obj["traceback"], str) and obj["traceback"], obj
    # A run starts with its plan or its start, after a notice of what --continue decided.
    first = events[1] if events[0]["event"] == "notice" and len(events) > 1 else events[0]
    assert first["event"] in {"workflow_start", "resume_plan"}, events[:2]
    summary = events[-1]
    assert summary["event"] == "summary", summary
    assert [e["event"] for e in events].count("summary") == 1
    assert summary["exit_code"] == result.returncode, (summary, result)
    assert summary["status"] in {"finished", "failed", "cancelled"}, summary
    counts = summary["counts"]
    assert set(counts) == TASK_STATUSES | {"running", "pending"}, counts
    assert all(isinstance(v, int) and v >= 0 for v in counts.values()), counts
    assert sum(counts.values()) == len(task_names), counts
    assert isinstance(summary["failed"], list) and isinstance(summary["elapsed_s"], int | float)
    assert "workflow" in summary and "checkpoint" in summary, summary
    start = next(e for e in events if e["event"] == "workflow_start")
    final: dict[str, str] = dict.fromkeys(start["kept"], "success")
    for e in events:
        if e["event"] in ("task_end", "task_skipped"):
            final[e["task"]] = e["status"]  # a task interrupted by a pause may end twice
    if counts["running"] == 0 and counts["pending"] == 0:
        # Every task has an end event (or was kept), and the summary counts them all.
        assert set(final) == task_names, (final, start)
        for status in TASK_STATUSES:
            assert counts[status] == list(final.values()).count(status), (status, final)
    return events


def by_task(events: list[dict[str, Any]], event: str) -> dict[str, dict[str, Any]]:
    return {e["task"]: e for e in events if e["event"] == event}
