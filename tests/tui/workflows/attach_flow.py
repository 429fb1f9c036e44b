"""The workflow an attached dashboard watches, run headless by the real `flow-tui`.

Each body appends `NAME` to $FLOW_TUI_TEST_LOG when it starts and `NAME:done` when it
returns; `charge` (not idempotent) and `load` wait until the file $FLOW_TUI_TEST_GATES/NAME
exists, so a test decides when they end.
"""

from __future__ import annotations

import asyncio
import os
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
