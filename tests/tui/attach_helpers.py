"""A headless `flow-tui` run in the background for the attach tests: its own short
runtime folder, gates that end its tasks, its JSON Lines and its call log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from flowcli import Running, base_env, wait_until

from flow_tui.control.registry import RunInfo, list_runs

ATTACH_FLOW = Path(__file__).parent / "workflows" / "attach_flow.py"


class HeadlessRun:
    """`flow-tui launch attach_flow.py --headless --output jsonl --checkpoint ck.toml`."""

    def __init__(self, folder: Path, runtime: Path, *extra: str, exit_gate: bool = False) -> None:
        """`exit_gate`: once the run has ended, its process stays until `open("exit")`."""
        self.folder = folder
        self.runtime = runtime
        self.gates = folder / "gates"
        self.gates.mkdir(exist_ok=True)
        self.log = folder / "calls.log"
        gate = {"FLOW_TUI_TEST_EXIT_GATE": str(self.gates / "exit")} if exit_gate else {}
        self.env = base_env(
            FLOW_TUI_RUNTIME_DIR=str(runtime),
            FLOW_TUI_TEST_LOG=str(self.log),
            FLOW_TUI_TEST_GATES=str(self.gates),
            **gate,
        )
        args = ["launch", str(ATTACH_FLOW), "--headless", "--output", "jsonl"]
        args += ["--checkpoint", "ck.toml", *extra]
        self.process = Running(args, folder, self.env, "run")

    def info(self) -> RunInfo:
        """The run's record, once its socket is served (the test's DIR_ENV is `runtime`)."""
        pid = self.process.proc.pid
        found: list[RunInfo] = []

        def served() -> bool:
            if self.process.proc.poll() is not None:
                raise AssertionError(f"the run exited:\n{self.process.result()}")
            found[:] = [r for r in list_runs() if r.pid == pid]
            return bool(found)

        wait_until(served, "the run's control socket")
        return found[0]

    def events(self) -> list[dict[str, Any]]:
        """The run's JSON Lines so far (whole lines only)."""
        text = self.process.stdout
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
        return [json.loads(line) for line in lines if line.strip()]

    def event_names(self) -> list[str]:
        return [e.get("event", "") for e in self.events()]

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def started(self) -> list[str]:
        return [c for c in self.calls() if ":" not in c]

    def wait_started(self, *names: str) -> None:
        wait_until(lambda: set(names) <= set(self.started()), f"{names} to start")

    def open(self, gate: str) -> None:
        (self.gates / gate).touch()

    def kill(self) -> None:
        self.process.kill()
