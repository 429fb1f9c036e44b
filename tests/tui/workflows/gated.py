"""Deterministic workflows for the dashboard tests.

Bodies finish at once or wait for an asyncio.Event the test sets: nothing depends on the
wall clock. Results carry fixed metrics so durations and timestamps on screen are stable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flow_tui import TaskMetrics, TaskResult, TaskStatus, TaskStep, Workflow

T0 = datetime(2025, 1, 2, 3, 0, 0, tzinfo=UTC)

TRACEBACK = """Traceback (most recent call last):
  File "warehouse.py", line 12, in merge
    rows = source.read()
ConnectionError: warehouse refused the connection"""


def metrics(duration_ms: float, attempts: int = 1) -> TaskMetrics:
    return TaskMetrics(T0, T0 + timedelta(milliseconds=duration_ms), duration_ms, attempts)


class Bodies:
    """Task bodies a test steers: gates to hold a task, failures to inject, a run log."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.fail_next: dict[str, int] = {}
        self.runs: list[str] = []

    def gate(self, name: str) -> asyncio.Event:
        gate = self.gates.get(name)
        if gate is None:
            gate = self.gates[name] = asyncio.Event()
        return gate

    def release(self, *names: str) -> None:
        for name in names:
            self.gate(name).set()

    def count(self, name: str) -> int:
        return self.runs.count(name)

    def body(
        self,
        name: str,
        *,
        gated: bool = False,
        duration_ms: float = 1200.0,
        data: Any = None,
        message: str | None = None,
    ) -> Callable[[Any], Any]:
        async def run(ctx: Any) -> TaskResult:
            self.runs.append(name)
            if gated:
                await self.gate(name).wait()
            if self.fail_next.get(name, 0) > 0:
                self.fail_next[name] -= 1
                return TaskResult(
                    TaskStatus.FAILURE,
                    message="the warehouse was unreachable",
                    error="ConnectionError: warehouse refused the connection",
                    traceback=TRACEBACK,
                    metrics=metrics(300.0),
                )
            return TaskResult(
                TaskStatus.SUCCESS,
                message=message,
                data=data,
                metrics=metrics(duration_ms),
            )

        return run


def pipeline(bodies: Bodies, *, gate: tuple[str, ...] = ("merge",)) -> Workflow:
    """fetch_a, fetch_b -> merge -> (publish [not idempotent], load[1]) -> report."""

    def step(name: str, deps: tuple[str, ...] = (), **kw: Any) -> TaskStep[Any]:
        extra = {k: kw.pop(k) for k in ("data", "message", "duration_ms") if k in kw}
        return TaskStep(
            name,
            bodies.body(name, gated=name in gate, **extra),
            dependencies=deps,
            **kw,
        )

    return Workflow(
        name="pipeline",
        steps=[
            step("fetch_a", duration_ms=400.0, data={"rows": 120}),
            step("fetch_b", duration_ms=2500.0, data={"rows": 80}),
            step("merge", ("fetch_a", "fetch_b"), data={"rows": 200, "files": ["a", "b"]}),
            step("publish", ("merge",), idempotent=False, version="3"),
            step("load[1]", ("merge",), message="loaded into [bold]staging[/]"),
            step("report", ("publish", "load[1]")),
        ],
        concurrency=4,
    )


def tagged(bodies: Bodies) -> Workflow:
    """Tasks with tags: the tree groups by first tag."""
    return Workflow(
        name="tagged",
        steps=[
            TaskStep("extract_orders", bodies.body("extract_orders"), tags=("extract",)),
            TaskStep("extract_users", bodies.body("extract_users"), tags=("extract",)),
            TaskStep(
                "clean_orders",
                bodies.body("clean_orders"),
                dependencies=("extract_orders",),
                tags=("transform",),
            ),
            TaskStep("audit", bodies.body("audit")),
        ],
    )


def many(bodies: Bodies, count: int) -> Workflow:
    """`count` independent no-op tasks."""
    steps = [TaskStep(f"t{i:04d}", bodies.body(f"t{i:04d}")) for i in range(count)]
    return Workflow(name="many", steps=steps, concurrency=16)
