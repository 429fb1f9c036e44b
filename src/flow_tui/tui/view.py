"""The run as the widgets read it: statuses, durations, counts, details of one task.

Widgets never steer the session; they read this view, which the app refreshes once per
repaint so hundreds of rows share one look at the running and interrupted sets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flow_tui.core.model import TaskResult, TaskStep
from flow_tui.tui.attempts import AttemptLog
from flow_tui.tui.changes import PendingChanges
from flow_tui.tui.clock import Clock
from flow_tui.tui.status import STATUS_OF_RESULT, RowStatus, row_status

if TYPE_CHECKING:
    from flow_tui.core.resume import ResumePlan
    from flow_tui.session import RunState, Session

# (task, status before or None when first seen, status now)
Transition = tuple[str, RowStatus | None, RowStatus]


class RunView:
    _kept_plan: ResumePlan | None
    _kept: frozenset[str]

    def __init__(self, session: Session, live: PendingChanges, clock: Clock) -> None:
        self.session = session
        self.live = live
        self.clock = clock
        self.steps: list[TaskStep[Any]] = session.steps
        self.results: dict[str, TaskResult] = {}
        self.running: set[str] = set()
        self.interrupted: set[str] = set()
        self.statuses: dict[str, RowStatus] = {}
        self.tally: dict[RowStatus, int] = dict.fromkeys(RowStatus, 0)
        self.now = 0.0
        self._kept = frozenset()
        self._kept_plan = None
        # Every attempt of every task in this session (a session listener the app
        # subscribes): the retry backoff, the attempts a result forgets.
        self.history = AttemptLog(clock)
        self.refresh()

    def refresh(self, names: Iterable[str] | None = None) -> list[Transition]:
        """Take a fresh look at the session; recount the statuses of `names` (None: all).

        Returns the tasks whose status changed, so counts can be kept up to date without
        walking every task of a large workflow on each repaint.
        """
        session = self.session
        self.results = session.results
        self.running = set(session.running)
        self.interrupted = set(session.interrupted)
        self.now = self.clock.monotonic()
        if names is None:
            return self._refresh_all()
        waiting = self.history.waiting
        results, running, interrupted = self.results, self.running, self.interrupted
        return self._take(
            (
                name,
                self.status(name)
                if waiting and name in waiting
                else row_status(name, results, running, interrupted),
            )
            for name in names
        )

    def _take(self, looks: Iterable[tuple[str, RowStatus]]) -> list[Transition]:
        """Record each (task, status now): the statuses, their counts, and the changes."""
        statuses = self.statuses
        tally = self.tally
        get = statuses.get
        changed: list[Transition] = []
        for name, new in looks:
            old = get(name)
            if old is not new:
                statuses[name] = new
                if old is not None:
                    tally[old] -= 1
                tally[new] += 1
                changed.append((name, old, new))
        return changed

    def _refresh_all(self) -> list[Transition]:
        """`refresh()` of every task, by the sets rather than a lookup per task: a run of
        a million tasks opens on it."""
        # From the graph's index (its keys are `steps`' names, in order): sized at once,
        # each key's hash handed over (from a list, the growing table reads every name
        # again: at 1M tasks 0.18 s, not 0.11).
        now = dict.fromkeys(self.session.graph.index, RowStatus.PENDING)
        known = now.keys()
        for name, result in self.results.items():
            if name in known:
                now[name] = STATUS_OF_RESULT[result.status]
        for name in self.interrupted:
            if name in known:
                now[name] = RowStatus.INTERRUPTED
        for name in self.running:
            if name in known:
                now[name] = RowStatus.RUNNING
        for name in self.history.waiting:
            if name in known:
                now[name] = self.status(name)
        statuses = self.statuses
        tally = self.tally
        if not statuses:
            # The first look (made when the view is built): nothing was counted before,
            # so there is nothing to keep up to date.
            self.statuses = now
            for status, count in Counter(now.values()).items():
                tally[status] += count
            return []
        if now == statuses:  # compared in C: a look at a run that did not move
            return []
        return self._take(now.items())

    def shown_finished(self) -> list[str]:
        """Tasks whose row shows anything but pending (as of the last refresh)."""
        pending = RowStatus.PENDING
        return [name for name, status in self.statuses.items() if status is not pending]

    @property
    def state(self) -> RunState:
        return self.session.state

    @property
    def workflow_name(self) -> str:
        return self.session.workflow.name

    def elapsed(self) -> float:
        return self.clock.elapsed(self.session)

    def status(self, name: str) -> RowStatus:
        status = row_status(name, self.results, self.running, self.interrupted)
        history = self.history
        if (
            status is RowStatus.RUNNING
            and name in history.waiting
            and history.retrying_in(name) is not None
        ):
            return RowStatus.RETRYING
        return status

    def retrying_in(self, name: str) -> float | None:
        """Seconds until the next attempt of `name`, while it waits out a retry's delay."""
        return self.history.retrying_in(name)

    def result(self, name: str) -> TaskResult | None:
        return self.results.get(name)

    def duration(self, name: str) -> float | None:
        """Seconds: of the running attempt, or of the finished task; None if neither."""
        if name in self.running:
            started = self.live.started.get(name)
            return None if started is None else max(0.0, self.now - started)
        result = self.results.get(name)
        if result is None or result.metrics is None or not result.metrics.attempts:
            return None  # never ran (skipped, cancelled before start, marked done)
        return result.metrics.duration_ms / 1000.0

    def attempts(self, name: str) -> int:
        """Attempts in this session (manual retries go on counting), else the result's."""
        seen = self.history.total(name)
        if seen:
            return seen
        if name in self.running:
            return self.live.attempt.get(name, 1)
        result = self.results.get(name)
        if result is None or result.metrics is None:
            return 0
        return result.metrics.attempts

    def counts(self) -> dict[RowStatus, int]:
        """Tasks per status as of the last refresh."""
        return dict(self.tally)

    def kept_now(self) -> frozenset[str]:
        """Every task `is_kept` says yes for, at once."""
        plan = self.session.plan
        if plan is None:
            return frozenset()
        if plan is not self._kept_plan:
            self._kept_plan = plan
            self._kept = frozenset(plan.kept)
        started = self.live.started
        return self._kept.difference(started) if started else self._kept

    def is_kept(self, name: str) -> bool:
        """Kept from the snapshot this run resumed: its success was not run now."""
        plan = self.session.plan
        if plan is None:
            return False
        if plan is not self._kept_plan:
            self._kept_plan = plan
            self._kept = frozenset(plan.kept)
        return name in self._kept and name not in self.live.started

    # -- one task, for the detail pane -------------------------------------------------

    def step(self, name: str) -> TaskStep[Any]:
        return self.steps[self.session.graph.index[name]]

    def dependencies(self, name: str) -> list[str]:
        graph = self.session.graph
        return [self.steps[j].name for j in graph.deps[graph.index[name]]]

    def dependents(self, name: str) -> list[str]:
        graph = self.session.graph
        return [self.steps[j].name for j in graph.dependents[graph.index[name]]]

    def logs(self, name: str) -> list[str]:
        return self.session.task_logs(name)

    def rerun_reason(self, name: str) -> str | None:
        plan = self.session.plan
        if plan is None:
            return None
        return plan.rerun.get(name)
