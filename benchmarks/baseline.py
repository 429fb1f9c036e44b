"""The floor: a lean asyncio DAG runner any Python asyncio runner is measured against.

In-degree counts, a ready deque, one asyncio task per step, a done-callback per task and
a concurrency limit; nothing else (no events, priorities, metrics, retries or snapshots).
It runs the same step lists as flow-tui: any objects with `name`, `run` (an async body
taking the context) and `dependencies`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol


class Step(Protocol):
    name: str
    dependencies: Sequence[str]

    def run(self, context: Any) -> Any: ...


class _Skipped:
    """The result of a step whose dependency failed."""

    __slots__ = ("cause",)

    def __init__(self, cause: str) -> None:
        self.cause = cause

    def __repr__(self) -> str:
        return f"<skipped: {self.cause} failed>"


async def run_dag(
    steps: Sequence[Step], concurrency: int | None = None, context: Any = None
) -> dict[str, Any]:
    """Run `steps`; return name -> body return value (or its exception, or a skip marker)."""
    n = len(steps)
    index = {s.name: i for i, s in enumerate(steps)}
    if len(index) != n:
        raise ValueError("duplicate step names")
    indegree = [0] * n
    dependents: list[list[int]] = [[] for _ in range(n)]
    for i, step in enumerate(steps):
        deps = step.dependencies
        indegree[i] = len(deps)
        for dep in deps:
            dependents[index[dep]].append(i)
    ready = deque(i for i in range(n) if indegree[i] == 0)
    results: list[Any] = [None] * n
    done = bytearray(n)
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    create_task = loop.create_task
    limit = concurrency
    running = 0
    ended = 0

    def launch() -> None:
        nonlocal running
        while ready and (limit is None or running < limit):
            i = ready.popleft()
            running += 1
            task = create_task(steps[i].run(context))
            task.add_done_callback(lambda t, i=i: on_done(i, t))

    def on_done(i: int, task: asyncio.Task[Any]) -> None:
        nonlocal running, ended
        running -= 1
        ended += 1
        done[i] = 1
        if task.cancelled():
            failed: BaseException | None = asyncio.CancelledError()
        else:
            failed = task.exception()
        if failed is None:
            results[i] = task.result()
            for j in dependents[i]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    ready.append(j)
        else:
            results[i] = failed
            ended += _skip_downstream(i)
        if ended == n:
            if not finished.done():
                finished.set_result(None)
            return
        launch()
        if running == 0 and not finished.done():
            finished.set_exception(ValueError("steps left that never became ready: a cycle"))

    def _skip_downstream(i: int) -> int:
        count = 0
        stack = [i]
        while stack:
            k = stack.pop()
            for j in dependents[k]:
                if not done[j]:
                    done[j] = 1
                    results[j] = _Skipped(steps[k].name)
                    count += 1
                    stack.append(j)
        return count

    if n == 0:
        return {}
    launch()
    if running == 0:
        raise ValueError("no step is ready: the dependencies form a cycle")
    await finished
    return {steps[i].name: results[i] for i in range(n)}
