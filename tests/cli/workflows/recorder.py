"""Test workflows whose bodies leave a trace: each appends `NAME` to the file named by
$FLOW_TUI_TEST_LOG when its body starts and `NAME:done` when it returns. A gated task
waits until the file $FLOW_TUI_TEST_GATES/NAME exists, so a test decides when it ends.

`workflow` (the default) has a fast task, two gated tasks and one dependent of each;
`stubborn` has a gated task that swallows its cancellation and keeps waiting.
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


def stubborn_body(name: str) -> Callable[[object], Awaitable[str]]:
    async def run(ctx: object) -> str:
        record(name)
        while True:
            try:
                await wait_for_gate(name)
                break
            except asyncio.CancelledError:
                record(f"{name}:ignored-cancel")
        record(f"{name}:done")
        return name

    return run


workflow = Workflow(
    name="recorder",
    concurrency=4,
    steps=[
        TaskStep("first", body("first")),
        TaskStep("finishes_in_grace", body("finishes_in_grace", gated=True), ["first"]),
        TaskStep("outlives_grace", body("outlives_grace", gated=True), ["first"]),
        TaskStep("after_in_grace", body("after_in_grace"), ["finishes_in_grace"]),
        TaskStep("after_outlives", body("after_outlives"), ["outlives_grace"]),
    ],
)

stubborn = Workflow(
    name="recorder-stubborn",
    concurrency=4,
    steps=[
        TaskStep("first", body("first")),
        TaskStep("stubborn", stubborn_body("stubborn"), ["first"]),
        TaskStep("cooperative", body("cooperative", gated=True), ["first"]),
        TaskStep("last", body("last"), ["stubborn", "cooperative"]),
    ],
)

lone = Workflow(
    name="recorder-lone",
    steps=[TaskStep("only", body("only", gated=True))],
)
