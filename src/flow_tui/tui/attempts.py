"""Every attempt of every task in this session, kept by the dashboard from the events.

A result says how a task ended and how many attempts its last run took; it forgets the
errors of the attempts before, the backoff between them, and the runs before a manual
retry. `AttemptLog` listens to the session (task_start, task_retry, task_end, task_log)
and keeps, per task, the attempts of this session: start, end, outcome, error, and how
many log lines each wrote, so the detail pane can list them and separate the log by
attempt, and the timeline can draw one bar per attempt. Bounded: the newest
`MAX_ATTEMPTS` of a task are kept (the count of older ones is kept too).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flow_tui.core.model import TaskResult, TaskStatus
from flow_tui.tui.clock import Clock

MAX_ATTEMPTS = 50


class Outcome(StrEnum):
    """How an attempt ended, or what it is doing."""

    WAITING = "waiting"  # a retry's backoff: the attempt starts at `start`
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_over(self) -> bool:
        return self not in (Outcome.WAITING, Outcome.RUNNING)


#: The glyph of each outcome, wherever an attempt is shown (attempt list, timeline).
OUTCOME_GLYPH: dict[Outcome, str] = {
    Outcome.SUCCESS: "✔",
    Outcome.FAILURE: "✘",
    Outcome.CANCELLED: "⊘",
    Outcome.INTERRUPTED: "↺",
    Outcome.RUNNING: "⠋",
    Outcome.WAITING: "⟳",
}

_RUNNING = Outcome.RUNNING

_FROM_STATUS = {
    TaskStatus.SUCCESS: Outcome.SUCCESS,
    TaskStatus.FAILURE: Outcome.FAILURE,
    TaskStatus.SKIPPED: Outcome.CANCELLED,
    TaskStatus.CANCELLED: Outcome.CANCELLED,
}


class Attempt:
    """One call of a task's body (or the wait before one, WAITING)."""

    __slots__ = ("end", "error", "lines", "manual", "number", "outcome", "start", "traceback")

    def __init__(
        self,
        number: int,
        start: float,
        manual: bool = False,
        outcome: Outcome = Outcome.RUNNING,
    ) -> None:
        self.number = number  # 1, 2, ... in this session, across runs (manual retries too)
        self.start = start  # monotonic seconds (WAITING: when its backoff ends)
        self.manual = manual  # the first attempt of a run the operator asked for (r / R)
        self.outcome = outcome
        self.end: float | None = None  # None while waiting or running
        self.error: str | None = None
        self.traceback: str | None = None
        self.lines = 0  # log lines written during this attempt

    def duration(self, now: float) -> float:
        """Seconds it ran (so far, while running; 0 while waiting)."""
        if self.outcome is Outcome.WAITING:
            return 0.0
        end = self.end if self.end is not None else now
        return max(0.0, end - self.start)

    def __repr__(self) -> str:
        return f"Attempt({self.number}, {self.start}, {self.outcome.value}, end={self.end})"


class TaskAttempts:
    """The attempts of one task kept (the newest MAX_ATTEMPTS), and counts."""

    __slots__ = ("attempts", "dropped", "runs")

    def __init__(self, attempts: list[Attempt], runs: int) -> None:
        self.attempts = attempts
        self.dropped = 0  # older attempts no longer kept
        self.runs = runs  # task_start events seen: a run > 1 is a manual retry

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def total(self) -> int:
        return self.dropped + len(self.attempts)


class AttemptLog:
    """A session listener: the attempts of each task in this session, oldest first.

    Called for every event of a run, thousands a second: the usual start and end of a
    task take one dict lookup and one small object each, nothing more.
    """

    def __init__(self, clock: Clock, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.clock = clock
        self.max_attempts = max_attempts
        self.tasks: dict[str, TaskAttempts] = {}
        self.version = 0  # bumped on every change (a cheap "anything new?" for views)
        # Finished attempts of this session: how many, and their seconds (for the ETA).
        self.finished = 0
        self.busy = 0.0
        self.waiting: dict[str, Attempt] = {}  # tasks in a retry's backoff
        # Every attempt in the order it was seen (the timeline reads the new ones), and
        # a count of the times it all started again (a loaded snapshot).
        self.order: list[tuple[str, Attempt]] = []
        self.generation = 0
        # When a start or end happened, from its time.time() reading (heard now or in a
        # batch later); None: now. A test's clock answers its own now.
        self._at = clock.monotonic_at
        self._mono = clock.monotonic()
        self._wall = clock.now()

    # -- events ------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        kind = event.name
        if kind == "task_end":
            name = event.step.name
            task = self.tasks.get(name)
            if task is None:
                # Ended without a start seen here: it ran before this log heard of it (a
                # dashboard attached while it ran), or was cancelled before it ran.
                self._count_earlier(event.result)
                return
            result = event.result
            attempts = task.attempts
            last = attempts[-1] if attempts else None
            if (
                last is not None
                and last.outcome is _RUNNING
                and last.end is None
                and not event.interrupted
                and result.error is None
                and result.traceback is None
            ):
                # The usual end (what _close does, in line: thousands a second).
                now = self._at(_end_ts(result))
                last.end = end = now if now > last.start else last.start
                last.outcome = _FROM_STATUS[result.status]
                self.finished += 1
                self.busy += end - last.start
            else:
                outcome = Outcome.INTERRUPTED if event.interrupted else _FROM_STATUS[result.status]
                self._close(name, task, self._at(_end_ts(result)), result, outcome)
        elif kind == "task_start":
            name = event.step.name
            task = self.tasks.get(name)
            start = self._at(event.started)  # heard now or in a batch later
            if task is None:
                attempt = Attempt(1, start)
                self.tasks[name] = TaskAttempts([attempt], 1)
            else:
                task.runs += 1
                attempt = Attempt(task.total + 1, start, manual=True)
                self._add(task, attempt)
            self.order.append((name, attempt))
        elif kind == "task_log":
            task = self.tasks.get(event.task)
            if task is not None and task.attempts:
                task.attempts[-1].lines += 1
            return
        elif kind == "task_retry":
            self._retry(event.step.name, event.result, event.delay)
        elif kind == "run_prepared" and event.plan is not None:
            # A snapshot was loaded: another run, with a history of its own.
            self.tasks.clear()
            self.waiting.clear()
            self.order = []
            self.generation += 1
            self.finished = 0
            self.busy = 0.0
        else:
            return
        self.version += 1

    def count_earlier(self, results: Iterable[TaskResult]) -> None:
        """Count the tasks that ran and ended before this log heard a run's events (a
        dashboard attached mid-run): the ETA's mean and parallelism are then over the
        whole run, as the run's own dashboard has them, not over the part watched."""
        for result in results:
            self._count_earlier(result)

    def _count_earlier(self, result: TaskResult) -> None:
        metrics = result.metrics
        if (
            result.status is TaskStatus.SKIPPED
            or metrics is None
            or metrics.started_at is None
            or not math.isfinite(metrics.duration_ms)
        ):
            return
        self.finished += 1
        self.busy += max(metrics.duration_ms, 0.0) / 1000

    def started(self, attempt: Attempt) -> datetime:
        """The wall time `attempt` started (from one reading of both clocks: a wall
        reading per event would cost more than the rest of the event)."""
        return self._wall + timedelta(seconds=attempt.start - self._mono)

    def _add(self, task: TaskAttempts, attempt: Attempt) -> None:
        task.attempts.append(attempt)
        if len(task.attempts) > self.max_attempts:
            del task.attempts[0]
            task.dropped += 1

    def _retry(self, name: str, failure: TaskResult, delay: float) -> None:
        now = self._at(None)
        task = self.tasks.get(name)
        if task is None:  # attached after the task started
            task = self.tasks[name] = TaskAttempts([], 1)
        else:
            self._close(name, task, now, failure, Outcome.FAILURE)
        waiting = Attempt(task.total + 1, now + delay, outcome=Outcome.WAITING)
        self._add(task, waiting)
        self.waiting[name] = waiting
        self.order.append((name, waiting))

    def _close(
        self, name: str, task: TaskAttempts, now: float, result: TaskResult, outcome: Outcome
    ) -> None:
        attempts = task.attempts
        if not attempts:
            return
        last = attempts[-1]
        if last.end is not None:
            return  # over already
        if last.outcome is Outcome.WAITING:
            # Ended during the backoff (a cancel): the attempt never ran.
            last.start = min(last.start, now)
            self.waiting.pop(name, None)
        last.end = end = now if now > last.start else last.start
        last.outcome = outcome
        if result.error is not None or result.traceback is not None:
            last.error = result.error
            last.traceback = result.traceback
        self.finished += 1
        self.busy += end - last.start

    # -- queries -----------------------------------------------------------------------

    def of(self, name: str) -> Sequence[Attempt]:
        task = self.tasks.get(name)
        return task.attempts if task is not None else ()

    def total(self, name: str) -> int:
        """How many attempts `name` made in this session (dropped ones included)."""
        task = self.tasks.get(name)
        return task.total if task is not None else 0

    def retrying_in(self, name: str) -> float | None:
        """Seconds until the next attempt of `name` starts, while it waits for a retry."""
        waiting = self.waiting.get(name)
        if waiting is None:
            return None
        left = waiting.start - self.clock.monotonic()
        if left <= 0:
            self.settle()
            return None
        return left

    def settle(self) -> list[str]:
        """Attempts whose backoff is over are running (their body was called); returns
        the tasks that are still waiting."""
        now = self.clock.monotonic()
        for name, attempt in list(self.waiting.items()):
            if attempt.start <= now:
                attempt.outcome = Outcome.RUNNING
                del self.waiting[name]
                self.version += 1
        return list(self.waiting)

    def split_log(
        self, name: str, lines: Sequence[str]
    ) -> Iterator[tuple[Attempt | None, list[str]]]:
        """`lines` (the newest log lines of `name`) cut by attempt, oldest first.

        The first part's attempt is None when lines were written before any attempt this
        log saw (a dashboard attached mid-run) or are older than the attempts kept.
        """
        attempts = self.of(name)
        cut = len(lines)
        parts: list[tuple[Attempt | None, list[str]]] = []
        for attempt in reversed(attempts):
            first = max(0, cut - attempt.lines)
            parts.append((attempt, list(lines[first:cut])))
            cut = first
        if cut > 0:
            parts.append((None, list(lines[:cut])))
        return reversed(parts)


def _end_ts(result: TaskResult) -> float | None:
    """When a task's last attempt ended, as a `time.time()` reading, when its metrics were
    taken from the executor's clock readings (else None: now)."""
    metrics = result.metrics
    if metrics is None:
        return None
    started = metrics.started_ts
    return None if started is None else started + metrics.duration_ms / 1000.0


def retry_countdown(seconds: float) -> str:
    """ "retrying in 2.4 s"."""
    return f"retrying in {seconds:.1f} s"
