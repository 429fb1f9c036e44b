"""The one seam through which task bodies are called.

Everything else in a run (scheduling, events, snapshots) stays local; a backend that runs
bodies elsewhere (a Dask cluster, say) implements `TaskInvoker` and nothing more.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from flow_tui.core.model import TaskStep

#: The name of the task whose body is running in this context (None outside a task).
#: Log records can be attributed to a task through it, in coroutines and worker threads.
current_task_name: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "flow_tui_current_task", default=None
)


class TaskInvoker(Protocol):
    """Calls a task body with its context; the awaitable yields what the body returned.

    An invoker that runs bodies in threads of this process is also a ThreadedInvoker.
    """

    def invoke(self, step: TaskStep[Any], context: Any) -> Awaitable[Any]: ...


@runtime_checkable
class ThreadedInvoker(TaskInvoker, Protocol):
    """A TaskInvoker that runs some bodies in threads of this process; `busy` counts
    those still running (TaskRunner.busy_threads reads it)."""

    @property
    def busy(self) -> int: ...


def is_async_callable(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = type(fn).__dict__.get("__call__") if not inspect.isroutine(fn) else None
    return call is not None and inspect.iscoroutinefunction(call)


class LocalInvoker:
    """Async bodies are awaited on the loop; sync bodies run in a worker thread so the
    loop (and a dashboard on it) never freezes."""

    def __init__(self) -> None:
        self.busy = 0  # sync bodies still running in a worker thread
        self._busy_lock = threading.Lock()
        # Inspecting a callable costs more than running a no-op body: remember the answer
        # per function (steps usually share a handful of them).
        self._kind: dict[Any, bool] = {}

    def invoke(self, step: TaskStep[Any], context: Any) -> Awaitable[Any]:
        fn = step.run
        try:
            is_async = self._kind[fn]
        except KeyError:
            is_async = self._kind[fn] = is_async_callable(fn)
        except TypeError:  # an unhashable callable object
            is_async = is_async_callable(fn)
        if is_async:
            # The body's own coroutine: no wrapper frame on the hot path.
            awaitable: Awaitable[Any] = fn(context)
            return awaitable
        return self._in_thread(fn, context)

    async def _in_thread(self, fn: Callable[[Any], Any], context: Any) -> Any:
        with self._busy_lock:
            self.busy += 1
        outcome = await asyncio.to_thread(self._call, fn, context)
        if inspect.isawaitable(outcome):
            # A sync callable that returned a coroutine (a lambda around an async def).
            outcome = await outcome
        return outcome

    def _call(self, fn: Callable[[Any], Any], context: Any) -> Any:
        try:
            return fn(context)
        finally:
            # Counted down in the thread: a body whose await was cancelled may run on.
            with self._busy_lock:
                self.busy -= 1
