"""TaskStateManager: results, dependency counts, the skip cascade, snapshot and hydrate.

It is the single owner of "what has happened" in a run; the executor asks it what became
ready and tells it what ended.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

    def summary(self) -> str:
        """One line of counts, e.g. "6 kept, 1 re-run, 14 pending, 0 new, 0 removed, 1
        interrupted"."""
        line = (
            f"{len(self.kept)} kept, {len(self.rerun)} re-run, {len(self.pending)} pending, "
            f"{len(self.new)} new, {len(self.removed)} removed"
        )
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


_NONE_READY: list[int] = []  # returned when nothing became ready; never appended to


_MARKED_DONE_MESSAGE: dict[str, str] = {
    "flag": "marked done by hand (--mark-done)",
    "operator": "marked done by the operator",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _check_mark_done_by(by: str) -> None:
    if by not in _MARKED_DONE_MESSAGE:
        raise ValueError(f"mark_done_by must be 'flag' or 'operator', got {by!r}")


def marked_done_result(by: str = "flag") -> TaskResult:
    """The result of an interrupted task someone says completed: by the `--mark-done`
    flag (`by="flag"`) or by the operator's choice in a dashboard (`by="operator"`)."""
    _check_mark_done_by(by)
    now = _now()
    return TaskResult(
        TaskStatus.SUCCESS,
        message=_MARKED_DONE_MESSAGE[by],
        metrics=TaskMetrics(now, now, 0.0, 0),
    )


class TaskStateManager:
    def __init__(self) -> None:
        self.saved: dict[str, TaskResult] = {}
        self.saved_versions: dict[str, str | None] | None = None
        self.saved_interrupted: set[str] = set()
        self.saved_interrupted_order: list[str] = []  # as the snapshot lists them
        self.saved_tasks: list[str] = []  # the snapshot's task list (empty: it had none)
        self.saved_fingerprint: str | None = None
        self.saved_workflow: str | None = None
        self.rerun_interrupted = False
        self.mark_done: set[str] = set()
        self.mark_done_by: str = "flag"
        self.workflow_name: str | None = None
        self.graph: TaskGraph | None = None
        self.results: dict[str, TaskResult] = {}
        self.running: set[int] = set()
        self.interrupted: set[int] = set()
        self.done_count = 0
        self.status = "pending"
        self._remaining: list[int] = []
        self._done = bytearray()

    # -- hydrate -----------------------------------------------------------------------

    def hydrate(
        self,
        saved: Snapshot | Mapping[str, TaskResult],
        *,
        rerun_interrupted: bool = False,
        mark_done: Iterable[str] = (),
        mark_done_by: str = "flag",
    ) -> None:
        """Load saved results; they are applied when the next run is prepared.

        `mark_done` names interrupted tasks to record as completed instead of running
        them again; `mark_done_by` ("flag" or "operator") says who decided, in the
        result's message.
        """
        _check_mark_done_by(mark_done_by)
        if isinstance(saved, Snapshot):
            self.saved = dict(saved.results)
            self.saved_versions = dict(saved.versions) if saved.versions else None
            self.saved_interrupted_order = list(dict.fromkeys(saved.interrupted))
            self.saved_interrupted = set(self.saved_interrupted_order)
            self.saved_tasks = list(saved.tasks)
            self.saved_fingerprint = saved.fingerprint
            self.saved_workflow = saved.workflow
        elif isinstance(saved, Mapping):
            for name, result in saved.items():
                if not isinstance(result, TaskResult):
                    raise SnapshotError(
                        f"saved result for task {name!r} is a {type(result).__name__}, "
                        "not a TaskResult"
                    )
            self.saved = dict(saved)
            self.saved_versions = None
            self.saved_interrupted = set()
            self.saved_interrupted_order = []
            self.saved_tasks = []
        else:
            raise SnapshotError(
                f"with_snapshot() takes a Snapshot or a mapping of task results, "
                f"not {type(saved).__name__}"
            )
        self.rerun_interrupted = rerun_interrupted
        self.mark_done = set(mark_done)
        self.mark_done_by = mark_done_by

    # -- planning ----------------------------------------------------------------------

    def plan(self, graph: TaskGraph) -> ResumePlan:
        """Classify every task against the saved results; pure, nothing is changed.

        Raises MarkDoneError when `mark_done` names a task that is not one of the
        snapshot's interrupted tasks (or not a task of `graph` at all).
        """
        steps = graph.steps
        plan = ResumePlan()
        if not (self.saved or self.saved_interrupted or self.mark_done or self.saved_tasks):
            return plan  # a fresh run: nothing to classify
        if self.mark_done:
            markable = [s.name for s in steps if s.name in self.saved_interrupted]
            wrong = [n for n in sorted(self.mark_done) if n not in markable]
            if wrong:
                raise MarkDoneError(wrong, markable)
        listed = set(self.saved_tasks)
        if self.saved_fingerprint is not None:
            plan.graph_changed = self.saved_fingerprint != graph.fingerprint()
        changed: list[int] = []
        if self.saved_versions is not None:
            for i, step in enumerate(steps):
                if step.name in self.saved and step.version != self.saved_versions.get(step.name):
                    changed.append(i)
        stale = graph.downstream(changed) if changed else set()
        changed_set = set(changed)
        for i, step in enumerate(steps):
            name = step.name
            interrupted = name in self.saved_interrupted
            saved = self.saved.get(name)
            if name in self.mark_done:
                plan.marked_done.append(name)
                plan.kept.append(name)
                continue
            if interrupted and (saved is None or saved.status is not TaskStatus.SUCCESS):
                plan.interrupted.append(name)
                plan.rerun[name] = "interrupted"
                if not step.idempotent:
                    plan.needs_consent.append(name)
                continue
            if saved is None:
                if listed:
                    # The snapshot knew the task: it never started (pending), or the
                    # snapshot is of a graph without it (new).
                    (plan.pending if name in listed else plan.new).append(name)
                elif self.saved or self.saved_interrupted:
                    plan.new.append(name)
                continue
            if saved.status is TaskStatus.SUCCESS:
                if i in changed_set:
                    plan.rerun[name] = "version changed"
                elif i in stale:
                    plan.rerun[name] = "upstream version changed"
                else:
                    plan.kept.append(name)
            else:
                plan.rerun[name] = _RERUN_REASON[saved.status]
        known = dict.fromkeys([*self.saved_tasks, *self.saved])
        plan.removed = [n for n in known if n not in graph.index]
        return plan

    def prepare(
        self, graph: TaskGraph, only: Collection[str] | None = None
    ) -> tuple[list[int], list[int], ResumePlan]:
        """Reset for a run of `graph`; returns (ready, kept, plan).

        Kept tasks (saved successes still valid, tasks marked done, and with `only` every
        task outside it that has a saved result) are finished before the run begins.
        """
        plan = self.plan(graph)
        if plan.needs_consent and not self.rerun_interrupted:
            raise InterruptedTaskError(plan.needs_consent)
        n = len(graph.steps)
        self.graph = graph
        self.results = {}
        self.running = set()
        self.interrupted = set()
        self.done_count = 0
        self.status = "running"
        self._remaining = [len(d) for d in graph.deps]
        self._done = bytearray(n)
        frozen: dict[int, TaskResult] = {}
        for name in plan.kept:
            i = graph.index[name]
            if name in self.mark_done:
                frozen[i] = marked_done_result(self.mark_done_by)
            else:
                frozen[i] = self.saved[name]
        if only is not None:
            selected = set(only)
            unknown = selected - set(graph.index)
            if unknown:
                raise ValueError(
                    f"only= names {', '.join(sorted(map(repr, unknown)))}, "
                    "which is not a task of this workflow"
                )
            for i, step in enumerate(graph.steps):
                if step.name not in selected and i not in frozen:
                    saved = self.saved.get(step.name)
                    frozen[i] = saved or TaskResult(
                        TaskStatus.SKIPPED,
                        message="not selected for this run",
                        metrics=TaskMetrics(_now(), _now(), 0.0, 0),
                    )
        kept = sorted(frozen)
        for i in kept:
            self.results[graph.steps[i].name] = frozen[i]
            self._done[i] = 1
            self.done_count += 1
        # Dependency counts: a frozen task that satisfies its dependents releases them; one
        # that does not (with `only`, a saved failure) blocks them as a live one would.
        blocked: list[int] = []
        for i in kept:
            if self._satisfies(i, frozen[i]):
                for j in graph.dependents[i]:
                    self._remaining[j] -= 1
            else:
                blocked.append(i)
        ready = [i for i in range(n) if not self._done[i] and self._remaining[i] == 0]
        for i in blocked:
            self._cascade(i, frozen[i], [])
        ready = [i for i in ready if not self._done[i]]
        return ready, kept, plan

    # -- the run -----------------------------------------------------------------------

    def _satisfies(self, i: int, result: TaskResult) -> bool:
        status = result.status
        if status is SUCCESS:
            return True
        assert self.graph is not None
        return status is TaskStatus.FAILURE and self.graph.steps[i].continue_on_error

    def complete(self, i: int, result: TaskResult, skipped: list[int]) -> list[int]:
        """Record the end of task `i`; return tasks that became ready.

        Tasks skipped because of it (transitively) are recorded and appended to `skipped`.
        """
        graph = self.graph
        assert graph is not None
        self.results[graph.steps[i].name] = result
        self.running.discard(i)
        if self.interrupted:
            self.interrupted.discard(i)
        done = self._done
        if not done[i]:
            done[i] = 1
            self.done_count += 1
        if result.status is not SUCCESS and not self._satisfies(i, result):
            self._cascade(i, result, skipped)
            return _NONE_READY
        dependents = graph.dependents[i]
        if not dependents:
            return _NONE_READY
        ready = []
        remaining = self._remaining
        for j in dependents:
            remaining[j] -= 1
            if remaining[j] == 0 and not done[j]:
                ready.append(j)
        return ready

    def _cascade(self, i: int, result: TaskResult, skipped: list[int]) -> None:
        graph = self.graph
        assert graph is not None
        stack = [(i, result.status)]
        while stack:
            k, status = stack.pop()
            verb = "was skipped" if status is TaskStatus.SKIPPED else _VERB[status]
            if k == i and status is TaskStatus.FAILURE and result.error:
                verb = f"{verb}: {result.error}"  # the failure that started the cascade
            cause = graph.steps[k].name
            for j in graph.dependents[k]:
                if self._done[j]:
                    continue
                now = _now()
                self._done[j] = 1
                self.done_count += 1
                self.results[graph.steps[j].name] = TaskResult(
                    TaskStatus.SKIPPED,
                    message=f"skipped because dependency {cause!r} {verb}",
                    metrics=TaskMetrics(now, now, 0.0, 0),
                )
                skipped.append(j)
                stack.append((j, TaskStatus.SKIPPED))

    def skip(self, i: int, result: TaskResult, skipped: list[int]) -> None:
        """Task `i` itself is skipped (its condition was false): record and cascade."""
        skipped.append(i)
        self.complete(i, result, skipped)

    def record_interrupted(self, i: int, result: TaskResult) -> None:
        """Task `i` was cut off by an interrupting pause: shown cancelled, runs again."""
        assert self.graph is not None
        self.results[self.graph.steps[i].name] = result
        self.running.discard(i)
        self.interrupted.add(i)

    def record_cancelled(self, i: int, result: TaskResult, *, started: bool) -> None:
        """Task `i` ends cancelled with the run; nothing cascades (everything stops)."""
        assert self.graph is not None
        self.results[self.graph.steps[i].name] = result
        self.running.discard(i)
        if started:
            self.interrupted.add(i)
        if not self._done[i]:
            self._done[i] = 1
            self.done_count += 1

    def cut_off(self) -> set[int]:
        """Tasks cut off mid-body, not running now, that will run again or wait for
        consent: interrupted in this run, or in the saved run and not run again yet."""
        graph = self.graph
        assert graph is not None
        cut_off = set(self.interrupted)
        results = self.results
        for name in self.saved_interrupted:
            # Interrupted in an earlier run and not run again yet: still interrupted (a
            # non-idempotent task keeps asking for consent until it actually re-runs).
            i = graph.index.get(name)
            r = results.get(name)
            if i is not None and i not in self.running and (r is None or r.status in _NOT_RUN):
                cut_off.add(i)
        return cut_off

    def interrupted_names(self) -> list[str]:
        """Names of the tasks `cut_off()` gives, in declaration order (before a run: the
        snapshot's interrupted tasks, as it lists them)."""
        graph = self.graph
        if graph is None:
            return list(self.saved_interrupted_order)
        steps = graph.steps
        return [steps[i].name for i in sorted(self.cut_off())]

    def unfinished(self) -> list[int]:
        return [i for i, d in enumerate(self._done) if not d]

    def is_done(self, i: int) -> bool:
        return bool(self._done[i])

    # -- snapshot ----------------------------------------------------------------------

    def fingerprint(self) -> str | None:
        if self.graph is None:
            return self.saved_fingerprint
        return self.graph.fingerprint()

    def snapshot(self, context: Any = None) -> Snapshot:
        """A consistent copy of the state, safe to take at any moment."""
        graph = self.graph
        if graph is None:
            # Not run yet: the hydrated results are the state.
            return Snapshot(
                results=dict(self.saved),
                workflow=self.workflow_name or self.saved_workflow,
                fingerprint=self.saved_fingerprint,
                versions=dict(self.saved_versions or {}),
                interrupted=list(self.saved_interrupted_order),
                tasks=list(self.saved_tasks),
                status=self.status,
                context=context,
            )
        steps = graph.steps
        results = self.results
        cut_off = self.running | self.cut_off()
        interrupted = [steps[i].name for i in sorted(cut_off)]
        ordered = {s.name: results[s.name] for s in steps if s.name in results}
        return Snapshot(
            results=ordered,
            workflow=self.workflow_name or self.saved_workflow,
            fingerprint=self.fingerprint(),
            versions={s.name: s.version for s in steps},
            interrupted=interrupted,
            tasks=[s.name for s in steps],
            status=self.status,
            context=context,
        )


_NOT_RUN = (TaskStatus.CANCELLED, TaskStatus.SKIPPED)

_VERB = {
    TaskStatus.FAILURE: "failed",
    TaskStatus.CANCELLED: "was cancelled",
    TaskStatus.SKIPPED: "was skipped",
    TaskStatus.SUCCESS: "succeeded",
}
