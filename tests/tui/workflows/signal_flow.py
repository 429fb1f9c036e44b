"""The workflow the signal end-to-end tests stop with real signals.

`prepare` ends at once; `long_step` (not idempotent) records that it started, then waits
until the file $FLOW_TUI_E2E_GATE exists; `after` depends on it. Every task appends a line
to $FLOW_TUI_E2E_LOG. Variants (`signal_flow.py:NAME`) whose long step ignores its
cancellation: `stubborn`, a sync body (a thread cannot be cancelled), and `swallowing`, an
async body that catches CancelledError.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from flow_tui import TaskStep, Workflow

LOG = os.environ.get("FLOW_TUI_E2E_LOG", "e2e.log")
GATE = os.environ.get("FLOW_TUI_E2E_GATE", "e2e.gate")


def record(line: str) -> None:
    with open(LOG, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def prepare(ctx: object) -> None:
    record("prepare")


async def long_step(ctx: object) -> None:
    record("long_step started")
    while not os.path.exists(GATE):
        await asyncio.sleep(0.02)  # the gate is a file the test creates
    record("long_step done")


def long_step_ignoring_cancel(ctx: object) -> None:
    record("long_step started")
    while not os.path.exists(GATE):
        time.sleep(0.02)
    record("long_step done")


async def after(ctx: object) -> None:
    record("after")


def _flow(name: str, body: Callable[[Any], Any]) -> Workflow:
    return Workflow(
        name=name,
        steps=[
            TaskStep("prepare", prepare),
            TaskStep("long_step", body, dependencies=["prepare"], idempotent=False),
            TaskStep("after", after, dependencies=["long_step"]),
        ],
    )


workflow = _flow("signals", long_step)
stubborn = _flow("signals-stubborn", long_step_ignoring_cancel)


async def long_step_swallowing_cancel(ctx: object) -> None:
    record("long_step started")
    while not os.path.exists(GATE):
        try:
            await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            continue  # a body that swallows its cancellation keeps the run alive


swallowing = _flow("signals-swallowing", long_step_swallowing_cancel)
