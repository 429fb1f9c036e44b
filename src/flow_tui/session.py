"""One run of one workflow: runner, checkpointer, controls and task logs.

The TUI and the headless reporter are two views of a Session: pause, save, load, retry
and resume are written here once. Over 400 lines on purpose: it is the one facade both
front ends talk to, and each of its methods is a thin step over core, checkpoint and
capture; splitting it would give each front end several objects to keep in step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from operator import attrgetter, is_not
from pathlib import Path
from typing import Any

from flow_tui.capture import TaskOutputCapture
from flow_tui.checkpoint import Checkpointer, CheckpointLock
from flow_tui.core.errors import FlowError, SnapshotError
from flow_tui.core.events import Event, TaskEnd, TaskStart, WorkflowPaused, WorkflowResumed
from flow_tui.core.graph import TaskGraph
from flow_tui.core.model import RunStatus, TaskResult, TaskStatus, TaskStep
from flow_tui.core.resume import (
    ResumePlan,
    check_consent,
    missing_consent,
    plan_resume,
    resume_snapshot,
)
from flow_tui.core.runner import TaskRunner, TaskRunnerBuilder
from flow_tui.core.snapshot import Snapshot
from flow_tui.core.workflow import Workflow
from flow_tui.exit_codes import EXIT_FAILED, EXIT_OK
from flow_tui.paths import same_file
from flow_tui.recurring import check_continue_options, decide_continue

log = logging.getLogger("flow_tui.session")


class RunState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSING = "pausing"  # paused, running tasks still draining
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_over(self) -> bool:
        return self in (RunState.FINISHED, RunState.FAILED, RunState.CANCELLED)


class SessionError(FlowError):
    """A run cannot be started or steered as asked."""


@dataclass(slots=True)
class SessionOptions:
    concurrency: int | None = None  # None: the workflow's default
    timeout: float | None = None  # None: the workflow's default
    dry_run: bool = False
    checkpoint: Path | None = None
    resume: Path | None = None
    rerun_interrupted: bool = False
    mark_done: tuple[str, ...] = ()
    force: bool = False
    paused: bool = False
    continue_run: bool = False  # --continue: resume `checkpoint` if unfinished, else fresh
    keep: int = 5  # --keep: finished checkpoints moved aside by --continue that are kept
    control: bool = True  # serve the run's control socket (--no-control: off)
    executor: str = "local"  # local | dask (--executor; --dask-address implies dask)
    dask_address: str | None = None  # a running scheduler; None: a temporary LocalCluster
    dask_workers: int | None = None  # LocalCluster worker processes (None: one per core)


@dataclass(slots=True)
class LoadedSnapshot:
    """A snapshot read from disk and what resuming from it would do."""

    path: Path
    snapshot: Snapshot
    plan: ResumePlan


@dataclass(slots=True)
class CheckpointFailed(Event):
    """The checkpoint could not be written; the run was paused so nothing more is lost."""

    name = "checkpoint_failed"
    error: SnapshotError = field(default_factory=lambda: SnapshotError("unknown"))


@dataclass(slots=True)
class RunPrepared(Event):
    """A new run was prepared (a snapshot loaded, a retry asked): it starts paused."""

    name = "run_prepared"
    plan: ResumePlan | None = None


Listener = Callable[[Event], None]


class Session:
    """One workflow, its current runner and everything that persists it."""

    def __init__(
        self,
        workflow: Workflow,
        options: SessionOptions | None = None,
        source: Path | None = None,
    ) -> None:
        self.workflow = workflow
        self.options = options or SessionOptions()
        self.source = source  # the workflow module's file, when known
        self.control_path: str | None = None  # the run's control socket, once served
        self.graph: TaskGraph = workflow.graph()
        self.steps: list[TaskStep[Any]] = self.graph.steps
        self.concurrency = self.options.concurrency or workflow.concurrency
        self.timeout = self.options.timeout if self.options.timeout else workflow.timeout
        self.runner: TaskRunner[Any] | None = None
        self.context: Any = None
        self.plan: ResumePlan | None = None
        self.resumed_from: Path | None = None
        self.checkpointer: Checkpointer | None = None
        # What task bodies print and log: kept per task, a TaskLog event per line while
        # someone listens.
        self.logs = TaskOutputCapture(self._emit, lambda: bool(self._listeners or self._deferred))
        self._lock: CheckpointLock | None = None
        self._listeners: list[Listener] = []
        self._deferred: list[Listener] = []  # subscribe(deferred=True)
        # Task starts and successes recorded by the run for the deferred listeners while
        # no other listener is subscribed (EventBus.feed), until deliver() hands them on.
        self._feed: list[Any] = []
        self._basis: Snapshot | None = None  # what the next run hydrates from
        self._only: set[str] | None = None
        self._consent = self.options.rerun_interrupted
        self._mark_done: tuple[str, ...] = self.options.mark_done
        self._mark_done_by = "flag"  # who said the tasks in _mark_done completed
        # Consent for tasks a live run holds (cut off by an interrupting pause): asked
        # afresh each time, used by the next resume().
        self._live_consent = False
        self._live_mark_done: tuple[str, ...] = ()
        #: what --continue decided, in one line for the operator (None without it)
        self.start_notice: str | None = None
        self._paused = self.options.paused
        self._outcome: RunState | None = None
        self._context_made = False
        self._run_over: asyncio.Event | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        # Seconds the runs of this session before the current one went (a retry goes on
        # counting from where the run before ended, as the dashboard's clock does).
        self._elapsed_before = 0.0
        # The run's pauses (time.time() readings), followed from the runner's own
        # workflow_paused / _resumed, whoever paused it (a key, the socket, a signal, a
        # failed checkpoint): seconds spent paused in those that ended, and the one going
        # on: when it was asked and what was running then.
        self._paused_total = 0.0
        self._pause: tuple[float, tuple[str, ...]] | None = None
        # The TaskInvoker of a remote executor (a DaskInvoker), made and started by the
        # first run, closed by close(); None: bodies run in this process.
        self.invoker: Any = None

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        workflow: Workflow,
        options: SessionOptions | None = None,
        source: Path | None = None,
        *,
        require_consent: bool = False,
    ) -> Session:
        """Validate, load the snapshot to resume, plan, lock and open the checkpoint.

        With `require_consent`, interrupted non-idempotent tasks that were neither consented
        to nor marked done are refused (InterruptedTaskError) before anything is written.
        Raises FlowError (one clear sentence) when any of it cannot be done.
        """
        session = cls(workflow, options, source)
        opts = session.options
        # The lock comes first: the snapshot to resume from may be this very checkpoint,
        # and it must not change between reading it and taking it over.
        lock = session._lock_checkpoint(opts.checkpoint) if opts.checkpoint else None
        try:
            read: Snapshot | None = None  # the checkpoint --continue read, not read again
            if opts.continue_run:
                read = session._continue(opts)
            if opts.resume is not None:
                if read is None:
                    read = Snapshot.load(opts.resume)
                loaded = session.loaded(
                    opts.resume, read, force=opts.force, mark_done=opts.mark_done
                )
                session._basis = loaded.snapshot
                session.plan = loaded.plan
                session.resumed_from = loaded.path
            elif opts.mark_done:
                raise SessionError("--mark-done only applies with --resume SNAPSHOT")
            if require_consent:
                check_consent(session.needs_consent)
            if opts.checkpoint is not None and lock is not None:
                session._open_checkpoint(opts.checkpoint, lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return session

    @staticmethod
    def _lock_checkpoint(path: Path) -> CheckpointLock:
        from flow_tui.snapshot.codec import codec_suffix

        codec_suffix(path)
        if path.parent.exists() and not path.parent.is_dir():
            raise SessionError(f"cannot write checkpoint {path}: {path.parent} is not a folder")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SessionError(
                f"cannot create the folder of checkpoint {path}: {exc.strerror or exc}"
            ) from exc
        lock = CheckpointLock(path)
        lock.acquire()
        return lock

    def _continue(self, opts: SessionOptions) -> Snapshot | None:
        """--continue: resume the checkpoint if it holds an unfinished run (returned as
        read); move a finished one aside and start fresh; start fresh when there is none."""
        check_continue_options(opts.continue_run, opts.checkpoint, opts.resume)
        assert opts.checkpoint is not None
        decision = decide_continue(opts.checkpoint, opts.keep)
        if decision.resume is not None:
            opts.resume = opts.checkpoint
        self.start_notice = decision.notice
        return decision.resume

    def _open_checkpoint(self, path: Path, lock: CheckpointLock) -> None:
        resuming_same = self.resumed_from is not None and same_file(self.resumed_from, path)
        if path.exists() and not resuming_same:
            raise SessionError(
                f"checkpoint {path} already exists; pass --resume {path} to continue "
                "from it, or choose another path"
            )
        # Written now, before any task runs: from here on a crash resumes from it.
        checkpointer = Checkpointer(path, self.snapshot, self._checkpoint_failed)
        checkpointer.open()
        self._lock = lock
        self.checkpointer = checkpointer

    def preview(
        self,
        path: Path | str,
        *,
        force: bool = False,
        force_hint: str = "pass --force to resume it anyway",
        mark_done: Iterable[str] = (),
    ) -> LoadedSnapshot:
        """Read a snapshot and plan a resume from it, without applying anything.

        A snapshot of another workflow is refused unless `force`; `force_hint` tells the
        operator how to insist, in the words of the front end asking. `mark_done` may
        only name tasks the snapshot lists as interrupted.
        """
        target = Path(path)
        return self.loaded(
            target, Snapshot.load(target), force=force, force_hint=force_hint, mark_done=mark_done
        )

    def loaded(
        self,
        path: Path,
        snapshot: Snapshot,
        *,
        force: bool = False,
        force_hint: str = "pass --force to resume it anyway",
        mark_done: Iterable[str] = (),
    ) -> LoadedSnapshot:
        """`preview` of a snapshot already read from `path`."""
        check_same_workflow(snapshot, path, self.workflow.name, force=force, hint=force_hint)
        return LoadedSnapshot(path, snapshot, self.plan_for(snapshot, mark_done))

    def plan_for(self, snapshot: Snapshot, mark_done: Iterable[str] | None = None) -> ResumePlan:
        return plan_resume(
            snapshot,
            self.graph,
            mark_done=self._mark_done if mark_done is None else tuple(mark_done),
            mark_done_by=self._mark_done_by,
        )

    # -- listeners ---------------------------------------------------------------------

    def subscribe(self, listener: Listener, *, deferred: bool = False) -> None:
        """Receive every runner event (of this and later runs) and session events.

        `deferred`: the listener may hear of the common task starts and successes later,
        in order and in batches: at the next `deliver()`, at the latest before the next
        other event. While every listener is deferred, a run records those as two list
        appends each (EventBus.feed) instead of events: a dashboard that repaints ten
        times a second stays out of the way of a burst of short tasks that way."""
        runner = self.runner
        if runner is not None and not (self._listeners or self._deferred):
            runner.events.on("*", self._emit)  # the runner was built without it
        (self._deferred if deferred else self._listeners).append(listener)
        if runner is not None:
            self._use_feed(runner)

    def _use_feed(self, runner: TaskRunner[Any]) -> None:
        """Let the run record task starts and successes for the deferred listeners while
        they are the only ones; else (after handing on what it recorded) send events."""
        events = runner.events
        feed = self._feed if self._deferred and not self._listeners else None
        if feed is None and events.feed is not None:
            self.deliver()
        events.feed = feed

    @property
    def undelivered(self) -> int:
        """Task starts and ends recorded for the deferred listeners, not yet delivered."""
        return len(self._feed) >> 1

    def deliver(self) -> None:
        """Hand the task starts and successes the run recorded to the deferred listeners,
        as events, in the order they happened."""
        feed = self._feed
        if not feed:
            return
        items = feed.copy()
        feed.clear()
        steps = self.steps
        listeners = self._deferred
        for k in range(0, len(items), 2):
            i = items[k]
            if i >= 0:
                event: Event = TaskStart(steps[i], 1, items[k + 1])
            else:
                event = TaskEnd(steps[~i], items[k + 1])
            _tell(listeners, event)

    def _emit(self, event: Event) -> None:
        if self._feed:
            self.deliver()  # what happened before this event comes first
        _tell(self._listeners, event)
        _tell(self._deferred, event)

    def _run_ended(self, event: Event) -> None:
        # Heard before the session's listeners (a named listener of the bus): the run's
        # time ends with its last task, not after they caught up at workflow_end.
        if self.finished_at is None:
            self.finished_at = time.monotonic()

    def _checkpoint_failed(self, error: SnapshotError) -> None:
        if self.runner is not None and self.runner.is_running:
            self.runner.pause()
        self._emit(CheckpointFailed(error=error))

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> RunState:
        runner = self.runner
        live = runner is not None and runner.is_running
        paused = live and runner is not None and runner.is_paused
        return run_state(
            live=live,
            paused=paused,
            running=paused and runner is not None and bool(runner.running),
            outcome=self._outcome,
            prepared_paused=self._paused,
        )

    @property
    def is_running(self) -> bool:
        return self.runner is not None and self.runner.is_running

    @property
    def needs_consent(self) -> list[str]:
        """Interrupted non-idempotent tasks that would run again without consent: those a
        live run holds (cut off by an interrupting pause), else those of the snapshot the
        next run resumes from."""
        runner = self.runner
        if runner is not None and runner.is_running:
            return missing_consent(
                runner.needs_consent,
                rerun_interrupted=self._live_consent,
                mark_done=self._live_mark_done,
            )
        if self.plan is None:
            return []
        return missing_consent(
            self.plan.needs_consent, rerun_interrupted=self._consent, mark_done=self._mark_done
        )

    @property
    def results(self) -> dict[str, TaskResult]:
        if self.runner is not None:
            return self.runner.results
        if self._basis is not None:
            return self._basis.results
        return {}

    @property
    def running_not_idempotent(self) -> list[str]:
        """Running tasks that an interruption would leave needing consent."""
        index = self.graph.index
        return [n for n in self.running if not self.steps[index[n]].idempotent]

    @property
    def bodies_in_threads(self) -> bool:
        """Whether a sync body still runs in a worker thread (one that ignored its
        cancellation): a front end leaving then must not wait for it at exit."""
        return self.runner is not None and self.runner.busy_threads > 0

    @property
    def running(self) -> list[str]:
        return self.runner.running if self.runner is not None else []

    @property
    def interrupted(self) -> list[str]:
        """Tasks cut off mid-body (an interrupting pause, a cancel) that will run again.

        Before a resumed run starts, the tasks its snapshot recorded as interrupted.
        """
        runner = self.runner
        if runner is not None:
            return runner.interrupted
        if self._basis is not None:
            return list(self._basis.interrupted)
        return []

    def elapsed(self) -> float:
        """Seconds from the run's start to its end (or now), paused time included; a
        retry goes on from where the run before ended (the wait between not counted)."""
        if self.started_at is None:
            return self._elapsed_before
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return self._elapsed_before + end - self.started_at

    def _begin_clock(self) -> None:
        """A run starts: the first, or a retry after the run before ended."""
        if self.started_at is not None and self.finished_at is not None:
            self._elapsed_before += self.finished_at - self.started_at
            self.started_at = None
        if self.started_at is None:
            self.started_at = time.monotonic()
        self.finished_at = None

    def _run_paused(self, event: WorkflowPaused) -> None:
        if self._pause is None:
            self._pause = (time.time(), tuple(event.running))

    def _run_resumed(self, event: WorkflowResumed) -> None:
        self._end_pause()

    def paused_seconds(self) -> float:
        """Seconds of `elapsed()` the run spent paused with nothing running: a pause
        counts from the end of the last task it let finish (or cut off), as the
        dashboard's clock counts it, the wait of --paused included."""
        total = self._paused_total
        drained = self._pause_drained_at()
        if drained is not None:
            total += max(time.time() - drained, 0.0)
        return total

    def _pause_drained_at(self) -> float | None:
        """When the pause going on had nothing running any more (time.time()), or None
        (no pause, or tasks still running)."""
        if self._pause is None:
            return None
        asked, running = self._pause
        if running and not set(running).isdisjoint(self.running):
            return None
        ends = [asked]
        for name in running:
            result = self.results.get(name)
            metrics = result.metrics if result is not None else None
            if metrics is not None and metrics.finished_at is not None:
                ends.append(metrics.finished_at.timestamp())
        return max(ends)

    def _end_pause(self) -> None:
        drained = self._pause_drained_at()
        if drained is not None:
            self._paused_total += max(time.time() - drained, 0.0)
        self._pause = None

    def _statuses(self) -> list[TaskStatus]:
        """The status of each task of the workflow that has a result, in passes of map()
        over built-ins: `flow-tui ps` asks a run for its counts, and a loop per task held
        a 1M-task run for a second."""
        found = filter(_is_result, map(self.results.get, map(_name_of, self.steps)))
        return [*map(_status_of, found)]

    def counts(self) -> dict[str, int]:
        tally = Counter(self._statuses())
        out = {s.value: tally[s] for s in TaskStatus}
        out["running"] = len(self.running)
        out["pending"] = len(self.steps) - tally.total() - out["running"]
        return out

    def exit_code(self) -> int:
        """The run's own exit code, the same for both front ends: 0 when every task
        succeeded (kept ones included), 1 when any failed, was skipped or cancelled, or
        work was left undone. Signals (128 + N) are the front end's to add."""
        statuses = self._statuses()
        every_success = len(statuses) == len(self.steps) == statuses.count(TaskStatus.SUCCESS)
        return EXIT_OK if every_success and not self.is_running else EXIT_FAILED

    def snapshot(self) -> Snapshot:
        """The state to save now: consistent at any moment, also mid-run."""
        saved_context = self._saved_context()
        if self.runner is not None:
            snap = self.runner.snapshot(saved_context)
        elif self._basis is not None:
            snap = resume_snapshot(
                self._basis,
                self.graph,
                mark_done=self._mark_done,
                mark_done_by=self._mark_done_by,
            )
            if saved_context is not None:
                snap.context = saved_context
        else:
            names, versions = self.graph.declared()
            snap = Snapshot(
                workflow=self.workflow.name,
                fingerprint=self.graph.fingerprint(),
                versions=dict(versions),
                tasks=list(names),
                status="paused" if self._paused else "pending",
                context=saved_context,
            )
        snap.workflow = self.workflow.name
        snap.control = self.control_path
        state = self.state
        snap.status = "paused" if state is RunState.PAUSING else state.value
        return snap

    def _saved_context(self) -> Any:
        hook = self.workflow.save_context
        if hook is None or not self._context_made:
            return None
        try:
            return hook(self.context)
        except Exception as exc:
            log.warning("save_context of workflow %s raised %s", self.workflow.name, exc)
            return None

    def save(self, path: Path | str) -> Path:
        """Save a snapshot atomically (.json or .toml); SnapshotError says what went wrong."""
        return self.snapshot_to_save().save(path)

    def snapshot_to_save(self) -> Snapshot:
        """snapshot(), refused (SnapshotError) where saving it would mislead."""
        if self.options.dry_run:
            # Its "successes" ran nothing: resuming from them would skip real work.
            raise SnapshotError(
                "a dry run cannot be saved: its tasks did not really run; "
                "launch without --dry-run to save snapshots"
            )
        return self.snapshot()

    # -- running -----------------------------------------------------------------------

    def _make_context(self) -> None:
        if self._context_made:
            return
        self.context = self.workflow.make_context()
        self._context_made = True
        basis = self._basis
        if basis is not None and basis.context is not None and self.workflow.restore_context:
            self.workflow.restore_context(basis.context, self.context)

    def _build_runner(self) -> TaskRunner[Any]:
        builder = TaskRunnerBuilder(self.context).with_workflow_name(self.workflow.name)
        builder.on("workflow_end", self._run_ended)
        builder.on("workflow_paused", self._run_paused)
        builder.on("workflow_resumed", self._run_resumed)
        if self._listeners or self._deferred:  # else no event is even made (see subscribe)
            builder.on("*", self._emit)
        if self._basis is not None:
            builder.with_snapshot(
                self._basis,
                rerun_interrupted=self._consent,
                mark_done=self._mark_done,
                mark_done_by=self._mark_done_by,
                plan=self.plan,  # planned when loaded: the runner does not plan again
            )
        if self.checkpointer is not None:
            builder.with_barrier(self.checkpointer)
        if self.invoker is not None:
            builder.with_invoker(self.invoker)
        runner = builder.build()
        if self.checkpointer is not None:
            self.checkpointer.attach(runner)
        self._use_feed(runner)
        if self._paused:
            runner.pause()
        return runner

    async def run(self) -> dict[str, TaskResult]:
        """Execute the prepared run (the first one, a resume, or a retry) to its end."""
        if self.is_running:
            raise SessionError("a run is already in progress")
        check_consent(self.needs_consent)
        self._install_log_capture()
        self._make_context()
        await self._start_executor()
        runner = self._build_runner()
        self.runner = runner
        self._outcome = None
        self._run_over = asyncio.Event()
        self._begin_clock()
        if self._paused and self._pause is None:
            self._pause = (time.time(), ())  # started paused (--paused): nothing runs
        try:
            results = await runner.execute(
                self.graph,
                concurrency=self.concurrency,
                timeout=self.timeout,
                dry_run=self.options.dry_run,
                only=self._only,
            )
        finally:
            self.deliver()  # a run torn down without its end event
            if self.finished_at is None:
                self.finished_at = time.monotonic()
            self._end_pause()  # a run stopped while paused: paused until its end
            self._paused = False
            self._outcome = _outcome(runner)
            self._run_over.set()
        # Every end is durable in the checkpoint's journal by now; close() folds it in.
        return results

    @property
    def executor_info(self) -> dict[str, Any]:
        """The executor and its cluster, as the workflow_start event and the dashboard's
        header name them: {"executor": "local"}, or {"executor": "dask", "address": ...,
        "workers": N, "cluster": "LocalCluster" | "external"}."""
        if self.invoker is not None:
            info: dict[str, Any] = self.invoker.describe()
            return info
        opts = self.options
        if opts.executor == "dask" or opts.dask_address:
            return {"executor": "dask", "address": opts.dask_address, "workers": None}
        return {"executor": "local"}

    async def _start_executor(self) -> None:
        """Start the Dask cluster or connect to it (once per session; flow_tui.dask, and
        so dask, is imported only here)."""
        opts = self.options
        if self.invoker is not None or not (opts.executor == "dask" or opts.dask_address):
            return
        if opts.dry_run:
            return  # a dry run calls no body
        from flow_tui.dask import DaskInvoker

        invoker = DaskInvoker(address=opts.dask_address, workers=opts.dask_workers)
        try:
            await invoker.start()
        except Exception as exc:
            await invoker.close()
            where = opts.dask_address or "a LocalCluster"
            raise SessionError(f"cannot start the Dask executor on {where}: {exc}") from exc
        self.invoker = invoker

    async def wait_run_over(self) -> None:
        if self._run_over is not None and self.is_running:
            await self._run_over.wait()

    def pause(self, interrupt: bool = False) -> None:
        self._paused = True
        if self.runner is not None and self.runner.is_running:
            self.runner.pause(interrupt)

    def resume(self) -> None:
        """Go on. Raises InterruptedTaskError, changing nothing, while the live run holds
        interrupted non-idempotent tasks nobody decided about (see `consent`)."""
        runner = self.runner
        if runner is not None and runner.is_running:
            check_consent(self.needs_consent)
            held = runner.needs_consent
            if held:
                runner.resume(
                    rerun_interrupted=self._live_consent,
                    mark_done=[n for n in self._live_mark_done if n in held],
                )
            else:
                runner.resume()
            self._live_consent = False
            self._live_mark_done = ()
        self._paused = False

    def cancel(self) -> None:
        if self.runner is not None and self.runner.is_running:
            self.runner.cancel()

    def consent(
        self, rerun_interrupted: bool = True, mark_done: Iterable[str] = (), by: str = "operator"
    ) -> None:
        """The operator agreed to re-run interrupted tasks, or says they completed.

        While a run is live this answers for the tasks it holds, and the next `resume()`
        applies it; before a run, for the interrupted tasks of its snapshot.
        """
        mark = tuple(mark_done)
        runner = self.runner
        if runner is not None and runner.is_running:
            held = runner.needs_consent
            unknown = [n for n in mark if n not in held]
            if unknown:
                raise SessionError(
                    f"cannot mark {unknown[0]!r} done: it is not an interrupted task "
                    f"(interrupted: {', '.join(held) or 'none'})"
                )
            self._live_consent = rerun_interrupted
            self._live_mark_done = tuple(dict.fromkeys([*self._live_mark_done, *mark]))
            return
        self._consent = rerun_interrupted
        if mark:
            self._mark_done_by = by
        self._mark_done = tuple(dict.fromkeys([*self._mark_done, *mark]))
        if self._basis is not None:
            self.plan = self.plan_for(self._basis)

    # -- retry and load ----------------------------------------------------------------

    def retry_targets(self, names: Iterable[str]) -> list[str]:
        """`names` plus the tasks skipped or cancelled downstream of them, workflow order."""
        results = self.results
        roots = [self.graph.index[n] for n in names if n in self.graph.index]
        targets = set()
        for i in self.graph.downstream(roots):
            name = self.steps[i].name
            r = results.get(name)
            if i in roots or r is None or r.status is not TaskStatus.SUCCESS:
                targets.add(name)
        return [s.name for s in self.steps if s.name in targets]

    def retry(self, names: Iterable[str]) -> list[str]:
        """Prepare a run of `names` and what was skipped because of them; run() starts it."""
        if self.is_running:
            raise SessionError("tasks can be retried once the run has ended")
        wanted = [n for n in names]
        unknown = [n for n in wanted if n not in self.graph.index]
        if unknown:
            raise SessionError(f"no task named {unknown[0]!r} in this workflow")
        results = self.results
        retriable = [
            n for n in wanted if (r := results.get(n)) is None or r.status is not TaskStatus.SUCCESS
        ]
        if not retriable:
            raise SessionError("only failed, cancelled or skipped tasks can be retried")
        targets = self.retry_targets(retriable)
        basis = self.snapshot()
        for name in targets:
            basis.results.pop(name, None)
        self._basis = basis
        self._only = set(targets)
        self._consent = True  # asking for a retry is consent to run those tasks again
        self._paused = False
        self._outcome = None
        self.plan = None
        self._emit(RunPrepared(plan=None))
        return targets

    def failed_tasks(self) -> list[str]:
        return [n for n, r in self.results.items() if r.status is TaskStatus.FAILURE]

    async def apply(
        self,
        loaded: LoadedSnapshot,
        *,
        rerun_interrupted: bool = False,
        mark_done: Iterable[str] = (),
    ) -> None:
        """Replace the run with a resume from `loaded`; it starts paused (`resume()` + run)."""
        mark = tuple(mark_done)
        if mark:
            self._mark_done_by = "operator"
        plan = self.plan_for(loaded.snapshot, mark)
        check_consent(plan.needs_consent, rerun_interrupted=rerun_interrupted, mark_done=mark)
        if self.is_running:
            assert self.runner is not None
            self.runner.cancel()
            await self.wait_run_over()
        self._basis = loaded.snapshot
        self._only = None
        self._consent = rerun_interrupted
        self._mark_done = mark
        self.plan = plan
        self.resumed_from = loaded.path
        self.runner = None
        # Like --resume: a fresh context from the workflow's factory, then the snapshot's
        # saved part (restore_context), made when the loaded run starts.
        self.context = None
        self._context_made = False
        self._paused = True
        self._outcome = None
        self.started_at = None
        self.finished_at = None
        self._elapsed_before = 0.0
        self._paused_total = 0.0
        self._pause = None
        if self.checkpointer is not None:
            await self.checkpointer.compact()
        self._emit(RunPrepared(plan=plan))

    # -- closing -----------------------------------------------------------------------

    def _install_log_capture(self) -> None:
        self.logs.install(asyncio.get_running_loop())  # until _release()

    def task_logs(self, name: str) -> list[str]:
        """What task `name` printed and logged, oldest first (bounded: the newest kept)."""
        return self.logs.task_lines(name)

    async def close(self) -> None:
        """Write the final checkpoint, release the lock and the log capture."""
        try:
            if self.checkpointer is not None:
                await self.checkpointer.close()
        finally:
            self._release()
            invoker, self.invoker = self.invoker, None
            if invoker is not None:
                await invoker.close()

    def close_now(self) -> None:
        """close() for paths that cannot await (a second Ctrl-C)."""
        try:
            if self.checkpointer is not None:
                self.checkpointer.close_now()
        finally:
            self._release()
            if self.invoker is not None:
                self.invoker.close_now()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.logs.uninstall()


_name_of = attrgetter("name")
_status_of = attrgetter("status")
_is_result = partial(is_not, None)


def _tell(listeners: list[Listener], event: Event) -> None:
    """Call each of `listeners` with `event`; one that raises is logged, the rest go on."""
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            log.exception("session listener failed on %s", event.name)


def run_state(
    *,
    live: bool,
    paused: bool,
    running: bool,
    outcome: RunState | None,
    prepared_paused: bool,
) -> RunState:
    """The state of a run from what is known of it, for a local Session and for the
    mirror of a remote one alike: live (paused: pausing while tasks still run), else how
    it ended, else prepared (paused or pending)."""
    if live:
        if paused:
            return RunState.PAUSING if running else RunState.PAUSED
        return RunState.RUNNING
    if outcome is not None:
        return outcome
    return RunState.PAUSED if prepared_paused else RunState.PENDING


def _outcome(runner: TaskRunner[Any]) -> RunState:
    status = runner.status
    if status is RunStatus.CANCELLED:
        return RunState.CANCELLED
    if status is RunStatus.FAILED:
        return RunState.FAILED
    return RunState.FINISHED


def check_same_workflow(
    snapshot: Snapshot, path: Path, name: str, *, force: bool, hint: str
) -> None:
    """Refuse (SessionError) a snapshot saved by a workflow not named `name`, unless
    `force`; `hint` tells the operator how to insist, in the words of the caller. A
    snapshot that names no workflow is accepted."""
    if snapshot.workflow is not None and snapshot.workflow != name and not force:
        raise SessionError(
            f"snapshot {path} is of workflow {snapshot.workflow!r}, not {name!r}; {hint}"
        )
