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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from flow_tui.core.model import TaskResult, TaskStep

#: The name of the task whose body is running in this context (None outside a task).
#: Log records can be attributed to a task through it, in coroutines and worker threads.
current_task_name: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "flow_tui_current_task", default=None
)


class UpstreamError(LookupError):
    """`upstream(name)` asked for a task that is not a declared dependency of the task
    calling it (or was called outside a task body)."""


class TaskInterrupted(BaseException):
    """Raised by an invoker when a body may have partly run and its end cannot be known
    (a non-idempotent task whose remote worker was lost). The executor ends the task
    `cancelled` and interrupted: its dependents do not run, and a resume runs it again
    only with consent when it is not idempotent. A BaseException, so that no strategy
    turns it into a failure to retry."""


class UpstreamSource(Protocol):
    """Where `upstream()` reads the data of a running task's dependencies."""

    def data(self, task: str | None, name: str) -> Any: ...


#: The source `upstream()` reads, set for a whole run by the runner (in the flow-tui
#: process) or around one call by a remote invoker (on a worker).
current_upstream: contextvars.ContextVar[UpstreamSource | None] = contextvars.ContextVar(
    "flow_tui_current_upstream", default=None
)


def upstream(name: str) -> Any:
    """Inside a task body: the `data` of the finished dependency `name` of the running
    task, the same in the local executor and on a Dask worker. UpstreamError when `name`
    is not one of the task's declared dependencies."""
    source = current_upstream.get()
    task = current_task_name.get()
    if source is None or task is None:
        raise UpstreamError(f"upstream({name!r}) can only be called inside a task body")
    return source.data(task, name)


def _not_a_dependency(task: str | None, name: str, dependencies: Sequence[str]) -> UpstreamError:
    declared = ", ".join(repr(d) for d in dependencies) or "none"
    return UpstreamError(
        f"task {task!r} asked upstream({name!r}), but {name!r} is not one of its declared "
        f"dependencies (declared: {declared}); add it to the task's dependencies"
    )


class RunUpstream:
    """`upstream()` in the flow-tui process: reads the run's results as they are."""

    __slots__ = ("_index", "_results", "_steps")

    def __init__(
        self,
        steps: Sequence[TaskStep[Any]],
        index: Mapping[str, int],
        results: Callable[[], Mapping[str, TaskResult]],
    ) -> None:
        self._steps = steps
        self._index = index
        self._results = results

    def dependencies(self, task: str) -> Sequence[str]:
        i = self._index.get(task)
        return self._steps[i].dependencies if i is not None else ()

    def data(self, task: str | None, name: str) -> Any:
        dependencies = self.dependencies(task) if task is not None else ()
        if name not in dependencies:
            raise _not_a_dependency(task, name, dependencies)
        result = self._results().get(name)
        if result is None:
            raise UpstreamError(f"task {task!r}: its dependency {name!r} has no result yet")
        return result.data

    def all_data(self, step: TaskStep[Any]) -> dict[str, Any]:
        """The data of each finished dependency of `step` (sent along with a remote call)."""
        results = self._results()
        return {d: r.data for d in step.dependencies if (r := results.get(d)) is not None}


class FixedUpstream:
    """`upstream()` for one call away from the run (on a Dask worker): the dependencies'
    data sent with the call."""

    __slots__ = ("_data", "_dependencies")

    def __init__(self, dependencies: Sequence[str], data: Mapping[str, Any]) -> None:
        self._dependencies = tuple(dependencies)
        self._data = dict(data)

    def data(self, task: str | None, name: str) -> Any:
        if name not in self._dependencies:
            raise _not_a_dependency(task, name, self._dependencies)
        try:
            return self._data[name]
        except KeyError:
            raise UpstreamError(
                f"task {task!r}: its dependency {name!r} has no result yet"
            ) from None


def upstream_data(step: TaskStep[Any]) -> dict[str, Any]:
    """The data of `step`'s finished dependencies in the current run ({} outside one):
    what a remote invoker sends with the call so that `upstream()` works there."""
    source = current_upstream.get()
    if isinstance(source, RunUpstream):
        return source.all_data(step)
    return {}


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
