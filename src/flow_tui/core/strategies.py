"""How one task is executed: composable strategies around the body call.

The default stack is `LoopingStrategy(RetryingStrategy(StandardStrategy()))`: a step with
both policies retries a failed iteration on its own and the loop goes on from there. Each
layer passes through when its step has no policy. `TaskRunnerBuilder.use_strategy`
replaces the stack.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from flow_tui.core.events import EventBus, TaskRetry
from flow_tui.core.invoke import TaskInvoker
from flow_tui.core.model import SUCCESS, TaskResult, TaskStatus, TaskStep


@dataclass(slots=True)
class TaskRun:
    """One execution of one step, handed down the strategy stack."""

    step: TaskStep[Any]
    context: Any
    invoker: TaskInvoker
    events: EventBus
    attempts: int = 1  # body calls so far: 1 + the retries made (over every loop iteration)
    # True once the run is cancelled or this task is cut off by an interrupting pause (set
    # by the executor): no body is called after that, even between retries or iterations.
    stopped: Callable[[], bool] | None = None


class ExecutionStrategy(Protocol):
    async def execute(self, run: TaskRun) -> TaskResult: ...


def specialize(strategy: ExecutionStrategy, step: TaskStep[Any]) -> ExecutionStrategy:
    """The part of `strategy` that matters for `step`.

    A layer whose policy the step does not use hands over to its inner layer, so a plain
    step costs one strategy call instead of one per layer.
    """
    for_step = getattr(strategy, "for_step", None)
    return for_step(step) if for_step is not None else strategy


_PLUMBING = (
    os.path.dirname(__file__) + os.sep,
    os.path.dirname(asyncio.__file__) + os.sep,
    os.path.dirname(concurrent.futures.__file__) + os.sep,
)


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    # Drop the runner's and asyncio's own frames: the detail view shows the task's code.
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PLUMBING):
        tb = tb.tb_next
    return tb


# What a body's end means: `result_of` what it returned, `failure_from` what it raised.
# StandardStrategy and the executor's inline path (a plain step) both call a body as
#     try: value = await invoker.invoke(step, context)
#     except Exception as exc: result = failure_from(exc)
#     else: result = result_of(value)
# the executor inline, to spare a coroutine frame per task (tests/core/test_core_bodies.py
# holds the two to the same results).


def result_of(value: Any) -> TaskResult:
    """The result of a body that returned `value`: a TaskResult as it is, anything else a
    success carrying `value` as its data."""
    if isinstance(value, TaskResult):
        return value
    return TaskResult(SUCCESS, None, None, value)


def failure_from(exc: BaseException, message: str | None = None) -> TaskResult:
    """A failure result for an exception: `error` names its type and gives its text
    ("ValueError: bad payload"; just the type when the text is empty); the traceback is
    kept."""
    detail = str(exc)
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    tb = _user_frames(exc.__traceback__) or exc.__traceback__
    return TaskResult(
        TaskStatus.FAILURE,
        message=message,
        error=text,
        traceback="".join(traceback.format_exception(type(exc), exc, tb)),
    )


class StandardStrategy:
    """Calls the body once (through the invoker), applying the step's timeout."""

    async def execute(self, run: TaskRun) -> TaskResult:
        step = run.step
        if run.stopped is not None and run.stopped():
            # A listener (task_retry, say) or a loop's `until` stopped the task: the
            # executor ends it cancelled, as if the cancellation had reached the body.
            raise asyncio.CancelledError
        try:
            if step.timeout is None:
                value = await run.invoker.invoke(step, run.context)
            else:
                scope = asyncio.timeout(step.timeout)
                try:
                    async with scope:
                        value = await run.invoker.invoke(step, run.context)
                except TimeoutError:
                    if not scope.expired():
                        raise  # the body's own TimeoutError
                    return TaskResult(
                        TaskStatus.FAILURE,
                        message=f"timed out after {step.timeout:g}s",
                        error=f"task {step.name!r} timed out after {step.timeout:g}s",
                    )
        except Exception as exc:
            return failure_from(exc)
        return result_of(value)


class PolicyLayer:
    """A layer of the stack around `inner` (a StandardStrategy unless given) that acts on
    the steps with its policy; for the others `for_step` hands over to `inner`."""

    def __init__(self, inner: ExecutionStrategy | None = None) -> None:
        self.inner: ExecutionStrategy = inner or StandardStrategy()

    def applies_to(self, step: TaskStep[Any]) -> bool:
        """Whether `step` has the policy this layer applies."""
        raise NotImplementedError

    def for_step(self, step: TaskStep[Any]) -> ExecutionStrategy:
        return self if self.applies_to(step) else specialize(self.inner, step)

    async def execute(self, run: TaskRun) -> TaskResult:
        raise NotImplementedError


class RetryingStrategy(PolicyLayer):
    """Runs `inner` again after a failure, as the step's RetryPolicy allows.

    Under a LoopingStrategy (the default stack) each failed iteration is retried on its
    own; `run.attempts` counts every body call of the task.
    """

    def applies_to(self, step: TaskStep[Any]) -> bool:
        return step.retry is not None

    async def execute(self, run: TaskRun) -> TaskResult:
        result = await self.inner.execute(run)
        policy = run.step.retry
        if policy is None:
            return result
        retry = 0
        while result.status is TaskStatus.FAILURE and retry < policy.attempts:
            if policy.should_retry is not None:
                try:
                    wanted = policy.should_retry(result)
                except Exception as exc:
                    result.message = f"should_retry raised {type(exc).__name__}: {exc}"
                    break
                if not wanted:
                    break
            retry += 1
            delay = policy.delay_before(retry)
            if run.events.wants("task_retry"):
                run.events.emit(TaskRetry(run.step, run.attempts + 1, result, delay))
            if delay > 0:
                await asyncio.sleep(delay)
            run.attempts += 1
            result = await self.inner.execute(run)
        return result


class LoopingStrategy(PolicyLayer):
    """Runs `inner` until the step's LoopPolicy says stop; fails when iterations run out.

    An iteration that fails (after the retries of an inner RetryingStrategy) ends the loop.
    """

    def applies_to(self, step: TaskStep[Any]) -> bool:
        return step.loop is not None

    async def execute(self, run: TaskRun) -> TaskResult:
        policy = run.step.loop
        if policy is None:
            return await self.inner.execute(run)
        result = TaskResult(TaskStatus.FAILURE)
        for iteration in range(1, policy.max_iterations + 1):
            result = await self.inner.execute(run)
            if result.status is not TaskStatus.SUCCESS:
                return result
            try:
                done = policy.until(run.context, result)
                if inspect.isawaitable(done):
                    done = await done
            except Exception as exc:
                return failure_from(exc, message="loop condition raised")
            if done:
                if result.message is None:
                    result.message = f"loop finished after {iteration} iteration(s)"
                return result
            if policy.interval > 0 and iteration < policy.max_iterations:
                await asyncio.sleep(policy.interval)
        return TaskResult(
            TaskStatus.FAILURE,
            message=f"loop did not finish within {policy.max_iterations} iterations",
            error=f"task {run.step.name!r}: loop condition still false after "
            f"{policy.max_iterations} iterations",
            data=result.data,
        )


class DryRunStrategy:
    """Calls nothing: every task succeeds with a message saying it was a dry run."""

    async def execute(self, run: TaskRun) -> TaskResult:
        return TaskResult(TaskStatus.SUCCESS, message="dry run: not executed")


def default_strategy() -> ExecutionStrategy:
    return LoopingStrategy(RetryingStrategy(StandardStrategy()))
