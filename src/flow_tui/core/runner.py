"""TaskRunner and TaskRunnerBuilder: the public entry point of the core."""

from __future__ import annotations

import contextlib
import gc
import inspect
from collections.abc import Awaitable, Collection, Iterable, Mapping, Sequence
from typing import Any, Generic, Self, TypeVar

from flow_tui.core.collector import collector_paused
from flow_tui.core.commit import CommitBarrier
from flow_tui.core.events import EventBus, Listener, WorkflowEnd, WorkflowStart
from flow_tui.core.executor import WorkflowExecutor
from flow_tui.core.graph import TaskGraph, build_graph, mermaid
from flow_tui.core.invoke import (
    LocalInvoker,
    RunUpstream,
    TaskInvoker,
    ThreadedInvoker,
    current_upstream,
)
from flow_tui.core.model import RunStatus, TaskResult, TaskStep
from flow_tui.core.plugins import Plugin, PluginContext
from flow_tui.core.resume import ResumePlan, check_mark_done_by
from flow_tui.core.snapshot import Snapshot
from flow_tui.core.state import TaskStateManager
from flow_tui.core.strategies import DryRunStrategy, ExecutionStrategy, default_strategy

C = TypeVar("C")


class TaskRunner(Generic[C]):
    """Runs a list of TaskSteps as a DAG. Build one with TaskRunnerBuilder."""

    def __init__(
        self,
        context: C,
        *,
        strategy: ExecutionStrategy | None = None,
        events: EventBus | None = None,
        state: TaskStateManager | None = None,
        invoker: TaskInvoker | None = None,
        barrier: CommitBarrier | None = None,
    ) -> None:
        self.context = context
        self.strategy = strategy or default_strategy()
        self.events = events or EventBus()
        self.state = state or TaskStateManager()
        self.invoker: TaskInvoker = invoker or LocalInvoker()
        self.barrier = barrier
        self.plan: ResumePlan | None = None
        self._executor: WorkflowExecutor | None = None
        self._paused = False
        self._cancelled = False
        self._installing: list[Awaitable[Any]] = []  # async Plugin.install, awaited by execute

    # -- running -----------------------------------------------------------------------

    async def execute(
        self,
        steps: Sequence[TaskStep[C]] | TaskGraph,
        concurrency: int | None = None,
        timeout: float | None = None,
        dry_run: bool = False,
        only: Collection[str] | None = None,
    ) -> dict[str, TaskResult]:
        """Run `steps`; return every task's result, in declaration order.

        `concurrency` caps running tasks (None: no cap); `timeout` (seconds) cancels the
        whole run; `dry_run` calls no body, condition or retry; `only` runs just the named
        tasks, every other task keeping its saved result.
        """
        if self._executor is not None:
            raise RuntimeError("this TaskRunner is already executing")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        while self._installing:
            # Async plugins finish installing (their listeners registered) before anything
            # of the run happens.
            await self._installing.pop(0)
        size = len(steps.steps) if isinstance(steps, TaskGraph) else len(steps)
        collector = _Collector(size)
        try:
            return await self._execute(steps, concurrency, timeout, dry_run, only, collector)
        finally:
            collector.thaw()

    async def _execute(
        self,
        steps: Sequence[TaskStep[C]] | TaskGraph,
        concurrency: int | None,
        timeout: float | None,
        dry_run: bool,
        only: Collection[str] | None,
        collector: _Collector,
    ) -> dict[str, TaskResult]:
        with collector.paused():
            # A TaskGraph (already validated, e.g. by a Session) is not validated again.
            graph = steps if isinstance(steps, TaskGraph) else build_graph(steps)
            ready, kept, plan = self.state.prepare(graph, only)
            # Frozen before the collector is back on: the objects just made are never
            # walked by the young collection their number would trigger at once.
            collector.freeze()
        self.plan = plan
        strategy = DryRunStrategy() if dry_run else self.strategy
        executor = WorkflowExecutor(
            graph,
            self.state,
            strategy,
            self.events,
            self.invoker,
            self.context,
            concurrency=concurrency,
            barrier=self.barrier,
            paused=self._paused,
            dry_run=dry_run,
        )
        self._executor = executor
        if self._paused:
            self.state.set_status(RunStatus.PAUSED)
        # What `upstream()` reads in every body of this run (the executor's tasks, and the
        # threads of sync bodies, inherit this context).
        state = self.state
        upstream = current_upstream.set(
            RunUpstream(graph.steps, graph.index, lambda: state.results)
        )
        try:
            if self.events.wants("workflow_start"):
                self.events.emit(
                    WorkflowStart(list(graph.steps), [graph.steps[i].name for i in kept])
                )
            if self._cancelled:
                executor.cancel("cancelled before start")
            await executor.run(ready, timeout)
        finally:
            current_upstream.reset(upstream)
            self._executor = None
            status = self.state.finish(cancelled=executor.stop_reason is not None)
        results = self.state.ordered_results()
        if self.events.wants("workflow_end"):
            self.events.emit(WorkflowEnd(results, status))
        await self.events.drain()
        return results

    # -- control -----------------------------------------------------------------------

    def pause(self, interrupt: bool = False) -> None:
        """Stop dispatching; with `interrupt`, also cancel running tasks: they end
        `cancelled` and run again on resume, except a non-idempotent one, which is held
        until `resume` is told what to do with it (see `needs_consent`)."""
        self._paused = True
        if self._executor is not None:
            self._executor.pause(interrupt)
        else:
            self.state.set_status(RunStatus.PAUSED)

    def resume(self, *, rerun_interrupted: bool = False, mark_done: Iterable[str] = ()) -> None:
        """Dispatch again.

        Held tasks (`needs_consent`) must each be covered: `rerun_interrupted` runs them
        all again; `mark_done` records the named ones as completed ("marked done by the
        operator"; an end like any other: task_end, dependents released, checkpointed).
        Otherwise InterruptedTaskError is raised, naming the uncovered ones, and the run
        stays paused, unchanged. A name in `mark_done` that is not held raises ValueError.
        """
        marked = list(mark_done)
        executor = self._executor
        if executor is not None:
            executor.check_resume(rerun_interrupted, marked)  # raises before any change
        elif marked:
            raise ValueError(
                f"{marked[0]!r} is not an interrupted task waiting for consent "
                "(no run is executing)"
            )
        self._paused = False
        if executor is not None:
            executor.resume(rerun_interrupted, marked)
        elif self.state.status is RunStatus.PAUSED:
            self.state.set_status(RunStatus.PENDING)

    def cancel(self) -> None:
        """End the run: running tasks are cancelled, unfinished ones end `cancelled`."""
        self._cancelled = True
        if self._executor is not None:
            self._executor.cancel()

    @property
    def is_paused(self) -> bool:
        executor = self._executor
        if executor is not None:
            # The run may pause itself (a failed commit, a task waiting for consent).
            return executor.paused
        return self._paused

    @property
    def needs_consent(self) -> list[str]:
        """Non-idempotent tasks an interrupting pause cut off in this run, in declaration
        order: they run again only through `resume(rerun_interrupted=True)` or are
        recorded done through `resume(mark_done=...)`. Empty when none (or no run)."""
        executor = self._executor
        if executor is None:
            return []
        steps = executor.graph.steps
        return [steps[i].name for i in executor.held]

    @property
    def interrupted(self) -> list[str]:
        """Tasks cut off mid-body that will run again or wait for consent, in declaration
        order: by an interrupting pause or a cancel in this run, or interrupted in the
        snapshot this run resumes and not run again yet. Before a run: the snapshot's."""
        return self.state.interrupted_names()

    @property
    def status(self) -> RunStatus:
        """Pending, running, paused, or how the last run ended (finished, failed,
        cancelled)."""
        return self.state.status

    @property
    def busy_threads(self) -> int:
        """Sync task bodies still running in threads of this process (one whose await was
        cancelled may run on): a process should not wait for them at exit. 0 when the
        invoker runs no threads."""
        invoker = self.invoker
        return invoker.busy if isinstance(invoker, ThreadedInvoker) else 0

    @property
    def is_running(self) -> bool:
        return self._executor is not None

    @property
    def running(self) -> list[str]:
        """Names of the tasks running now."""
        executor = self._executor
        if executor is None:
            return []
        return [executor.graph.steps[i].name for i in sorted(executor.tasks)]

    @property
    def results(self) -> dict[str, TaskResult]:
        """Results so far (a live view; copy it to keep it)."""
        return self.state.results

    def snapshot(self, context: Any = None) -> Snapshot:
        """A consistent, serializable copy of the run's state, at any moment."""
        return self.state.snapshot(context)

    @staticmethod
    def mermaid(steps: Sequence[TaskStep[Any]], statuses: Mapping[str, str] | None = None) -> str:
        return mermaid(steps, statuses)


#: Runs of at least this many tasks keep the garbage collector out of their way.
GC_FREEZE_MIN_TASKS = 5000


class _Collector:
    """How a large run keeps the cyclic garbage collector out of its way.

    A run keeps a result per task. Every full collection it triggers walks all older
    objects too (the steps, the graph, the caller's data): at 100k tasks that cost more
    than the scheduling itself. So, for runs of GC_FREEZE_MIN_TASKS tasks or more:
    - building the graph and planning (allocations only, no reference cycles) run with
      the collector paused;
    - then everything that exists is moved aside with gc.freeze(), and given back with
      gc.unfreeze() when the run ends: nothing is collected less in the end.
    Nothing is done when the collector is off or something else has frozen objects.
    """

    def __init__(self, size: int) -> None:
        self.active = size >= GC_FREEZE_MIN_TASKS and gc.isenabled() and not gc.get_freeze_count()
        self.frozen = False

    def paused(self) -> contextlib.AbstractContextManager[None]:
        return collector_paused() if self.active else contextlib.nullcontext()

    def freeze(self) -> None:
        if self.active:
            gc.freeze()
            self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False


class TaskRunnerBuilder(Generic[C]):
    """Fluent construction of a TaskRunner.

    >>> runner = TaskRunnerBuilder(ctx).on("task_end", print).build()
    """

    def __init__(self, context: C = None) -> None:  # type: ignore[assignment]
        self._context = context
        self._strategy: ExecutionStrategy | None = None
        self._listeners: list[tuple[str, Listener]] = []
        self._plugins: list[Plugin] = []
        self._snapshot: Snapshot | Mapping[str, TaskResult] | None = None
        self._rerun_interrupted = False
        self._mark_done: tuple[str, ...] = ()
        self._mark_done_by: str = "flag"
        self._plan: ResumePlan | None = None
        self._invoker: TaskInvoker | None = None
        self._barrier: CommitBarrier | None = None
        self._workflow_name: str | None = None

    def use_strategy(self, strategy: ExecutionStrategy) -> Self:
        """Replace the default strategy stack (looping, retrying, standard)."""
        self._strategy = strategy
        return self

    def on(self, event: str, listener: Listener) -> Self:
        self._listeners.append((event, listener))
        return self

    def use(self, plugin: Plugin) -> Self:
        """Install `plugin` at build(); an async install is awaited when the run starts."""
        if not callable(getattr(plugin, "install", None)):
            raise TypeError(f"{type(plugin).__name__} is not a plugin: it has no install()")
        self._plugins.append(plugin)
        return self

    def with_snapshot(
        self,
        snapshot: Snapshot | Mapping[str, TaskResult],
        *,
        rerun_interrupted: bool = False,
        mark_done: Iterable[str] = (),
        mark_done_by: str = "flag",
        plan: ResumePlan | None = None,
    ) -> Self:
        """Resume from saved results: saved successes are kept, the rest run again.

        A non-idempotent task that was interrupted makes `execute` refuse unless
        `rerun_interrupted` is true or the task is named in `mark_done`. `mark_done` may
        only name tasks the snapshot lists as interrupted (else `execute` raises
        MarkDoneError); their result says who decided: "marked done by hand (--mark-done)"
        with `mark_done_by="flag"`, "marked done by the operator" with "operator".

        `plan`: the `plan_resume` of this snapshot (unchanged since), with the same
        `mark_done`, for the graph that will run, made before (e.g. shown to the
        operator): taken as it is instead of planning again. A plan made of anything
        else is not used: the run plans for itself.
        """
        check_mark_done_by(mark_done_by)
        self._snapshot = snapshot
        self._plan = plan
        self._rerun_interrupted = rerun_interrupted
        self._mark_done = tuple(mark_done)
        self._mark_done_by = mark_done_by
        return self

    def with_invoker(self, invoker: TaskInvoker) -> Self:
        """Call task bodies through `invoker` (the seam for remote backends)."""
        self._invoker = invoker
        return self

    def with_barrier(self, barrier: CommitBarrier) -> Self:
        """Await `barrier.commit()` before releasing ended tasks (durable checkpoints)."""
        self._barrier = barrier
        return self

    def with_workflow_name(self, name: str | None) -> Self:
        self._workflow_name = name
        return self

    def build(self) -> TaskRunner[C]:
        state = TaskStateManager(self._workflow_name)
        if self._snapshot is not None:
            state.hydrate(
                self._snapshot,
                rerun_interrupted=self._rerun_interrupted,
                mark_done=self._mark_done,
                mark_done_by=self._mark_done_by,
                plan=self._plan,
            )
        runner: TaskRunner[C] = TaskRunner(
            self._context,
            strategy=self._strategy,
            state=state,
            invoker=self._invoker,
            barrier=self._barrier,
        )
        for event, listener in self._listeners:
            runner.events.on(event, listener)
        for plugin in self._plugins:
            outcome = plugin.install(PluginContext(runner, self._context))
            if outcome is not None and inspect.isawaitable(outcome):
                runner._installing.append(outcome)  # awaited when the run starts
        return runner


__all__ = ["TaskRunner", "TaskRunnerBuilder"]
