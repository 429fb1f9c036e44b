"""The workflow an attached dashboard watches, run headless by the real `flow-tui`.

Each body appends `NAME` to $FLOW_TUI_TEST_LOG when it starts and `NAME:done` when it
returns; `charge` (not idempotent) and `load` wait until the file $FLOW_TUI_TEST_GATES/NAME
exists, so a test decides when they end. With $FLOW_TUI_TEST_EXIT_GATE set, the process
stays, once the run has ended, until that file exists (a process slow to exit, as one that
frees a million tasks).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from flow_tui import TaskStep, Workflow


def record(line: str) -> None:
    with open(os.environ["FLOW_TUI_TEST_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def body(name: str, gated: bool = False) -> Callable[[object], Awaitable[str]]:
    async def run(ctx: object) -> str:
        record(name)
        print(f"{name} started")
        if gated:
            gate = Path(os.environ["FLOW_TUI_TEST_GATES"]) / name
            while not gate.exists():
                await asyncio.sleep(0.01)  # the gate is a file the test creates
        record(f"{name}:done")
        return name

    return run


workflow = Workflow(
    name="attach-flow",
    concurrency=4,
    steps=[
        TaskStep("extract", body("extract")),
        TaskStep("charge", body("charge", gated=True), ["extract"], idempotent=False),
        TaskStep("load", body("load", gated=True), ["extract"]),
        TaskStep("report", body("report"), ["charge", "load"]),
    ],
)


def _wait_for_exit_gate(gate: Path) -> None:
    deadline = time.monotonic() + 60  # a test that failed does not leave it for long
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


if os.environ.get("FLOW_TUI_TEST_EXIT_GATE"):
    atexit.register(_wait_for_exit_gate, Path(os.environ["FLOW_TUI_TEST_EXIT_GATE"]))
