"""A workflow of no-op async tasks for CLI benchmarks (self-contained: loaded by path).

    BENCH_TASKS=10000 flow-tui launch benchmarks/workflows/noop_dag.py --headless

BENCH_TASKS (default 10000) tasks in layers of BENCH_WIDTH (default 100), each depending
on two tasks of the layer above; BENCH_CONCURRENCY (default 64, 0 = unlimited).
With BENCH_STRIDE=k instead, task i depends on task i-k (the scale case: k = 100).
"""

from __future__ import annotations

import os

from flow_tui import TaskStep, Workflow

TASKS = int(os.environ.get("BENCH_TASKS", "10000"))
WIDTH = max(1, min(int(os.environ.get("BENCH_WIDTH", "100")), TASKS))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64")) or None
STRIDE = int(os.environ.get("BENCH_STRIDE", "0"))


async def noop(ctx: object) -> None:
    return None


def _deps(i: int) -> tuple[str, ...]:
    if STRIDE:
        return () if i < STRIDE else (f"t{i - STRIDE}",)
    layer, pos = divmod(i, WIDTH)
    if layer == 0:
        return ()
    above = (layer - 1) * WIDTH
    return (f"t{above + pos}", f"t{above + (pos + 1) % WIDTH}")


workflow = Workflow(
    name="bench-noop-dag",
    steps=[TaskStep(name=f"t{i}", run=noop, dependencies=_deps(i)) for i in range(TASKS)],
    concurrency=CONCURRENCY,
)
