"""A generated graph of a few thousand tasks, for the dashboard and benchmarks.

    flow-tui launch sample_workflows/large_graph.py
    FLOW_TUI_TASKS=20000 FLOW_TUI_TASK_SECONDS=0 flow-tui launch --headless sample_workflows/large_graph.py

Layers of FLOW_TUI_WIDTH tasks (default 100), each depending on two tasks of the layer
above; every task sleeps FLOW_TUI_TASK_SECONDS (default 0.002).
"""

from __future__ import annotations

import asyncio
import os

from flow_tui import TaskStep, Workflow

TASKS = int(os.environ.get("FLOW_TUI_TASKS", "3000"))
WIDTH = max(1, int(os.environ.get("FLOW_TUI_WIDTH", "100")))
SECONDS = float(os.environ.get("FLOW_TUI_TASK_SECONDS", "0.002"))


async def work(ctx: object) -> None:
    if SECONDS > 0:
        await asyncio.sleep(SECONDS)


def _steps() -> list[TaskStep[object]]:
    steps = []
    for i in range(TASKS):
        layer, pos = divmod(i, WIDTH)
        deps = []
        if layer:
            above = (layer - 1) * WIDTH
            deps = [f"L{layer - 1}-{pos:03d}", f"L{layer - 1}-{(pos + 1) % WIDTH:03d}"]
            deps = [d for d in dict.fromkeys(deps) if int(d.split("-")[1]) + above < i]
        steps.append(TaskStep(name=f"L{layer}-{pos:03d}", run=work, dependencies=deps))
    return steps


workflow = Workflow(name="large-graph", steps=_steps(), concurrency=64)
