"""Workflows for the cockpit views: a task that retries, one that writes a log.

Bodies wait for gates the test opens (no wall clock); what a body prints is captured
per task by the session. Retries wait out their policy's real delay, kept short where a
test goes through it.
"""

from __future__ import annotations

from typing import Any

from flow_tui import RetryPolicy, TaskResult, TaskStatus, TaskStep, Workflow

from .gated import TRACEBACK, Bodies, metrics


def failing(bodies: Bodies, name: str, *, talk: bool = True) -> Any:
    """A body that prints a line per call, fails while `bodies.fail_next[name]` says so
    (with an error naming the call), and waits for its gate when one is set: the gate
    of the call ("flaky#2") or else the task's ("flaky"). `talk`: print its lines (log
    lines carry the wall time they were written at: not in a snapshot)."""
    say = print if talk else (lambda text: None)

    async def run(ctx: Any) -> TaskResult:
        bodies.runs.append(name)
        call = bodies.count(name)
        say(f"{name}: call {call} begins")
        gate = bodies.gates.get(f"{name}#{call}") or bodies.gates.get(name)
        if gate is not None:
            await gate.wait()
        if bodies.fail_next.get(name, 0) > 0:
            bodies.fail_next[name] -= 1
            say(f"{name}: call {call} failed")
            return TaskResult(
                TaskStatus.FAILURE,
                error=f"ConnectionError: warehouse refused call {call}",
                traceback=TRACEBACK,
                metrics=metrics(300.0),
            )
        say(f"{name}: call {call} done")
        return TaskResult(TaskStatus.SUCCESS, metrics=metrics(800.0))

    return run


def retrying(bodies: Bodies, *, delay: float, attempts: int = 2, talk: bool = True) -> Workflow:
    """prepare -> flaky (retries `attempts` times after `delay` s) -> publish."""
    return Workflow(
        name="retrying",
        steps=[
            TaskStep("prepare", bodies.body("prepare", duration_ms=500.0)),
            TaskStep(
                "flaky",
                failing(bodies, "flaky", talk=talk),
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


def fan_in(bodies: Bodies) -> Workflow:
    """extract_a -> flaky (retried once at once); extract_b -> load; both -> report.

    Every body waits for its gate (flaky's per call: "flaky#1", "flaky#2")."""
    for name in ("extract_a", "extract_b", "load", "report", "flaky#1", "flaky#2"):
        bodies.gate(name)

    def gated(name: str) -> Any:
        return bodies.body(name, gated=True)

    return Workflow(
        name="fan_in",
        steps=[
            TaskStep("extract_a", gated("extract_a")),
            TaskStep("extract_b", gated("extract_b")),
            TaskStep(
                "flaky",
                failing(bodies, "flaky", talk=False),
                dependencies=("extract_a",),
                retry=RetryPolicy(attempts=1, delay=0.0),
            ),
            TaskStep("load", gated("load"), dependencies=("extract_b",)),
            TaskStep("report", gated("report"), dependencies=("flaky", "load")),
        ],
        concurrency=4,
    )
