"""Task bodies: async or sync (in a worker thread), returning results, values, or raising."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from flow_tui import TaskResult, TaskRunnerBuilder, TaskStatus, TaskStep
from flow_tui.core import EventBus, LocalInvoker, StandardStrategy, TaskRun, current_task_name


async def run(*steps: TaskStep[Any], context: Any = None) -> dict[str, TaskResult]:
    return await TaskRunnerBuilder(context).build().execute(list(steps))


async def test_async_body_runs_on_the_loop_thread_with_the_context() -> None:
    seen: dict[str, Any] = {}
    ctx = {"rows": 3}

    async def body(c: dict[str, int]) -> int:
        seen["thread"] = threading.current_thread()
        seen["ctx"] = c
        return c["rows"] * 2

    results = await run(TaskStep("a", body), context=ctx)
    assert results["a"].status is TaskStatus.SUCCESS
    assert results["a"].data == 6
    assert seen["thread"] is threading.current_thread()
    assert seen["ctx"] is ctx


async def test_sync_body_runs_in_a_worker_thread() -> None:
    loop_thread = threading.current_thread()
    seen: dict[str, Any] = {}

    def body(ctx: object) -> str:
        seen["thread"] = threading.current_thread()
        seen["name"] = current_task_name.get()
        return "done"

    results = await run(TaskStep("sync", body))
    assert results["sync"].status is TaskStatus.SUCCESS
    assert results["sync"].data == "done"
    assert seen["thread"] is not loop_thread
    assert seen["name"] == "sync"


async def test_sync_body_does_not_block_the_loop() -> None:
    # The sync body waits for a threading.Event that an async body sets: if the sync body
    # blocked the loop, the async body could never run and the run would hang.
    gate = threading.Event()
    ran: list[str] = []

    def blocking(ctx: object) -> bool:
        ran.append("blocking")
        return gate.wait(10)

    async def setter(ctx: object) -> None:
        await asyncio.sleep(0.01)
        ran.append("setter")
        gate.set()

    results = await run(TaskStep("blocking", blocking), TaskStep("setter", setter))
    assert results["blocking"].data is True
    assert sorted(ran) == ["blocking", "setter"]


async def test_partial_and_callable_objects_are_awaited_when_async() -> None:
    async def add(n: int, ctx: object) -> int:
        await asyncio.sleep(0)
        return n + 1

    class Body:
        async def __call__(self, ctx: object) -> str:
            return "object"

    results = await run(TaskStep("p", functools.partial(add, 41)), TaskStep("o", Body()))
    assert results["p"].data == 42
    assert results["o"].data == "object"


async def test_sync_callable_returning_a_coroutine_is_awaited() -> None:
    async def inner() -> int:
        return 7

    results = await run(TaskStep("lam", lambda ctx: inner()))
    assert results["lam"].status is TaskStatus.SUCCESS
    assert results["lam"].data == 7


async def test_body_returning_a_task_result_is_used_as_is() -> None:
    async def custom(ctx: object) -> TaskResult:
        return TaskResult(TaskStatus.FAILURE, message="bad input", error="row 3", data=[3])

    def skipping(ctx: object) -> TaskResult:
        return TaskResult(TaskStatus.SUCCESS, message="nothing to do", data={"n": 0})

    results = await run(TaskStep("custom", custom), TaskStep("sync", skipping))
    assert results["custom"].status is TaskStatus.FAILURE
    assert results["custom"].message == "bad input"
    assert results["custom"].error == "row 3"
    assert results["custom"].data == [3]
    assert results["sync"].message == "nothing to do"
    assert results["sync"].data == {"n": 0}
    assert results["sync"].metrics is not None


async def test_returned_value_becomes_data_including_none() -> None:
    async def nothing(ctx: object) -> None:
        return None

    async def nested(ctx: object) -> dict[str, Any]:
        return {"a": [1, {"b": None}]}

    results = await run(TaskStep("none", nothing), TaskStep("nested", nested))
    assert results["none"].status is TaskStatus.SUCCESS
    assert results["none"].data is None
    assert results["none"].error is None
    assert results["nested"].data == {"a": [1, {"b": None}]}


def _explode_in_user_code(ctx: object) -> None:
    raise KeyError("missing column 'price'")


async def test_raising_body_is_a_failure_with_error_text_and_traceback() -> None:
    async def async_boom(ctx: object) -> None:
        await asyncio.sleep(0)
        raise ValueError("bad row 17")

    results = await run(TaskStep("a", async_boom), TaskStep("s", _explode_in_user_code))
    a = results["a"]
    assert a.status is TaskStatus.FAILURE
    assert a.error == "ValueError: bad row 17"
    assert a.traceback is not None
    assert "ValueError: bad row 17" in a.traceback
    assert "async_boom" in a.traceback
    s = results["s"]
    assert s.status is TaskStatus.FAILURE
    assert "missing column 'price'" in (s.error or "")
    assert s.traceback is not None
    assert "_explode_in_user_code" in s.traceback
    assert "KeyError" in s.traceback


async def test_exception_without_text_reports_its_type() -> None:
    async def bare(ctx: object) -> None:
        raise RuntimeError

    results = await run(TaskStep("a", bare))
    assert results["a"].status is TaskStatus.FAILURE
    assert results["a"].error == "RuntimeError"


async def test_results_come_back_in_declaration_order() -> None:
    async def body(ctx: object) -> None:
        return None

    names = ["z", "a", "m", "b"]
    results = await run(*(TaskStep(n, body) for n in names))
    assert list(results) == names


def _sync_raise(ctx: object) -> None:
    raise KeyError("price")


async def _async_value(ctx: object) -> dict[str, int]:
    return {"rows": 3}


async def _async_result(ctx: object) -> TaskResult:
    return TaskResult(TaskStatus.FAILURE, message="bad input", error="row 3", data=[3])


async def _async_raise(ctx: object) -> None:
    raise ValueError("bad row 17")


async def _async_bare(ctx: object) -> None:
    raise RuntimeError


def _sync_value(ctx: object) -> str:
    return "done"


@pytest.mark.parametrize(
    "body", [_async_value, _async_result, _async_raise, _async_bare, _sync_value, _sync_raise]
)
async def test_a_plain_step_and_the_standard_strategy_make_the_same_result(
    body: Callable[[object], Any],
) -> None:
    # A plain step's body is called inline by the executor; a step with a timeout goes
    # through StandardStrategy. The two must read a body's end the same way.
    inline = (await run(TaskStep("a", body)))["a"]
    strategy = (await run(TaskStep("a", body, timeout=60.0)))["a"]
    direct = await StandardStrategy().execute(
        TaskRun(TaskStep("a", body), None, LocalInvoker(), EventBus())
    )
    for result in (strategy, direct):
        assert result.status is inline.status
        assert (result.message, result.error, result.data, result.data_is_repr) == (
            inline.message,
            inline.error,
            inline.data,
            inline.data_is_repr,
        )
        assert (result.traceback is None) == (inline.traceback is None)
        if inline.traceback is not None:
            assert result.traceback is not None
            assert result.traceback.splitlines()[-1] == inline.traceback.splitlines()[-1]
    assert inline.metrics is not None and inline.metrics.attempts == 1
