"""Events a run emits and the bus that delivers them."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flow_tui.core.model import RunStatus, TaskResult, TaskStep

log = logging.getLogger("flow_tui.events")

EVENT_NAMES = (
    "workflow_start",
    "workflow_end",
    "task_start",
    "task_end",
    "task_skipped",
    "task_retry",
    "workflow_paused",
    "workflow_resumed",
)


@dataclass(slots=True)
class Event:
    name: ClassVar[str] = ""


@dataclass(slots=True)
class WorkflowStart(Event):
    name: ClassVar[str] = "workflow_start"
    steps: list[TaskStep[Any]]
    kept: list[str] = field(default_factory=list)  # saved successes that will not run


@dataclass(slots=True)
class WorkflowEnd(Event):
    name: ClassVar[str] = "workflow_end"
    results: dict[str, TaskResult]
    # FINISHED, FAILED or CANCELLED (also by the workflow timeout)
    status: RunStatus = RunStatus.FINISHED


@dataclass(slots=True)
class TaskStart(Event):
    name: ClassVar[str] = "task_start"
    step: TaskStep[Any]
    attempt: int = 1
    # When the attempt started, a `time.time()` reading (None when not recorded): a
    # listener that hears of the start later (see `EventBus.feed`) still knows when.
    started: float | None = None


@dataclass(slots=True)
class TaskEnd(Event):
    name: ClassVar[str] = "task_end"
    step: TaskStep[Any]
    result: TaskResult
    # True when an interrupting pause cut the task off (result `cancelled`): it is not
    # finished, it runs again on resume (a non-idempotent one only with consent).
    interrupted: bool = False

    @property
    def attempt(self) -> int:
        """How many attempts the task made (0 if its body never ran)."""
        metrics = self.result.metrics
        return metrics.attempts if metrics is not None else 0


@dataclass(slots=True)
class TaskSkipped(Event):
    name: ClassVar[str] = "task_skipped"
    step: TaskStep[Any]
    result: TaskResult


@dataclass(slots=True)
class TaskRetry(Event):
    name: ClassVar[str] = "task_retry"
    step: TaskStep[Any]
    attempt: int  # the attempt about to run (2 = first retry)
    result: TaskResult  # the failure that caused the retry
    delay: float = 0.0


@dataclass(slots=True)
class WorkflowPaused(Event):
    name: ClassVar[str] = "workflow_paused"
    interrupt: bool = False
    running: list[str] = field(default_factory=list)


@dataclass(slots=True)
class WorkflowResumed(Event):
    name: ClassVar[str] = "workflow_resumed"


Listener = Callable[[Any], Awaitable[None] | None]


def monotonic_at(ts: float | None) -> float:
    """The `time.monotonic()` reading at `ts`, a past `time.time()` reading (now when
    None): when a task started, for a listener that hears of it later (EventBus.feed)."""
    now = time.monotonic()
    return now if ts is None else now - max(0.0, time.time() - ts)


class EventBus:
    """Delivers events to listeners by name ("*" receives all).

    Sync listeners run inline, so a callback sees the state the event describes. Async
    listeners are scheduled as tasks and awaited before the run returns. A listener that
    raises is logged and recorded in `errors`; it never breaks the run.
    """

    def __init__(self) -> None:
        self.listeners: dict[str, list[Listener]] = {name: [] for name in EVENT_NAMES}
        self.any: list[Listener] = []
        # When a list: the executor records the common task starts and ends here for the
        # "*" listeners instead of sending them events, to be taken later, in batches
        # (`Session.deliver`): pairs (index, start `time.time()`) for a start and
        # (~index, TaskResult) for a success. A burst of short tasks then costs two list
        # appends per task, not two events through every listener. Listeners of those
        # names still hear them at once, and every other event goes to everyone as usual:
        # whoever sets a feed takes what is in it before handing on another event.
        self.feed: list[Any] | None = None
        self.errors: list[tuple[str, BaseException]] = []
        self._pending: set[asyncio.Task[None]] = set()

    def on(self, name: str, listener: Listener) -> None:
        if name == "*":
            self.any.append(listener)
            return
        if name not in self.listeners:
            raise ValueError(f"unknown event {name!r}; known events: {', '.join(EVENT_NAMES)}")
        self.listeners[name].append(listener)

    def off(self, name: str, listener: Listener) -> None:
        bucket = self.any if name == "*" else self.listeners.get(name, [])
        if listener in bucket:
            bucket.remove(listener)

    def wants(self, name: str) -> bool:
        return bool(self.listeners[name] or self.any)

    def emit(self, event: Event, everyone: bool = True) -> None:
        """Call the listeners of `event` (and the "*" ones unless not `everyone`)."""
        named = self.listeners[event.name]
        for listener in (*named, *self.any) if everyone and self.any else named:
            try:
                outcome = listener(event)
            except Exception as exc:
                self._report(event.name, listener, exc)
                continue
            if outcome is not None and inspect.isawaitable(outcome):
                task = asyncio.ensure_future(self._await(event.name, listener, outcome))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def _await(self, name: str, listener: Listener, outcome: Awaitable[Any]) -> None:
        try:
            await outcome
        except Exception as exc:
            self._report(name, listener, exc)

    def _report(self, name: str, listener: Listener, exc: BaseException) -> None:
        self.errors.append((name, exc))
        label = getattr(listener, "__qualname__", repr(listener))
        log.warning("listener %s for %s raised %s: %s", label, name, type(exc).__name__, exc)

    async def drain(self) -> None:
        """Wait for async listeners still running."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
