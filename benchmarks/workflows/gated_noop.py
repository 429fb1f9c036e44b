"""No-op tasks behind a gate, for benchmarks that set something up before the run's work
starts (e.g. viewers attached to its control socket): loaded by path.

    BENCH_GATE=/tmp/go flow-tui launch benchmarks/workflows/gated_noop.py --headless

Task `gate` waits until the file $BENCH_GATE exists; then BENCH_TASKS (default 5000)
no-op tasks in layers of BENCH_WIDTH (default 100), each depending on two tasks of the
layer above (the first layer on `gate`); BENCH_CONCURRENCY (default 64, 0 = unlimited).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from flow_tui import TaskStep, Workflow

TASKS = int(os.environ.get("BENCH_TASKS", "5000"))
WIDTH = max(1, min(int(os.environ.get("BENCH_WIDTH", "100")), TASKS))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64")) or None
GATE = Path(os.environ.get("BENCH_GATE", "/nonexistent/gate"))


async def wait_for_gate(ctx: object) -> None:
    while not GATE.exists():
        await asyncio.sleep(0.002)


async def noop(ctx: object) -> None:
    return None


def _deps(i: int) -> tuple[str, ...]:
    layer, pos = divmod(i, WIDTH)
    if layer == 0:
        return ("gate",)
    above = (layer - 1) * WIDTH
    return (f"t{above + pos}", f"t{above + (pos + 1) % WIDTH}")


workflow = Workflow(
    name="bench-gated-noop",
    steps=[
        TaskStep(name="gate", run=wait_for_gate),
        *(TaskStep(name=f"t{i}", run=noop, dependencies=_deps(i)) for i in range(TASKS)),
    ],
    concurrency=CONCURRENCY,
)
