"""The workflow the end-to-end test launches with the real `flow-tui` command.

Each task appends its name to $FLOW_TUI_E2E_LOG when it succeeds; `transform` waits
until the file $FLOW_TUI_E2E_GATE exists, so the test can pause while it runs.
"""

from __future__ import annotations

import asyncio
import os

from flow_tui import TaskStep, Workflow

LOG = os.environ.get("FLOW_TUI_E2E_LOG", "e2e.log")
GATE = os.environ.get("FLOW_TUI_E2E_GATE", "e2e.gate")


def record(name: str) -> None:
    with open(LOG, "a", encoding="utf-8") as fh:
        fh.write(name + "\n")


async def extract(ctx: object) -> None:
    record("extract")


async def prepare(ctx: object) -> None:
    record("prepare")


async def transform(ctx: object) -> None:
    while not os.path.exists(GATE):
        await asyncio.sleep(0.02)  # the gate is a file another process creates
    record("transform")


async def publish(ctx: object) -> None:
    record("publish")


async def report(ctx: object) -> None:
    record("report")


workflow = Workflow(
    name="e2e",
    steps=[
        TaskStep("extract", extract),
        TaskStep("prepare", prepare),
        TaskStep("transform", transform, dependencies=["extract", "prepare"]),
        TaskStep("publish", publish, dependencies=["transform"], idempotent=False),
        TaskStep("report", report, dependencies=["transform"]),
    ],
    concurrency=2,
)
