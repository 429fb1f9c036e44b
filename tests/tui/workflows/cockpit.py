"""Workflows for the cockpit views: a task that retries, one that writes a log.

Bodies wait for gates the test opens (no wall clock); what a body prints is captured
per task by the session. Retries wait out their policy's real delay, kept short where a
test goes through it.
"""

from __future__ import annotations

from typing import Any

from flow_tui import RetryPolicy, TaskResult, TaskStatus, TaskStep, Workflow

from .gated import TRACEBACK, Bodies, metrics


def failing(bodies: Bodies, name: str) -> Any:
    """A body that prints a line per call, fails while `bodies.fail_next[name]` says so
    (with an error naming the call), and waits for its gate when one is set."""

    async def run(ctx: Any) -> TaskResult:
        bodies.runs.append(name)
        call = bodies.count(name)
        print(f"{name}: call {call} begins")
        gate = bodies.gates.get(name)
        if gate is not None:
            await gate.wait()
        if bodies.fail_next.get(name, 0) > 0:
            bodies.fail_next[name] -= 1
            print(f"{name}: call {call} failed")
            return TaskResult(
                TaskStatus.FAILURE,
                error=f"ConnectionError: warehouse refused call {call}",
                traceback=TRACEBACK,
                metrics=metrics(300.0),
            )
        print(f"{name}: call {call} done")
        return TaskResult(TaskStatus.SUCCESS, metrics=metrics(800.0))

    return run


def retrying(bodies: Bodies, *, delay: float, attempts: int = 2) -> Workflow:
    """prepare -> flaky (retries `attempts` times after `delay` s) -> publish."""
    return Workflow(
        name="retrying",
        steps=[
            TaskStep("prepare", bodies.body("prepare", duration_ms=500.0)),
            TaskStep(
                "flaky",
                failing(bodies, "flaky"),
                dependencies=("prepare",),
                retry=RetryPolicy(attempts=attempts, delay=delay),
            ),
            TaskStep("publish", bodies.body("publish"), dependencies=("flaky",)),
        ],
        concurrency=2,
    )


def chatty(bodies: Bodies, lines: int) -> Workflow:
    """One task that prints `lines` lines, waits for its gate, then prints five more."""

    async def talk(ctx: Any) -> None:
        for i in range(lines):
            print(f"line {i:03d} of the first part")
        await bodies.gate("talk").wait()
        for i in range(5):
            print(f"late line {i} after the gate")

    return Workflow(name="chatty", steps=[TaskStep("talk", talk)])
