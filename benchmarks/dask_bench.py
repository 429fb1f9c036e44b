"""Issue 13's Dask figures, side by side in one run, rounds interleaved:

    python -m benchmarks.dask_bench [--rounds 3] [--cpu-rounds 1] [--noops 2000]

The cluster is the one `flow-tui launch --executor dask --dask-workers 2` starts: a
LocalCluster of 2 worker processes of one thread each, started by `DaskInvoker(workers=2)`
(its scheduler never reruns a task after a worker loss: allowed-failures 0). Both sides
use that cluster and that client, the same module-level body, the same concurrency:

raw submit   `client.submit(body, None, key=<unique>, pure=False)` for each task, at most
             `concurrency` futures in flight (an asyncio.Semaphore), each awaited for its
             result (the value comes back to this process)
flow-tui     `TaskRunnerBuilder().with_invoker(invoker).build().execute(steps,
             concurrency=...)` over independent TaskSteps of that body: per task the
             runner's events, results and retries bookkeeping, the call pickled here
             (the body's bytes cached, the context and the dependencies' data), unpickled
             and run on the worker with its output captured, the value pickled back and
             unpickled here; no started-marker (the tasks are idempotent and the scheduler
             does not reschedule)

overhead     2,000 no-op tasks, concurrency 8: flow-tui / raw (target <= 1.2x). Also shown:
             flow-tui on a scheduler that reruns tasks after a worker loss (Dask's
             default, as `--dask-address` may meet: the same cluster with its scheduler's
             allowed-failures set to 3 while a second invoker starts; flow-tui's plugin
             there keeps the no-ops from being rerun, no marker), and the no-ops declared
             not idempotent (a started-marker each: one more round trip worker ->
             scheduler per task, and a hop from the worker's thread to its event loop)
parallelism  200 sync tasks of ~50 ms of pure-Python CPU, concurrency 2: the local executor
             (threads, one GIL) vs raw submit vs flow-tui on the cluster (targets >= 1.4x
             faster than local, and >= 90% of the speedup raw submit reaches)

Each round runs the variants one after the other, in an order that turns each round; the
figures of every round are printed, then the ranges. The machine's other load moves them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from distributed import Client

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
    stamp = time.perf_counter_ns()

    async def one(i: int) -> None:
        async with gate:
            await client.submit(fn, None, key=f"raw-{stamp}-{i}", pure=False)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start


async def flow(invoker: Any, fn: Any, n: int, concurrency: int, idempotent: bool = True) -> float:
    steps: list[TaskStep[Any]] = [TaskStep(f"t{i}", fn, idempotent=idempotent) for i in range(n)]
    builder: TaskRunnerBuilder[Any] = TaskRunnerBuilder()
    if invoker is not None:
        builder.with_invoker(invoker)
    start = time.perf_counter()
    results = await builder.build().execute(steps, concurrency=concurrency)
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results.values()), [r.error for r in results.values() if not r.ok]
    return elapsed


def _set_allowed_failures(value: int) -> Any:
    def set_it(dask_scheduler: Any) -> None:
        dask_scheduler.allowed_failures = value

    return set_it


def _range(values: list[float], unit: str = "") -> str:
    return f"{min(values):.2f}-{max(values):.2f}{unit}"


async def main(rounds: int, cpu_rounds: int, noops: int) -> None:
    t = time.perf_counter()
    burn(None)
    print(f"one burn() here: {1000 * (time.perf_counter() - t):.0f} ms; cores {os.cpu_count()}")
    async with DaskInvoker(workers=2) as invoker:
        client = invoker.client
        assert client is not None
        await client.run_on_scheduler(_set_allowed_failures(3))
        rescheduling = DaskInvoker(client=client)  # sees a scheduler that reschedules
        await rescheduling.start()
        await client.run_on_scheduler(_set_allowed_failures(0))
        assert invoker.describe()["workers"] == 2
        variants: dict[str, Any] = {
            "raw submit": lambda n, fn, c: raw(client, fn, n, c),
            "flow-tui": lambda n, fn, c: flow(invoker, fn, n, c),
            "flow-tui, rescheduling scheduler": lambda n, fn, c: flow(rescheduling, fn, n, c),
            "flow-tui, not idempotent": lambda n, fn, c: flow(invoker, fn, n, c, False),
        }
        for run in variants.values():  # warm up every path
            await run(50, noop, CONCURRENCY)
        times: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(await variants[name](noops, noop, CONCURRENCY))
            base = times["raw submit"][-1]
            print(
                f"overhead round {r + 1}: "
                + ", ".join(
                    f"{name} {times[name][-1]:.2f} s ({times[name][-1] / base:.2f}x)"
                    for name in names
                )
            )
        ratios = [f / b for f, b in zip(times["flow-tui"], times["raw submit"], strict=True)]

        def ratio(name: str) -> str:
            return _range(
                [f / b for f, b in zip(times[name], times["raw submit"], strict=True)], "x"
            )

        print(
            f"overhead: {noops} no-ops, concurrency {CONCURRENCY}, {rounds} rounds: "
            f"raw submit {_range(times['raw submit'], ' s')}, "
            f"flow-tui {_range(times['flow-tui'], ' s')}, ratio {_range(ratios, 'x')} "
            "(target <= 1.2x); on a rescheduling scheduler "
            f"{ratio('flow-tui, rescheduling scheduler')}; "
            f"not idempotent (a started-marker each) {ratio('flow-tui, not idempotent')}"
        )
        cpu: dict[str, list[float]] = {"local": [], "raw": [], "flow": []}
        for r in range(cpu_rounds):
            cpu_order = [("local", None), ("raw", client), ("flow", invoker)]
            cpu_order = cpu_order[r % 3 :] + cpu_order[: r % 3]
            for name, via in cpu_order:
                if name == "raw":
                    cpu[name].append(await raw(client, burn, CPU_TASKS, 2))
                else:
                    cpu[name].append(await flow(via, burn, CPU_TASKS, 2))
            local_s, raw_cpu, flow_cpu = cpu["local"][-1], cpu["raw"][-1], cpu["flow"][-1]
            speedup, raw_speedup = local_s / flow_cpu, local_s / raw_cpu
            print(
                f"parallelism round {r + 1}: {CPU_TASKS} x burn(), concurrency 2: "
                f"local executor {local_s:.2f} s, "
                f"raw submit {raw_cpu:.2f} s ({raw_speedup:.2f}x), "
                f"flow-tui on Dask {flow_cpu:.2f} s "
                f"({speedup:.2f}x, {100 * speedup / raw_speedup:.0f}% of raw's speedup; "
                "targets >= 1.4x and >= 90%)"
            )
        await rescheduling.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="overhead rounds (default 3)")
    parser.add_argument("--cpu-rounds", type=int, default=1, help="parallelism rounds")
    parser.add_argument("--noops", type=int, default=NOOPS, help="no-op tasks per variant")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.cpu_rounds, args.noops))
