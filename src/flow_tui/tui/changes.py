"""Session events folded into what the next repaint has to update.

The session calls `PendingChanges` for every event, on the app's loop. It only records
names in dicts, so a burst of thousands of task events costs a few dict writes each and,
at the next flush, one repaint of the rows that changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flow_tui.tui.clock import Clock


@dataclass(slots=True)
class ChangeBatch:
    """What changed since the last flush."""

    tasks: list[str] = field(default_factory=list)  # rows to redraw, event order
    all_rows: bool = False  # every row may have changed (a run started or ended)
    rebuild: bool = False  # a new run was prepared: the tree is rebuilt
    run_changed: bool = False  # run state (paused, resumed, ended...) changed
    run_started: bool = False  # rows shown as finished may be pending again
    messages: list[tuple[str, str]] = field(default_factory=list)  # (severity, text)
    events: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.tasks
            or self.all_rows
            or self.rebuild
            or self.run_changed
            or self.run_started
            or self.messages
        )


class PendingChanges:
    """A session listener that remembers which rows and what run state changed."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._tasks: dict[str, None] = {}  # an insertion-ordered set
        self._all_rows = False
        self._rebuild = False
        self._run_changed = False
        self._run_started = False
        self._messages: list[tuple[str, str]] = []
        self._events = 0
        # Live facts events carry and results do not (yet): when the running attempt
        # started, and which attempt it is.
        self.started: dict[str, float] = {}
        self.attempt: dict[str, int] = {}
        # Told every event of the run itself (not of a task): a listener that only
        # cares for those is not called for the thousands of task events.
        self.run_listeners: list[Callable[[Any], None]] = []
        self._at = self.clock.monotonic_at

    def __call__(self, event: Any) -> None:
        self._events += 1
        kind = event.name
        if kind == "task_end" or kind == "task_skipped":
            self._tasks[event.step.name] = None
            return
        if kind == "task_start" or kind == "task_retry":
            name = event.step.name
            self._tasks[name] = None
            # A start heard now or in a batch later says when it was (a retry: now).
            self.started[name] = self._at(getattr(event, "started", None))
            self.attempt[name] = event.attempt
            return
        if kind.startswith("task_"):
            return  # a task's log line: nothing to repaint
        for listener in self.run_listeners:
            listener(event)
        if kind == "workflow_start":
            # At a run's start only two kinds of rows change: the tasks it keeps (a
            # resume's saved successes) and rows shown with a result it dropped (a retry
            # re-runs them). Not a look at every row: with thousands of tasks that cost a
            # repaint of them all while the first tasks were already running.
            self._tasks.update(dict.fromkeys(event.kept))
            self._run_started = True
            self._run_changed = True
        elif kind == "workflow_end":
            # A cancel ends unfinished tasks without an event each: look at every row.
            self._all_rows = True
            self._run_changed = True
        elif kind == "workflow_paused" or kind == "workflow_resumed":
            self._run_changed = True  # interrupted tasks come with their own task_end
        elif kind == "run_prepared":
            self._rebuild = True
            self._run_changed = True
            self.started.clear()
            self.attempt.clear()
        elif kind == "checkpoint_failed":
            self._run_changed = True
            self.error(
                f"Checkpoint failed: {event.error}. The run was paused so nothing more is "
                "lost; press s to save a snapshot elsewhere."
            )

    def error(self, text: str) -> None:
        self._messages.append(("error", text))

    def info(self, text: str) -> None:
        self._messages.append(("information", text))

    def mark_run_changed(self) -> None:
        self._run_changed = True

    def mark_all_rows(self) -> None:
        self._all_rows = True
        self._run_changed = True

    @property
    def pending_events(self) -> int:
        """Events heard since the last `take()`."""
        return self._events

    def take(self) -> ChangeBatch:
        batch = ChangeBatch(
            tasks=list(self._tasks),
            all_rows=self._all_rows,
            rebuild=self._rebuild,
            run_changed=self._run_changed,
            run_started=self._run_started,
            messages=self._messages,
            events=self._events,
        )
        self._tasks = {}
        self._all_rows = self._rebuild = self._run_changed = self._run_started = False
        self._messages = []
        self._events = 0
        return batch
