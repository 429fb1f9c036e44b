"""The step lists every case runs: shapes of no-op async tasks, the same for both runners.

Shapes (n tasks in all):
- independent: n tasks, no dependencies;
- layered: layers of 100 tasks, each depending on 2 tasks of the layer above;
- chain: chains of 1,000 tasks, each depending on the one before (n / 1,000 chains);
- fan_in: blocks of 10,000 tasks: 9,999 independent ones, then one task after all of
  them (n / 10,000 blocks; one block when n <= 10,000).

And one more for the scale case (`python -m benchmarks --scale`), not among SHAPES:
- stride: task i depends on task i-100 (the first 100 have none): 100 interleaved chains,
  so at concurrency 64 there is always ready work.
"""

from __future__ import annotations

from typing import Any

from flow_tui import TaskStep

SHAPES = ("independent", "layered", "chain", "fan_in")
LAYER_WIDTH = 100
CHAIN_LENGTH = 1000
FAN_IN_BLOCK = 10_000
STRIDE = 100


async def noop(context: Any) -> None:
    """The body of every benchmark task: an async function that does nothing."""
    return None


def _name(i: int) -> str:
    return f"t{i}"


def dependencies(shape: str, n: int) -> list[tuple[str, ...]]:
    """The dependency names of each of the `n` tasks of `shape` (task i is named t<i>)."""
    if shape == "independent":
        return [()] * n
    if shape == "layered":
        width = min(LAYER_WIDTH, n)
        out: list[tuple[str, ...]] = []
        for i in range(n):
            layer, pos = divmod(i, width)
            if layer == 0:
                out.append(())
                continue
            above = (layer - 1) * width
            out.append((_name(above + pos), _name(above + (pos + 1) % width)))
        return out
    if shape == "chain":
        length = min(CHAIN_LENGTH, n)
        return [() if i % length == 0 else (_name(i - 1),) for i in range(n)]
    if shape == "fan_in":
        block = min(FAN_IN_BLOCK, n)
        out = []
        for i in range(n):
            start = i - i % block
            last = min(start + block, n) - 1
            if i == last and last > start:
                out.append(tuple(_name(k) for k in range(start, last)))
            else:
                out.append(())
        return out
    if shape == "stride":
        return [() if i < STRIDE else (_name(i - STRIDE),) for i in range(n)]
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}, stride")


def make_steps(shape: str, n: int) -> list[TaskStep[Any]]:
    """`n` no-op TaskSteps of `shape`; the baseline runs the very same objects."""
    return [
        TaskStep(name=_name(i), run=noop, dependencies=deps)
        for i, deps in enumerate(dependencies(shape, n))
    ]
