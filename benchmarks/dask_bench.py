"""Issue 13's Dask figures, side by side in one run:

    python -m benchmarks.dask_bench            # (or: python benchmarks/dask_bench.py)

overhead     2,000 no-op tasks through flow-tui on a LocalCluster (2 worker processes) vs
             the same function sent with raw `client.submit`, awaited with the same
             concurrency on the same cluster (target <= 1.2x)
parallelism  200 sync tasks of ~50 ms of pure-Python CPU: that LocalCluster vs the local
             executor (threads) (target >= 1.4x faster, and >= 90% of the speedup raw
             `client.submit` reaches on the same cluster)
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from distributed import Client, LocalCluster

from flow_tui import TaskRunnerBuilder, TaskStep
from flow_tui.dask import DaskInvoker

NOOPS = 2000
CPU_TASKS = 200
CONCURRENCY = 8


def noop(ctx: Any) -> None:
    return None


def burn(ctx: Any) -> int:
    """About 50 ms of pure-Python CPU here."""
    total = 0
    for i in range(700_000):
        total += i * i % 7
    return total


async def raw(client: Client, fn: Any, n: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await client.submit(fn, None, key=f"raw-{i}-{time.perf_counter_ns()}", pure=False)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start


async def flow(invoker: Any, fn: Any, n: int, concurrency: int) -> float:
    steps: list[TaskStep[Any]] = [TaskStep(f"t{i}", fn) for i in range(n)]
    builder = TaskRunnerBuilder()
    if invoker is not None:
        builder.with_invoker(invoker)
    start = time.perf_counter()
    results = await builder.build().execute(steps, concurrency=concurrency)
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results.values()), [r.error for r in results.values() if not r.ok]
    return elapsed


async def main() -> None:
    t = time.perf_counter()
    burn(None)
    print(f"one burn() here: {1000 * (time.perf_counter() - t):.0f} ms; cores {os.cpu_count()}")
    cluster = await LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        asynchronous=True,
        dashboard_address=None,
        silence_logs=40,
    )
    try:
        async with Client(cluster, asynchronous=True) as client:
            invoker = DaskInvoker(client=client)
            await invoker.start()
            await flow(invoker, noop, 50, CONCURRENCY)  # warm up both paths
            await raw(client, noop, 50, CONCURRENCY)
            raw_s = await raw(client, noop, NOOPS, CONCURRENCY)
            flow_s = await flow(invoker, noop, NOOPS, CONCURRENCY)
            print(
                f"overhead: {NOOPS} no-ops, concurrency {CONCURRENCY}: "
                f"raw submit {raw_s:.2f} s, "
                f"flow-tui {flow_s:.2f} s, ratio {flow_s / raw_s:.2f}x (target <= 1.2x)"
            )
            local_s = await flow(None, burn, CPU_TASKS, 2)
            raw_cpu = await raw(client, burn, CPU_TASKS, 2)
            flow_cpu = await flow(invoker, burn, CPU_TASKS, 2)
            speedup, raw_speedup = local_s / flow_cpu, local_s / raw_cpu
            print(
                f"parallelism: {CPU_TASKS} x burn(), concurrency 2: "
                f"local executor {local_s:.2f} s, "
                f"raw submit {raw_cpu:.2f} s ({raw_speedup:.2f}x), "
                f"flow-tui on Dask {flow_cpu:.2f} s "
                f"({speedup:.2f}x, {100 * speedup / raw_speedup:.0f}% of raw's speedup; "
                "targets >= 1.4x and >= 90%)"
            )
            await invoker.close()
    finally:
        await cluster.close()


if __name__ == "__main__":
    asyncio.run(main())
