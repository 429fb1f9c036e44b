"""The workflow the crash tests kill: 60 short tasks in a small DAG, a few non-idempotent.

Every body appends `B <pid> <task>` to the call log named by CRASH_CALL_LOG when it starts
and `E <pid> <task>` just before it returns (O_APPEND writes: a SIGKILL loses neither),
so the test knows exactly which bodies began and which completed in which process.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib

from flow_tui import TaskStep, Workflow

LAYERS = 10
WIDTH = 6
CONCURRENCY = 4
NON_IDEMPOTENT = frozenset({"L1-2", "L3-5", "L5-0", "L6-3", "L8-1"})
SYNC_BODIES = frozenset({"L0-4", "L2-1", "L4-4", "L7-2", "L9-5"})  # run in worker threads
WITH_DATA = frozenset({"L2-3", "L4-0", "L6-5", "L9-0"})  # return data: the general codec path


def name(layer: int, pos: int) -> str:
    return f"L{layer}-{pos}"


def dependencies(layer: int, pos: int) -> list[str]:
    if layer == 0:
        return []
    deps = [name(layer - 1, pos), name(layer - 1, (pos + 1) % WIDTH)]
    if layer >= 2 and pos % 3 == 0:
        deps.append(name(layer - 2, (pos + 2) % WIDTH))
    return deps


def _log(kind: str, task: str) -> None:
    fd = os.open(os.environ["CRASH_CALL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{kind} {os.getpid()} {task}\n".encode())
    finally:
        os.close(fd)


def _seconds(task: str) -> float:
    return (zlib.crc32(task.encode()) % 12 + 2) / 1000.0  # 2..13 ms, fixed per task


def _make_body(task: str) -> object:
    seconds = _seconds(task)
    data = {"task": task, "values": [1, 2.5, None, "x"]} if task in WITH_DATA else None

    if task in SYNC_BODIES:

        def sync_body(ctx: object) -> object:
            _log("B", task)
            time.sleep(seconds)
            _log("E", task)
            return data

        return sync_body

    async def async_body(ctx: object) -> object:
        _log("B", task)
        await asyncio.sleep(seconds)
        _log("E", task)
        return data

    return async_body


def steps() -> list[TaskStep[object]]:
    out: list[TaskStep[object]] = []
    for layer in range(LAYERS):
        for pos in range(WIDTH):
            task = name(layer, pos)
            out.append(
                TaskStep(
                    name=task,
                    run=_make_body(task),  # type: ignore[arg-type]
                    dependencies=dependencies(layer, pos),
                    idempotent=task not in NON_IDEMPOTENT,
                )
            )
    return out


workflow = Workflow(name="crash-test", steps=steps(), concurrency=CONCURRENCY)
