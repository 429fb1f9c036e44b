"""A small workflow whose task `wait` blocks until the file named by CK_GATE exists, and
whose every body appends its name to CK_CALLS (when set). With CK_DATA_BYTES, each task
returns that many bytes of text as its data (to fill a small disk)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from flow_tui import TaskStep, Workflow


def _record(name: str) -> None:
    calls = os.environ.get("CK_CALLS")
    if calls:
        with open(calls, "a") as fh:
            fh.write(name + "\n")


def _body(name: str) -> Callable[[object], Awaitable[object]]:
    size = int(os.environ.get("CK_DATA_BYTES", "0"))

    async def body(ctx: object) -> object:
        _record(name)
        if name == "wait":
            gate = Path(os.environ["CK_GATE"])
            while not gate.exists():
                await asyncio.sleep(0.005)
        return "x" * size if size else None

    return body


TASKS = int(os.environ.get("CK_TASKS", "20"))
steps: list[TaskStep[object]] = []
if os.environ.get("CK_GATE"):
    steps.append(TaskStep(name="wait", run=_body("wait")))
for i in range(TASKS):
    deps = ["wait"] if os.environ.get("CK_GATE") else []
    steps.append(TaskStep(name=f"t{i:03d}", run=_body(f"t{i:03d}"), dependencies=deps))

workflow = Workflow(name="gated", steps=steps, concurrency=4)
