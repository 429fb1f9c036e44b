"""Issue 13's Dask figures, side by side in one run, rounds interleaved:

    python -m benchmarks.dask_bench [--rounds 3] [--cpu-rounds 1] [--noops 2000]

The cluster is the one `flow-tui launch --executor dask --dask-workers 2` starts: a
LocalCluster of 2 worker processes of one thread each, started by `DaskInvoker(workers=2)`
(its scheduler never reruns a task after a worker loss: allowed-failures 0; it lives in
this process, as with flow-tui). Both sides use that cluster and that client, the same
module-level body, the same concurrency, keys of the same shape (f"{name}{i}-{uuid4
hex}", a prefix of their own per side and task as flow-tui's task names give):

raw submit   `client.submit(body, None, key=..., pure=False)` for each task from
             `concurrency` coroutines that take the next task as their future ends (the
             leanest way to keep that many in flight: no waiting coroutine per task), each
             future awaited for its result (the value comes back to this process)
flow-tui     `TaskRunnerBuilder().with_invoker(invoker).build().execute(steps,
             concurrency=...)` over independent TaskSteps of that body: per task the
             runner's events, results and retries bookkeeping, the call pickled here
             (the body's bytes cached, the context and the dependencies' data), unpickled
             and run on the worker with its output captured, the value pickled back and
             unpickled here; no started-marker (the tasks are idempotent and the scheduler
             does not reschedule)

overhead     2,000 no-op tasks, concurrency 8: flow-tui / raw on the clock (target <=
             1.2x), and in CPU time (this process, scheduler included, plus the workers:
             less moved by the machine's other load). Also shown: flow-tui on a scheduler
             that reruns tasks after a worker loss (Dask's default, as `--dask-address`
             may meet: the same cluster with its scheduler's allowed-failures set to 3
             while a second invoker starts; flow-tui's plugin there keeps the no-ops from
             being rerun, no marker), and the no-ops declared not idempotent (a
             started-marker each: one more round trip worker -> scheduler per task, and a
             hop from the worker's thread to its event loop)
parallelism  200 sync tasks of ~50 ms of pure-Python CPU, concurrency 2: the local executor
             (threads, one GIL) vs raw submit vs flow-tui on the cluster (targets >= 1.4x
             faster than local, and >= 90% of the speedup raw submit reaches)

Each round runs the variants one after the other, in an order that turns each round; the
figures of every round are printed, then the ranges and medians. The machine's other
load moves them: on 2 cores shared with other jobs, read several rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
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


async def raw(client: Client, fn: Any, n: int, concurrency: int, tag: str = "r") -> float:
    todo = iter(range(n))

    async def lane() -> None:  # `concurrency` lanes, each one future in flight at a time
        for i in todo:  # keys shaped as flow-tui's: f"{task name}-{uuid4 hex}"
            await client.submit(fn, None, key=f"{tag}{i}-{uuid.uuid4().hex}", pure=False)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - start


async def flow(
    invoker: Any, fn: Any, n: int, concurrency: int, idempotent: bool = True, tag: str = "t"
) -> float:
    steps: list[TaskStep[Any]] = [
        TaskStep(f"{tag}{i}", fn, idempotent=idempotent) for i in range(n)
    ]
    builder: TaskRunnerBuilder[Any] = TaskRunnerBuilder()
    if invoker is not None:
        builder.with_invoker(invoker)
    start = time.perf_counter()
    results = await builder.build().execute(steps, concurrency=concurrency)
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results.values()), [r.error for r in results.values() if not r.ok]
    return elapsed


async def cpu_seconds(client: Client) -> float:
    """CPU time so far of this process (the client, the runner, and the LocalCluster's
    scheduler, which lives here) and of the worker processes."""
    workers: dict[str, float] = await client.run(time.process_time)
    return time.process_time() + sum(workers.values())


def _set_allowed_failures(value: int) -> Any:
    def set_it(dask_scheduler: Any) -> None:
        dask_scheduler.allowed_failures = value

    return set_it


def _range(values: list[float], unit: str = "") -> str:
    return f"{min(values):.2f}-{max(values):.2f}{unit} (median {statistics.median(values):.2f})"


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
            "raw submit": lambda n, fn, c: raw(client, fn, n, c, "r"),
            "flow-tui": lambda n, fn, c: flow(invoker, fn, n, c, True, "t"),
            "rescheduling scheduler": lambda n, fn, c: flow(rescheduling, fn, n, c, True, "s"),
            "not idempotent": lambda n, fn, c: flow(invoker, fn, n, c, False, "x"),
        }
        for run in variants.values():  # warm up every path
            await run(50, noop, CONCURRENCY)
        names = list(variants)
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu_s: dict[str, list[float]] = {name: [] for name in names}
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                before = await cpu_seconds(client)
                wall[name].append(await variants[name](noops, noop, CONCURRENCY))
                cpu_s[name].append(await cpu_seconds(client) - before)
            print(
                f"overhead round {r + 1}: "
                + ", ".join(
                    f"{name} {wall[name][-1]:.2f} s ({wall[name][-1] / wall[names[0]][-1]:.2f}x;"
                    f" CPU {cpu_s[name][-1]:.2f} s)"
                    for name in names
                )
            )

        def ratios(times: dict[str, list[float]], name: str) -> list[float]:
            return [f / b for f, b in zip(times[name], times[names[0]], strict=True)]

        print(
            f"overhead: {noops} no-ops, concurrency {CONCURRENCY}, {rounds} rounds: "
            f"raw submit {_range(wall['raw submit'], ' s')}, "
            f"flow-tui {_range(wall['flow-tui'], ' s')}"
        )
        for name in names[1:]:
            print(
                f"  {name}: ratio {_range(ratios(wall, name), 'x')}, "
                f"in CPU time {_range(ratios(cpu_s, name), 'x')}"
                + (" (target <= 1.2x)" if name == "flow-tui" else "")
            )
        cpu: dict[str, list[float]] = {"local": [], "raw": [], "flow": []}
        for r in range(cpu_rounds):
            cpu_order = [("local", None), ("raw", client), ("flow", invoker)]
            cpu_order = cpu_order[r % 3 :] + cpu_order[: r % 3]
            for name, via in cpu_order:
                if name == "raw":
                    cpu[name].append(await raw(client, burn, CPU_TASKS, 2, "rb"))
                else:
                    cpu[name].append(await flow(via, burn, CPU_TASKS, 2, True, f"{name}b"))
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
