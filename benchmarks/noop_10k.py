"""Time to run 10,000 no-op tasks with flow-tui's runner: all independent, and layered.

    python benchmarks/noop_10k.py [N]

The full suite (`python -m benchmarks`) compares every case with a lean asyncio baseline;
this script is the quick answer to "how long do 10k tasks take here".
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from flow_tui import TaskRunnerBuilder, TaskStep


async def noop(ctx: object) -> None:
    return None


def independent(n: int) -> list[TaskStep[object]]:
    return [TaskStep(f"t{i}", noop) for i in range(n)]


def layered(n: int, width: int = 100) -> list[TaskStep[object]]:
    return [
        TaskStep(f"t{i}", noop, [f"t{i - width}", f"t{i - width + 1}"] if i >= width else [])
        for i in range(n)
    ]


async def timed(steps: list[TaskStep[object]], concurrency: int | None) -> float:
    start = time.perf_counter()
    await TaskRunnerBuilder(None).build().execute(steps, concurrency=concurrency)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    for shape, steps in (("independent", independent(n)), ("layered", layered(n))):
        for concurrency in (None, 64):
            times = [asyncio.run(timed(steps, concurrency)) for _ in range(7)]
            best, median = min(times), statistics.median(times)
            label = "unlimited" if concurrency is None else str(concurrency)
            print(
                f"{shape:12} {n} tasks, concurrency {label:>9}: median {median * 1000:6.1f} ms "
                f"(best {best * 1000:6.1f} ms, {median / n * 1e6:.2f} us/task)"
            )


if __name__ == "__main__":
    main()
