"""Test workflow: six independent tasks that each hold a slot for 0.2 s, then `report`,
whose message is the highest number of tasks that ran at once (`peak=N`)."""

from __future__ import annotations

import asyncio

from flow_tui import TaskResult, TaskStatus, TaskStep, Workflow

WIDTH = 6
state = {"running": 0, "peak": 0}


async def hold(ctx: object) -> None:
    state["running"] += 1
    state["peak"] = max(state["peak"], state["running"])
    try:
        await asyncio.sleep(0.2)
    finally:
        state["running"] -= 1


async def report(ctx: object) -> TaskResult:
    return TaskResult(TaskStatus.SUCCESS, message=f"peak={state['peak']}")


workflow = Workflow(
    name="fanout",
    concurrency=None,
    steps=[
        *(TaskStep(f"hold_{i}", hold) for i in range(WIDTH)),
        TaskStep("report", report, [f"hold_{i}" for i in range(WIDTH)]),
    ],
)
