"""A workflow for the control tests, steered by files: each body appends `NAME` to
$FLOW_TUI_TEST_LOG when it starts and `NAME:done` when it returns; a gated body waits
until the file $FLOW_TUI_TEST_GATES/NAME exists, so a test decides when it ends.

`workflow`: `first` (fast), then `charge` (gated, not idempotent) and `load` (gated),
then `report` after both. `chatty`: one gated task, then `talk`, which prints
$FLOW_TUI_TEST_LINES lines (default 0) of 3 KB each: the events a slow viewer misses.
`frozen`: `freeze` blocks the run's event loop (a body that never awaits) until its gate.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from flow_tui import TaskStep, Workflow


def record(line: str) -> None:
    with open(os.environ["FLOW_TUI_TEST_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def wait_for_gate(name: str) -> None:
    gate = Path(os.environ["FLOW_TUI_TEST_GATES"]) / name
    while not gate.exists():
        await asyncio.sleep(0.01)


def body(name: str, gated: bool = False) -> Callable[[object], Awaitable[str]]:
    async def run(ctx: object) -> str:
        record(name)
        if gated:
            await wait_for_gate(name)
        record(f"{name}:done")
        return name

    return run


def talk(ctx: object) -> int:
    lines = int(os.environ.get("FLOW_TUI_TEST_LINES", "0"))
    text = "x" * 3000
    for i in range(lines):
        print(f"{i} {text}")
    record("talk:done")
    return lines


workflow = Workflow(
    name="steered",
    concurrency=4,
    steps=[
        TaskStep("first", body("first")),
        TaskStep("charge", body("charge", gated=True), ["first"], idempotent=False),
        TaskStep("load", body("load", gated=True), ["first"]),
        TaskStep("report", body("report"), ["charge", "load"]),
    ],
)

chatty = Workflow(
    name="chatty",
    steps=[
        TaskStep("hold", body("hold", gated=True)),
        TaskStep("talk", talk, ["hold"]),
        TaskStep("last", body("last", gated=True), ["talk"]),
    ],
)


async def freeze(ctx: object) -> str:
    record("freeze")
    gate = Path(os.environ["FLOW_TUI_TEST_GATES"]) / "freeze"
    while not gate.exists():
        time.sleep(0.01)  # no await: the loop, and the run's socket, stand still
    return "thawed"


frozen = Workflow(name="frozen", steps=[TaskStep("freeze", freeze)])


async def hold_on(ctx: object) -> str:
    """A body that swallows its cancellation: the run must force its exit."""
    record("hold_on")
    gate = Path(os.environ["FLOW_TUI_TEST_GATES"]) / "hold_on"
    while not gate.exists():
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            continue
    return "let go"


stubborn = Workflow(name="stubborn", steps=[TaskStep("hold_on", hold_on)])
