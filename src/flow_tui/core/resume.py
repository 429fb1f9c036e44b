"""Resuming from a snapshot: what it will do (the plan), and who must consent to it.

Pure functions of a saved snapshot and a task graph: nothing here runs or changes a run.
The state manager applies a plan when a run is prepared; front ends show one before.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from flow_tui.core.errors import SnapshotError
from flow_tui.core.graph import TaskGraph
from flow_tui.core.model import SUCCESS, TaskMetrics, TaskResult, TaskStatus
from flow_tui.core.snapshot import Snapshot

_RERUN_REASON = {
    TaskStatus.FAILURE: "failed",
    TaskStatus.CANCELLED: "cancelled",
    TaskStatus.SKIPPED: "skipped",
}


@dataclass(slots=True)
class ResumePlan:
    """What resuming from a snapshot will do, computed before anything runs."""

    kept: list[str] = field(default_factory=list)
    rerun: dict[str, str] = field(default_factory=dict)  # task -> why
    # In the snapshot's task list with no result and not interrupted: it never started.
    pending: list[str] = field(default_factory=list)
    # Not in the snapshot's task list (without such a list: every task with no result).
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    needs_consent: list[str] = field(default_factory=list)  # interrupted, not idempotent
    marked_done: list[str] = field(default_factory=list)
    graph_changed: bool = False
    # What `plan_resume` made it of: the snapshot and the graph (weakly) and the tasks
    # marked done. A runner given a plan made before (the one shown to the operator)
    # takes it only if made of the same; else it plans again. Not part of the value.
    _made_of: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    def made_of(self, basis: Snapshot, graph: TaskGraph | None, mark_done: Iterable[str]) -> bool:
        """Whether `plan_resume(basis, graph, mark_done=mark_done)` made this plan (any
        graph when `graph` is None). The snapshot must not have changed since."""
        made = self._made_of
        return (
            made is not None
            and made[0]() is basis
            and (graph is None or made[1]() is graph)
            and made[2] == frozenset(mark_done)
        )

    def counts(self) -> str:
        """What will run, in the plan's words: "2 kept, 1 re-run, 14 pending, 0 new"."""
        return (
            f"{len(self.kept)} kept, {len(self.rerun)} re-run, {len(self.pending)} pending, "
            f"{len(self.new)} new"
        )

    def summary(self) -> str:
        """One line of counts, e.g. "6 kept, 1 re-run, 14 pending, 0 new, 0 removed, 1
        interrupted"."""
        line = f"{self.counts()}, {len(self.removed)} removed"
        if self.interrupted:
            line += f", {len(self.interrupted)} interrupted"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": list(self.kept),
            "rerun": dict(self.rerun),
            "pending": list(self.pending),
            "new": list(self.new),
            "removed": list(self.removed),
            "interrupted": list(self.interrupted),
            "needs_consent": list(self.needs_consent),
            "marked_done": list(self.marked_done),
            "graph_changed": self.graph_changed,
        }


class InterruptedTaskError(SnapshotError):
    """Resuming would re-run a non-idempotent task that may have half-run."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        listed = ", ".join(repr(n) for n in names)
        super().__init__(
            f"non-idempotent task(s) {listed} were interrupted and may have partly run; "
            "re-run them only with consent (--rerun-interrupted) or record them as "
            "completed (--mark-done TASK)"
        )


class MarkDoneError(SnapshotError):
    """`mark_done` names a task the snapshot does not list as interrupted.

    `names`: the offending names (unknown tasks included); `interrupted`: the tasks that
    could be marked done (the snapshot's interrupted tasks, in declaration order).
    """

    def __init__(self, names: list[str], interrupted: list[str]) -> None:
        self.names = names
        self.interrupted = interrupted
        listed = ", ".join(repr(n) for n in names)
        what = (
            "it is not an interrupted task" if len(names) == 1 else "they are not interrupted tasks"
        )
        choices = (
            f"interrupted: {', '.join(interrupted)}"
            if interrupted
            else "the snapshot lists no interrupted task"
        )
        super().__init__(f"cannot mark {listed} done: {what} of this snapshot ({choices})")


# -- consent ---------------------------------------------------------------------------


def missing_consent(
    needs_consent: Iterable[str],
    *,
    rerun_interrupted: bool = False,
    mark_done: Iterable[str] = (),
) -> list[str]:
    """The tasks of `needs_consent` (interrupted, not idempotent) nobody decided about:
    none with `rerun_interrupted` (consent to run them all again), else every one not
    recorded done in `mark_done`. In the order of `needs_consent`."""
    if rerun_interrupted:
        return []
    marked = set(mark_done)
    return [name for name in needs_consent if name not in marked]


def check_consent(
    needs_consent: Iterable[str],
    *,
    rerun_interrupted: bool = False,
    mark_done: Iterable[str] = (),
) -> None:
    """Raise InterruptedTaskError naming the tasks `missing_consent` gives, if any."""
    missing = missing_consent(
        needs_consent, rerun_interrupted=rerun_interrupted, mark_done=mark_done
    )
    if missing:
        raise InterruptedTaskError(missing)


# -- marked done -----------------------------------------------------------------------

_MARKED_DONE_MESSAGE: dict[str, str] = {
    "flag": "marked done by hand (--mark-done)",
    "operator": "marked done by the operator",
}


def check_mark_done_by(by: str) -> None:
    """ValueError unless `by` is "flag" or "operator"."""
    if by not in _MARKED_DONE_MESSAGE:
        raise ValueError(f"mark_done_by must be 'flag' or 'operator', got {by!r}")


def marked_done_result(by: str = "flag") -> TaskResult:
    """The result of an interrupted task someone says completed: by the `--mark-done`
    flag (`by="flag"`) or by the operator's choice in a dashboard (`by="operator"`)."""
    check_mark_done_by(by)
    now = datetime.now(UTC)
    return TaskResult(
        TaskStatus.SUCCESS,
        message=_MARKED_DONE_MESSAGE[by],
        metrics=TaskMetrics(now, now, 0.0, 0),
    )


# -- planning --------------------------------------------------------------------------


def plan_resume(
    basis: Snapshot,
    graph: TaskGraph,
    *,
    mark_done: Iterable[str] = (),
    mark_done_by: str = "flag",
) -> ResumePlan:
    """Classify every task of `graph` against the snapshot `basis`; changes nothing.

    `mark_done` names interrupted tasks to record as completed instead of running them
    again (`mark_done_by`, "flag" or "operator", is checked: the results made for them
    will say who decided). Raises MarkDoneError when `mark_done` names a task that is not
    one of the snapshot's interrupted tasks (or not a task of `graph` at all).
    """
    check_mark_done_by(mark_done_by)
    marked = set(mark_done)
    saved_results = basis.results
    steps = graph.steps
    plan = ResumePlan()
    plan._made_of = (weakref.ref(basis), weakref.ref(graph), frozenset(marked))
    if not (saved_results or basis.interrupted or marked or basis.tasks):
        return plan  # a fresh run: nothing to classify
    saved_interrupted = set(basis.interrupted)
    if marked:
        markable = [s.name for s in steps if s.name in saved_interrupted]
        wrong = [n for n in sorted(marked) if n not in markable]
        if wrong:
            raise MarkDoneError(wrong, markable)
    if basis.fingerprint is not None:
        plan.graph_changed = basis.fingerprint != graph.fingerprint()
    # Each pass over the tasks is a map() of built-ins where it can be: at 1M tasks an
    # interpreted line per task costs a tenth of a second.
    names = [*graph.index]  # declaration order
    # The snapshot's names, compared with the graph's once. Equal (a snapshot of this
    # graph: the usual resume), the saved values are taken in order as they stand, where
    # a lookup per task costs a probe of a table out of the cache (0.2 s at 1M); and its
    # other tables, keyed by the same strings as its results (as the reader makes them),
    # are compared by identity.
    keys = [*saved_results]
    aligned = len(keys) == len(names) and keys == names
    changed: list[int] = []
    saved_versions = basis.versions
    if saved_versions:
        current = [*map(_version_of, steps)]
        saved_values = [*saved_versions.values()]
        if current.count(None) == len(current) and saved_values.count(None) == len(saved_values):
            before = current  # no version on either side: none changed
        elif aligned and len(saved_versions) == len(keys) and [*saved_versions] == keys:
            before = saved_values
        else:
            before = [*map(saved_versions.get, names)]
        if before != current:
            changed = [
                i
                for i, was, now in zip(range(len(names)), before, current, strict=True)
                if was != now and names[i] in saved_results
            ]
    saved: list[Any] = (
        [*saved_results.values()]
        if aligned
        else [*map(saved_results.get, names, repeat(_NO_RESULT))]
    )
    statuses = [*map(_status_of, saved)]
    if not (marked or saved_interrupted or changed) and statuses.count(SUCCESS) == len(names):
        plan.kept = names  # every task a saved success still valid: all kept
    else:
        _classify(plan, basis, graph, names, saved, changed, saved_interrupted, marked)
    tasks = basis.tasks
    index = graph.index
    # Every saved result is of a task of the graph when as many were found above as
    # there are; the task list is the graph's when equal to its names (no lookups).
    found = len(names) - statuses.count(None)
    if found == len(saved_results) and (
        (aligned and tasks == keys) or tasks == names or all(map(index.__contains__, tasks))
    ):
        plan.removed = []
    else:
        known = dict.fromkeys([*tasks, *saved_results])
        plan.removed = [n for n in known if n not in index]
    return plan


def _classify(
    plan: ResumePlan,
    basis: Snapshot,
    graph: TaskGraph,
    names: list[str],
    saved: list[Any],
    changed: list[int],
    saved_interrupted: set[str],
    marked: set[str],
) -> None:
    """`plan_resume` task by task (its fast path does not apply)."""
    listed = set(basis.tasks)
    has_saved = bool(basis.results or saved_interrupted)
    stale = graph.downstream(changed) if changed else set()
    changed_set = set(changed)
    kept = plan.kept
    rerun = plan.rerun
    for i, (name, step, result) in enumerate(zip(names, graph.steps, saved, strict=True)):
        if name in marked:
            plan.marked_done.append(name)
            kept.append(name)
            continue
        status = result.status
        if name in saved_interrupted and status is not SUCCESS:
            plan.interrupted.append(name)
            rerun[name] = "interrupted"
            if not step.idempotent:
                plan.needs_consent.append(name)
            continue
        if result is _NO_RESULT:
            if listed:
                # The snapshot knew the task: it never started (pending), or the
                # snapshot is of a graph without it (new).
                (plan.pending if name in listed else plan.new).append(name)
            elif has_saved:
                plan.new.append(name)
            continue
        if status is SUCCESS:
            if i in changed_set:
                rerun[name] = "version changed"
            elif i in stale:
                rerun[name] = "upstream version changed"
            else:
                kept.append(name)
        else:
            rerun[name] = _RERUN_REASON[status]


# Stands for "no saved result" in the passes of `plan_resume`: its status is no status.
_NO_RESULT: Any = SimpleNamespace(status=None)
_status_of = attrgetter("status")
_version_of = attrgetter("version")


def resume_snapshot(
    basis: Snapshot,
    graph: TaskGraph,
    *,
    mark_done: Iterable[str] = (),
    mark_done_by: str = "flag",
) -> Snapshot:
    """The snapshot of a run of `graph` that resumes from `basis` and has not started.

    The saved results stand, with the versions they were made by (so a crash before the
    run still sees which ones changed); tasks in `mark_done` are recorded done (the
    operator's word is a result like any other: saved before any task that depends on
    it runs) and no longer interrupted. Workflow, status and context are the basis's.
    """
    results = dict(basis.results)
    interrupted = list(basis.interrupted)
    marked = tuple(mark_done)
    if marked:
        for name in marked:
            results[name] = marked_done_result(mark_done_by)
        interrupted = [n for n in interrupted if n not in marked]
    versions: dict[str, str | None] = {}
    if basis.versions:
        versions = {
            s.name: basis.versions.get(s.name) if s.name in basis.results else s.version
            for s in graph.steps
        }
    return Snapshot(
        results=results,
        workflow=basis.workflow,
        fingerprint=basis.fingerprint or graph.fingerprint(),
        versions=versions,
        interrupted=interrupted,
        tasks=[s.name for s in graph.steps],
        status=basis.status,
        context=basis.context,
    )
