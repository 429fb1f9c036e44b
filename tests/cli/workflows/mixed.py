"""Test workflow with every outcome: a task that succeeds on its third attempt, one that
fails, one skipped because of that failure, one skipped by its condition, and a success
with a message. Bodies append their name to $FLOW_TUI_TEST_LOG when it is set."""

from __future__ import annotations

import os

from flow_tui import RetryPolicy, TaskResult, TaskStatus, TaskStep, Workflow


def record(line: str) -> None:
    path = os.environ.get("FLOW_TUI_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


calls = {"flaky": 0}


async def flaky(ctx: object) -> str:
    record("flaky")
    calls["flaky"] += 1
    if calls["flaky"] < 3:
        raise ConnectionError(f"flaky failure {calls['flaky']}")
    return "third time lucky"


async def broken(ctx: object) -> None:
    record("broken")
    raise ValueError("broken on purpose")


async def after_broken(ctx: object) -> None:
    record("after_broken")


async def polished(ctx: object) -> TaskResult:
    record("polished")
    return TaskResult(TaskStatus.SUCCESS, message="all good")


async def conditional(ctx: object) -> None:
    record("conditional")


workflow = Workflow(
    name="mixed",
    steps=[
        TaskStep("flaky", flaky, retry=RetryPolicy(attempts=3, delay=0.01)),
        TaskStep("broken", broken),
        TaskStep("after_broken", after_broken, ["broken"]),
        TaskStep("polished", polished, ["flaky"]),
        TaskStep("conditional", conditional, condition=lambda ctx: False),
    ],
)
