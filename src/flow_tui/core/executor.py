"""WorkflowExecutor: the scheduling loop of one run.

Steps run on workers: one asyncio task per concurrency slot in use. A step's end is
handled synchronously in its worker (no central polling loop), and when it succeeded the
worker goes on with the next ready step, so a plain step costs a few dictionary and heap
operations and no asyncio task of its own. Under a commit barrier a successful step's
end keeps its slot until the group commit that covers it (`GroupCommit`); its worker goes
on the same way while a slot is free, and parks when none is: after a commit, one parked
worker is woken and takes the freed slots one task after the other, so a batch of plain
steps costs one wake-up, not one per step. Should that worker's step suspend, the next
parked worker is woken (`_fill_later`), so every free slot still gets a step running.
A failed, cancelled or skipped step ends its worker; the next step gets another one.

One consequence: a context variable that a body sets and does not reset is seen by later
bodies on the same worker (`current_task_name` is set for every step). Concurrency,
priorities, the pause gate, cancellation, the workflow timeout and the durability
barrier all live here; the group commit protocol lives in `flow_tui.core.commit`.

Stops (a cancel, an interrupting pause) reach a running task as a `.cancel()` of its
worker. One that arrives while no await is pending (from a condition, a `task_start`
listener, a barrier commit that swallowed it) is caught by checking the stop reason after
the condition and right before the body is called; the task then ends without its body
being called. A worker whose task was stopped always ends (it takes no next task), so a
cancellation requested on it can never reach a later body.

Over 400 lines on purpose: this is the per-task hot path, and its pieces (dispatch, the
worker loop, pause, stop checks, ends) read and write the same few fields; they are kept
in one class, with locals bound once per worker, because every call or attribute lookup
between them is paid once per task.

A task counts as started (interrupted if cut off) from its `task_start` event on: that is
also what a checkpoint journal records. A non-idempotent task cut off by an interrupting
pause is held: it runs again only when `resume` is told to re-run it or to record it done.

Over 400 lines on purpose: dispatch, the worker loop and the stop paths share the ready
heap, the running tasks and the stop reason, and the worker loop is one function because
it is the per-task hot path.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import inspect
import operator
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from time import perf_counter
from typing import Any

from flow_tui.core.commit import CommitBarrier, GroupCommit
from flow_tui.core.events import (
    EventBus,
    TaskEnd,
    TaskSkipped,
    TaskStart,
    WorkflowPaused,
    WorkflowResumed,
)
from flow_tui.core.graph import TaskGraph
from flow_tui.core.invoke import TaskInterrupted, TaskInvoker, current_task_name
from flow_tui.core.model import (
    CANCELLED,
    SUCCESS,
    ClockMetrics,
    RunStatus,
    TaskMetrics,
    TaskResult,
    TaskStatus,
    TaskStep,
)
from flow_tui.core.resume import check_consent, marked_done_result
from flow_tui.core.state import TaskStateManager
from flow_tui.core.strategies import (
    ExecutionStrategy,
    LoopingStrategy,
    RetryingStrategy,
    StandardStrategy,
    TaskRun,
    failure_from,
    result_of,
    specialize,
)

#: A worker whose tasks never suspend lets the event loop in (a dashboard, signal
#: handlers) once every this many tasks. A power of two: the test is a bit mask.
YIELD_EVERY = 16
_YIELD_MASK = YIELD_EVERY - 1

_NO_SKIPS: list[int] = []  # a success skips nothing; never appended to
_clock_metrics = ClockMetrics.from_clock
_priority_of = operator.attrgetter("priority")


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class WorkflowExecutor:
    """Runs one prepared graph: dispatch, workers, pause and cancel."""

    def __init__(
        self,
        graph: TaskGraph,
        state: TaskStateManager,
        strategy: ExecutionStrategy,
        events: EventBus,
        invoker: TaskInvoker,
        context: Any,
        *,
        concurrency: int | None = None,
        barrier: CommitBarrier | None = None,
        paused: bool = False,
        dry_run: bool = False,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.graph = graph
        self.state = state
        self.strategy = strategy
        self.events = events
        self.invoker = invoker
        self.context = context
        self.limit = concurrency
        self.barrier = barrier
        self.paused = paused
        self.dry_run = dry_run
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._n = len(graph.steps)
        # Ready tasks are a heap of ints: rank * n + index, so a higher priority pops
        # first and ties pop in declaration order.
        priorities = sorted(set(map(_priority_of, graph.steps)), reverse=True)
        if len(priorities) > 1:
            rank = {p: r for r, p in enumerate(priorities)}
            self._key = [rank[s.priority] * self._n + i for i, s in enumerate(graph.steps)]
        else:
            self._key = list(range(self._n))
        self._ready: list[int] = []
        self._interrupted: set[int] = set()  # cut off by pause(interrupt=True), not yet ended
        self._held: set[int] = set()  # non-idempotent, interrupted: waits for consent
        self._stop_reason: str | None = None
        self._yielding = 0  # workers in a voluntary yield (see YIELD_EVERY)
        self._commit = GroupCommit(
            barrier,
            queue=self._queue,
            dispatch=self._dispatch,
            failed=self._commit_failed,
            idle=self._maybe_finish,
            yielding=self._is_yielding,
        )
        self._done: asyncio.Future[None] | None = None
        self._over = False  # the run is over: parked workers end
        self._create: Any = None  # the loop's create_task, bound when the run starts
        self._call_soon: Any = None  # and its call_soon
        # With the default stack (retrying, looping, standard), a step with no policies
        # is run inline by `_work`: the common case costs no strategy call at all.
        inner = strategy
        while type(inner) is RetryingStrategy or type(inner) is LoopingStrategy:
            inner = inner.inner
        self._inline_plain = type(inner) is StandardStrategy
        self._start_listeners = events.listeners["task_start"]
        self._end_listeners = events.listeners["task_end"]
        self._skip_listeners = events.listeners["task_skipped"]
        self._any = events.any

    # -- queries -----------------------------------------------------------------------

    @property
    def stop_reason(self) -> str | None:
        """Why the run was stopped (cancelled, timed out), or None while it was not."""
        return self._stop_reason

    # -- commands ----------------------------------------------------------------------

    def pause(self, interrupt: bool = False) -> None:
        running = [self.graph.steps[i].name for i in self.tasks]
        if not self.paused:
            self.paused = True
            self.state.set_status(RunStatus.PAUSED)
        if interrupt:
            self._interrupted.update(self.tasks)
            self._cancel_tasks("interrupted by pause")
        if self.events.wants("workflow_paused"):
            self.events.emit(WorkflowPaused(interrupt=interrupt, running=running))

    @property
    def held(self) -> list[int]:
        """Non-idempotent tasks an interrupting pause cut off, waiting for consent."""
        return sorted(self._held)

    def check_resume(self, rerun_interrupted: bool = False, mark_done: Iterable[str] = ()) -> None:
        """Raise what `resume` would raise with these arguments; change nothing."""
        index = self.graph.index
        steps = self.graph.steps
        held = [steps[i].name for i in self.held]
        for name in mark_done:
            if index.get(name) not in self._held:
                raise ValueError(
                    f"{name!r} is not an interrupted task waiting for consent "
                    f"(held: {', '.join(held) or 'none'})"
                )
        check_consent(held, rerun_interrupted=rerun_interrupted, mark_done=mark_done)

    def resume(self, rerun_interrupted: bool = False, mark_done: Iterable[str] = ()) -> None:
        """Dispatch again. Held tasks must all be covered: re-run (`rerun_interrupted`) or
        recorded done by the operator (named in `mark_done`); else InterruptedTaskError
        is raised and nothing changes."""
        marked = list(dict.fromkeys(mark_done))
        self.check_resume(rerun_interrupted, marked)
        if not self.paused:
            return
        self.paused = False
        self.state.set_status(RunStatus.RUNNING)
        if self.events.wants("workflow_resumed"):
            self.events.emit(WorkflowResumed())
        if self._held:
            index = self.graph.index
            done = [index[name] for name in marked]
            for i in self.held:
                if i not in done:
                    heapq.heappush(self._ready, self._key[i])
            self._held.clear()
            for i in done:
                self._mark_done(i)
        self._dispatch()

    def _mark_done(self, i: int) -> None:
        """Record held task `i` as completed, by the operator's word: an end like any other
        (task_end, dependents released, under the barrier)."""
        step = self.graph.steps[i]
        result = marked_done_result("operator")
        skipped: list[int] = []
        ready = self.state.complete(i, result, skipped)
        if self._end_listeners or self._any:
            self.events.emit(TaskEnd(step, result))
        self._after_end(skipped, ready)

    def cancel(self, reason: str = "cancelled") -> None:
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        self._ready.clear()
        self._cancel_tasks(reason)
        self._maybe_finish()

    def _cancel_tasks(self, reason: str) -> None:
        for i, task in list(self.tasks.items()):
            task.cancel(reason)
            task.add_done_callback(functools.partial(self._ended_unstarted, i))

    def _ended_unstarted(self, i: int, task: asyncio.Task[None]) -> None:
        # A task cancelled before its coroutine began never reaches `_work`'s end.
        if self.tasks.get(i) is not task:
            return
        self._stopped_unstarted(i)

    def _stopped_unstarted(self, i: int) -> None:
        """Task `i` was stopped before it started (no task_start, no body): a cancel
        leaves it to end cancelled with the run; an interrupting pause queues it again."""
        del self.tasks[i]
        self.state.stopped_before_start(i)
        if self._stop_reason is None and i in self._interrupted:
            self._interrupted.discard(i)
            heapq.heappush(self._ready, self._key[i])
            self._dispatch()
        else:
            self._interrupted.discard(i)
            self._maybe_finish()

    # -- the run -----------------------------------------------------------------------

    async def run(self, ready: list[int], timeout: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        key = self._key
        self._ready = [key[i] for i in ready]
        heapq.heapify(self._ready)
        self._create = loop.create_task
        self._call_soon = loop.call_soon
        self._dispatch()
        self._maybe_finish()
        try:
            if timeout is None:
                await self._done
            else:
                try:
                    async with asyncio.timeout(timeout):
                        await asyncio.shield(self._done)
                except TimeoutError:
                    self.cancel(f"workflow timed out after {timeout:g}s")
                    await self._done
        except asyncio.CancelledError:
            # The caller was cancelled: stop every task before letting it through.
            self.cancel("cancelled")
            if not self._done.done():
                await asyncio.shield(self._done)
            raise

    def _dispatch(self) -> None:
        """Start a worker for each ready task while slots are free. Under a barrier a
        parked worker is woken instead, if there is one: it takes the free slots one
        task after the other, and the others are filled only if it suspends
        (`_fill_later`)."""
        ready = self._ready
        if not ready or self.paused or self._stop_reason is not None:
            return
        limit = self.limit
        commit = self._commit
        if limit is not None and len(self.tasks) + commit.held >= limit:
            return
        if self.barrier is not None and commit.wake_one():
            self._call_soon(self._fill_later)
            return
        self._start_workers(0)

    def _fill_later(self) -> None:
        """Runs once the worker woken by `_dispatch` has suspended: parked (it left no
        slot it could fill), or in a step that awaits something, when the free slots
        get a parked worker each (or a new one); not in a voluntary yield, after which
        it goes on by itself."""
        if self._yielding:
            self._call_soon(self._fill_later)
            return
        ready = self._ready
        if not ready or self.paused or self._stop_reason is not None:
            return
        limit = self.limit
        commit = self._commit
        woken = 0
        while woken < len(ready) and (
            limit is None or len(self.tasks) + commit.held + woken < limit
        ):
            if not commit.wake_one():
                break
            woken += 1
        self._start_workers(woken)

    def _start_workers(self, reserved: int) -> None:
        """A new worker for each ready task while slots are free, but for `reserved`
        ready tasks and slots left to workers woken and not yet run."""
        ready = self._ready
        limit = self.limit
        tasks = self.tasks
        steps = self.graph.steps
        create = self._create
        work = self._work
        take = self._take
        commit = self._commit
        while len(ready) > reserved and (
            limit is None or len(tasks) + commit.held + reserved < limit
        ):
            i = take()
            tasks[i] = create(work(i, steps[i]))

    def _is_yielding(self) -> bool:
        return self._yielding > 0

    def _take_free(self, worker: asyncio.Task[Any]) -> int:
        """Under a barrier: the next task for `worker` if one is ready and a slot is free,
        else -1. Nothing else is started (see `_fill_later`)."""
        heap = self._ready
        limit = self.limit
        if (
            heap
            and not self.paused
            and self._stop_reason is None
            and (limit is None or len(self.tasks) + self._commit.held < limit)
        ):
            nxt = self._take()
            self.tasks[nxt] = worker
            return nxt
        return -1

    def _take(self) -> int:
        """Pop the ready task to run next (highest priority, then declaration order)."""
        i = heapq.heappop(self._ready) % self._n
        interrupted = self.state.interrupted
        if interrupted and i in interrupted:
            self.state.rerun(i)  # after an interrupting pause: no longer a finished task
        return i

    def _stopping(self, i: int) -> bool:
        """Task `i` must not call its body: the run is cancelled, or `i` was cut off by an
        interrupting pause."""
        return self._stop_reason is not None or i in self._interrupted

    def _stop_result(self, i: int) -> TaskResult:
        reason = self._stop_reason or (
            "interrupted by pause" if i in self._interrupted else "cancelled"
        )
        return TaskResult(CANCELLED, message=reason)

    async def _work(self, i: int, step: TaskStep[Any]) -> None:
        """A worker: runs task `i` and, while each task it runs succeeds and another is
        ready for its slot, the next one, so a run of plain tasks costs no asyncio task,
        handle or context copy per task. `self.tasks` maps each running task to its worker.

        A stop is checked wherever code may have run since the last await (after the
        condition, after the task_start listeners, after a barrier commit); a stopped task
        ends its worker.
        """
        count = 0
        # Fixed for the run: looked up once per worker, not once per task.
        context = self.context
        invoke = self.invoker.invoke
        state = self.state
        running = state.running  # read only: state.start() adds to it
        start = state.start
        steps = self.graph.steps
        barrier = self.barrier
        commit = self._commit
        inline_plain = self._inline_plain
        events = self.events
        while True:
            started = time.time()
            clock = perf_counter()
            current_task_name.set(step.name)
            run: TaskRun | None = None
            try:
                count += 1
                if not count & _YIELD_MASK:
                    # Tasks that never suspend would keep the loop (a dashboard, signal
                    # handlers) waiting for the whole run: let it in now and then.
                    self._yielding += 1
                    try:
                        await asyncio.sleep(0)
                    finally:
                        self._yielding -= 1
                if step.condition is not None and not self.dry_run:
                    try:
                        wanted = step.condition(self.context)
                        if inspect.isawaitable(wanted):
                            wanted = await wanted
                    except Exception as exc:
                        result = failure_from(exc, message="condition raised")
                        self._end(i, step, result, started, clock, 0)
                        return
                    if self._stop_reason is not None or i in self._interrupted:
                        self._stopped_unstarted(i)  # the condition stopped the run
                        return
                    if not wanted:
                        self._skip_condition(i, step, started)
                        return
                # From here the task has started: it counts as interrupted if cut off.
                start(i)
                feed = events.feed
                if feed is not None:
                    feed += (i, started)  # for the "*" listeners, taken later
                if self._start_listeners or (feed is None and self._any):
                    events.emit(TaskStart(step, 1, started), feed is None)
                    if self._stop_reason is not None or i in self._interrupted:
                        # A listener stopped it: the body is not called.
                        self._end(i, step, self._stop_result(i), started, clock, 0)
                        return
                if barrier is not None and not step.idempotent:
                    await barrier.commit()
                    if self._stop_reason is not None or i in self._interrupted:
                        self._end(i, step, self._stop_result(i), started, clock, 0)
                        return
                if (
                    inline_plain
                    and step.retry is None
                    and step.loop is None
                    and step.timeout is None
                ):
                    # The plain case, inlined: no strategy call, no extra frame. What a
                    # body's end means is decided by the functions StandardStrategy uses.
                    try:
                        value = await invoke(step, context)
                    except Exception as exc:  # a body may raise anything
                        result = failure_from(exc)
                    else:
                        result = result_of(value)
                else:
                    stopped = functools.partial(self._stopping, i)
                    run = TaskRun(step, self.context, self.invoker, self.events, 1, stopped)
                    result = await specialize(self.strategy, step).execute(run)
            except asyncio.CancelledError:
                if i not in running and self._stopping(i):
                    self._stopped_unstarted(i)  # stopped before it started
                    return
                result = self._stop_result(i)
            except TaskInterrupted as exc:
                self._end_interrupted(i, step, str(exc), started, clock)
                return
            except Exception as exc:
                # A strategy or barrier that raises fails the task; it must not hang the run.
                result = failure_from(exc)
            attempts = run.attempts if run else 1
            if result.status is SUCCESS:
                if result.metrics is None:
                    result.metrics = _clock_metrics(started, perf_counter() - clock, attempts)
                if barrier is None:
                    i = self._end_and_take(i, step, result)
                    if i < 0:
                        return
                else:
                    # Inlined rather than a coroutine of its own: one frame less per task.
                    worker = self.tasks[i]
                    ready = self._record_success(i, step, result)
                    if ready is None:
                        return
                    commit.hold(ready)  # its slot and `ready` wait for a commit
                    i = self._take_free(worker)
                    while i < 0:
                        # No free slot or ready task: wait for a commit to free some.
                        if self._over or not await commit.park():
                            return
                        i = self._take_free(worker)
                step = steps[i]
            else:
                self._end(i, step, result, started, clock, attempts)
                return

    def _record_success(self, i: int, step: TaskStep[Any], result: TaskResult) -> list[int] | None:
        """Record a success; return the tasks that became ready, or None when its worker
        must end (the end then went through the general path)."""
        del self.tasks[i]
        ready = self.state.complete(i, result, _NO_SKIPS)
        feed = self.events.feed
        if feed is not None:
            feed += (~i, result)  # for the "*" listeners, taken later
        if self._end_listeners or (feed is None and self._any):
            self.events.emit(TaskEnd(step, result), feed is None)
        if self._interrupted and i in self._interrupted:
            # Its worker was cancelled but the body ended anyway: that cancellation is
            # still counted on the worker, so the worker ends here.
            self._interrupted.discard(i)
            self._after_end(_NO_SKIPS, ready)
            return None
        return ready

    def _end_and_take(self, i: int, step: TaskStep[Any], result: TaskResult) -> int:
        """A success with no commit barrier: record it, queue what became ready, and hand
        its worker the next task (-1 when the worker should end)."""
        worker = self.tasks[i]
        ready = self._record_success(i, step, result)
        if ready is None:
            return -1
        self._queue(ready)
        return self._next_for(worker)

    def _next_for(self, worker: asyncio.Task[Any]) -> int:
        """The next task for a worker whose task ended, if one is ready and may start."""
        heap = self._ready
        tasks = self.tasks
        limit = self.limit
        if (
            heap
            and not self.paused
            and self._stop_reason is None
            and (limit is None or len(tasks) + self._commit.held < limit)
        ):
            nxt = self._take()
            tasks[nxt] = worker
            if heap:
                self._dispatch()  # more became ready than this worker can take
            return nxt
        if not tasks:
            self._maybe_finish()
        return -1

    def _skip_condition(self, i: int, step: TaskStep[Any], started: float) -> None:
        when = _utc(started)
        result = TaskResult(
            TaskStatus.SKIPPED,
            message="skipped because its condition was false",
            metrics=TaskMetrics(when, when, 0.0, 0),
        )
        del self.tasks[i]
        if self._stop_reason is not None:
            self.state.record_cancelled(i, result, started=False)
            self._maybe_finish()
            return
        skipped: list[int] = []
        self.state.skip(i, result, skipped)
        self._after_end(skipped, [])

    def _end(
        self,
        i: int,
        step: TaskStep[Any],
        result: TaskResult,
        started: float,
        clock: float,
        attempts: int,
    ) -> None:
        if result.metrics is None:
            result.metrics = _clock_metrics(started, perf_counter() - clock, attempts)
        del self.tasks[i]
        state = self.state
        interrupted = i in self._interrupted
        self._interrupted.discard(i)
        if result.status is CANCELLED and self._stop_reason is not None:
            # Started (task_start sent) and cut off: interrupted, in the snapshot too.
            state.record_cancelled(i, result, started=i in state.running)
            if self._end_listeners or self._any:
                self.events.emit(TaskEnd(step, result))
            self._maybe_finish()
            return
        if result.status is CANCELLED and interrupted:
            # Cut off by `pause(interrupt=True)`: shown cancelled; queued to run again, or
            # held until someone consents when it is not idempotent.
            state.record_interrupted(i, result)
            if step.idempotent:
                heapq.heappush(self._ready, self._key[i])
            else:
                self._held.add(i)
            if self._end_listeners or self._any:
                self.events.emit(TaskEnd(step, result, True))
            if not step.idempotent and not self.paused:
                # The run was resumed before the cut-off body ended: pause again, the
                # task must not run without consent (see `resume`).
                self.pause()
            self._dispatch()  # runs it at once if the run was resumed meanwhile
            return
        skipped: list[int] = []
        ready = state.complete(i, result, skipped)
        if self._end_listeners or self._any:
            self.events.emit(TaskEnd(step, result))
        self._after_end(skipped, ready)

    def _end_interrupted(
        self, i: int, step: TaskStep[Any], message: str, started: float, clock: float
    ) -> None:
        """The invoker cannot know how task `i`'s body ended (TaskInterrupted: its remote
        worker was lost): it ends cancelled and interrupted, like after a crash; its
        dependents are skipped, and a resume runs it again (with consent when it is not
        idempotent)."""
        result = TaskResult(CANCELLED, message=message)
        result.metrics = _clock_metrics(started, perf_counter() - clock, 1)
        del self.tasks[i]
        self._interrupted.discard(i)
        skipped: list[int] = []
        ready = self.state.complete(i, result, skipped)
        self.state.record_interrupted(i, result)  # listed interrupted, in snapshots too
        if self._end_listeners or self._any:
            self.events.emit(TaskEnd(step, result, True))
        self._after_end(skipped, ready)

    def _after_end(self, skipped: list[int], ready: list[int]) -> None:
        if skipped and (self._skip_listeners or self._any):
            steps = self.graph.steps
            results = self.state.results
            for j in skipped:
                self.events.emit(TaskSkipped(steps[j], results[steps[j].name]))
        if self.barrier is None:
            self._release(ready)
        else:
            self._commit.hold(ready)  # its slot, and `ready`, wait for a commit

    def _queue(self, ready: list[int]) -> None:
        """Put tasks that became ready on the heap (priority, then declaration order)."""
        if ready:
            key = self._key
            heap = self._ready
            for j in ready:
                heapq.heappush(heap, key[j])

    def _release(self, ready: list[int]) -> None:
        """Queue the tasks that became ready and fill the free slots."""
        self._queue(ready)
        self._dispatch()
        if not self.tasks:  # the run can only be over when nothing is running
            self._maybe_finish()

    def _commit_failed(self) -> None:
        # Those ends are not durable: start nothing on top of them. The run pauses (the
        # barrier reported why); a resume tries the barrier again.
        if not self.paused:
            self.pause()

    def _maybe_finish(self) -> None:
        if self.tasks or self._commit.busy:
            return
        done = self._done
        if done is None or done.done():
            return
        state = self.state
        if self._stop_reason is not None:
            now = _utc(time.time())
            emit = bool(self._end_listeners or self._any)
            steps = self.graph.steps
            for i in state.unfinished():
                result = TaskResult(
                    TaskStatus.CANCELLED,
                    message=self._stop_reason,
                    metrics=TaskMetrics(now, now, 0.0, 0),
                )
                state.record_cancelled(i, result, started=False)
                if emit:
                    # Every task that ends gets an end event, also one that never started.
                    self.events.emit(TaskEnd(steps[i], result))
            self._finish(done)
        elif state.done_count == self._n:
            self._finish(done)

    def _finish(self, done: asyncio.Future[None]) -> None:
        self._over = True
        self._commit.release_parked()  # workers that waited for a slot end
        done.set_result(None)
