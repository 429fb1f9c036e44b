"""A run that fails, then succeeds when retried: `slow` waits until the file
$FLOW_TUI_E2E_GATE exists (the run's clock ticks meanwhile); `flaky` fails until the file
$FLOW_TUI_E2E_GATE.fixed exists."""

from __future__ import annotations

import asyncio
import os

from flow_tui import TaskStep, Workflow

GATE = os.environ.get("FLOW_TUI_E2E_GATE", "e2e.gate")


async def slow(ctx: object) -> None:
    while not os.path.exists(GATE):
        await asyncio.sleep(0.02)  # the gate is a file another process creates


async def flaky(ctx: object) -> None:
    if not os.path.exists(GATE + ".fixed"):
        raise RuntimeError("not fixed yet")


workflow = Workflow(
    name="retry-flow",
    steps=[TaskStep("slow", slow), TaskStep("flaky", flaky, dependencies=["slow"])],
)
