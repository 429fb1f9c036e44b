"""A run of another process, read over its control socket: the attached dashboard's Session.

`RemoteSession` is a `Session` over a stub workflow made from the run's task list (bodies
that refuse to run here), so whatever reads a Session (the dashboard's tree, detail pane,
counts, exit code, retry targets) reads a remote run unchanged. It starts from the full
state of the `subscribe` reply, then follows the run's events: each JSON event updates
the mirror and is turned back into the core event a local run would have emitted, for
the session's listeners. Steering (pause, resume with consent, retry) goes to the run as
requests; the run's own `Controls` decide, so the rules are those of the run, whoever
asks. `RemoteControls` are the `Controls` of such a session: save and stop are the run's.

No textual here: the mirror is a read model, the dashboard draws it.

Over 400 lines on purpose: one read model, and the mapping of every protocol event back
to the core event it came from must stay beside the state it updates.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from flow_tui.capture import TaskLog
from flow_tui.control.client import AsyncControlClient, CommandRefused
from flow_tui.control.controls import Controls
from flow_tui.control.registry import ControlError, RunInfo
from flow_tui.core.collector import collector_paused
from flow_tui.core.errors import SnapshotError
from flow_tui.core.events import (
    Event,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowEnd,
    WorkflowPaused,
    WorkflowResumed,
    WorkflowStart,
)
from flow_tui.core.model import (
    RetryPolicy,
    RunStatus,
    TaskMetrics,
    TaskResult,
    TaskStatus,
    TaskStep,
)
from flow_tui.core.resume import ResumePlan
from flow_tui.core.snapshot import Snapshot
from flow_tui.core.workflow import Workflow
from flow_tui.session import (
    CheckpointFailed,
    LoadedSnapshot,
    RunPrepared,
    RunState,
    Session,
    SessionError,
    SessionOptions,
    run_state,
)
from flow_tui.snapshot.files import pid_alive

#: Log lines kept per task (the run sends its newest 200 with the state).
MAX_LOG_LINES = 1000


@dataclass(slots=True)
class CommandRefusedByRun(Event):
    """The run refused a command sent from here (`kind` as in the protocol's replies;
    `needs_consent`: the tasks that need a decision, for a refused resume)."""

    name: ClassVar[str] = "command_refused"
    command: str = ""
    kind: str = ""
    error: str = ""
    needs_consent: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RemoteChanged(Event):
    """The mirror took a new look at the run (a command's answer, a fresh full state):
    the run's state, and with `all_rows` any row, may have changed."""

    name: ClassVar[str] = "remote_changed"
    all_rows: bool = False


@dataclass(slots=True)
class RunNotice(Event):
    """What the run told its operator (a stop asked, the grace over): `message`."""

    name: ClassVar[str] = "notice"
    message: str = ""


@dataclass(slots=True)
class RunGone(Event):
    """The run ended: told at its `bye` (status, exit_code), and again when the
    connection ends (once the run's process is gone); `bye` is None when the connection
    ended without one (the process went away without a word, or it dropped this view)."""

    name: ClassVar[str] = "run_gone"
    bye: dict[str, Any] | None = None


def _remote_body(ctx: Any) -> Any:
    raise SessionError("this task runs in the process of the attached run, not here")


def workflow_of(state: dict[str, Any]) -> Workflow:
    """The run's workflow as the viewer knows it: names, dependencies and traits, with
    bodies that refuse to run (the run executes them in its own process)."""
    steps: list[TaskStep[Any]] = []
    for task in state["tasks"]:
        retries = int(task.get("retries") or 0)
        steps.append(
            TaskStep(
                task["name"],
                _remote_body,
                dependencies=list(task.get("deps") or ()),
                retry=RetryPolicy(attempts=retries) if retries else None,
                priority=int(task.get("priority") or 0),
                timeout=task.get("timeout"),
                idempotent=bool(task.get("idempotent", True)),
                version=task.get("version"),
                tags=tuple(task.get("tags") or ()),
            )
        )
    return Workflow(
        name=str(state["workflow"]),
        steps=steps,
        concurrency=state.get("concurrency") or 4,
        description=state.get("description") or "",
    )


def _parse_ts(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def result_of(obj: dict[str, Any]) -> TaskResult:
    """A task's result from its `task_end` / `task_skipped` object (the run keeps the
    result's data; the mirror gets it with the next full state)."""
    metrics = None
    if "duration_ms" in obj:
        duration = float(obj["duration_ms"])
        finished = _parse_ts(obj.get("ts"))
        started = finished - timedelta(milliseconds=duration) if finished else None
        metrics = TaskMetrics(started, finished, duration, int(obj.get("attempt") or 0))
    return TaskResult(
        TaskStatus(obj.get("status", "failure")),
        message=obj.get("message"),
        error=obj.get("error"),
        metrics=metrics,
        traceback=obj.get("traceback"),
    )


def log_line(obj: dict[str, Any]) -> str:
    """A `task_log` object as the run's dashboard keeps the line (time, stream, text)."""
    when = _parse_ts(obj.get("ts"))
    stamp = ""
    if when is not None:
        local = when.astimezone()
        stamp = local.strftime("%Y-%m-%d %H:%M:%S") + f",{local.microsecond // 1000:03d}"
    stream = str(obj.get("stream") or "stdout")
    label = str(obj.get("level") or stream) if stream == "log" else stream
    return f"{stamp} {label:<7} {obj.get('message', '')}"


class RemoteSession(Session):
    """A run of another process, mirrored. Build it with `await RemoteSession.attach(info)`."""

    def __init__(self, info: RunInfo, client: AsyncControlClient, state: dict[str, Any]) -> None:
        source = state.get("source")
        options = SessionOptions(dry_run=bool(state.get("dry_run")), control=False)
        super().__init__(workflow_of(state), options, Path(source) if source else None)
        self.info = info
        self.client = client
        self.run_info: dict[str, Any] = dict(client.run or info.to_dict())
        self.front_end = str(self.run_info.get("front_end") or info.front_end)
        self.connected = True
        self.detached = False
        self.bye: dict[str, Any] | None = None
        self._last_ts: Any = None
        self._last_seconds: float | None = None
        #: the connection ended without a `bye` while the run's process goes on: the run
        #: dropped this viewer (it fell behind the run's events)
        self.dropped = False
        self.checkpoint_path: str | None = None
        #: each running task's attempt and when it started (monotonic), as the run said
        self.attempts: dict[str, tuple[int, float]] = {}
        self._results: dict[str, TaskResult] = {}
        self._running: dict[str, None] = {}
        self._interrupted: dict[str, None] = {}
        self._held: list[str] = []
        self._live = False
        self._remote_paused = False
        self._logs: dict[str, deque[str]] = {}
        self._consent_rerun = False
        self._consent_mark: tuple[str, ...] = ()
        self._hold: list[dict[str, Any]] | None = None  # events held while a state comes
        self._requests: set[asyncio.Task[None]] = set()
        self.apply_state(state)

    # -- connecting --------------------------------------------------------------------

    @classmethod
    async def attach(cls, info: RunInfo) -> RemoteSession:
        """Connect to the run, subscribe, and mirror it (ControlError: one line why not)."""
        early: list[dict[str, Any]] = []
        session: RemoteSession | None = None
        closed = False

        def on_message(message: dict[str, Any]) -> None:
            if session is None:
                early.append(message)  # events after the state, before the mirror exists
            else:
                session.on_message(message)

        def on_closed() -> None:
            nonlocal closed
            if session is None:
                closed = True
            else:
                session.on_closed()

        client = AsyncControlClient(info, on_message, on_closed)
        await client.connect()
        try:
            reply = await client.request("subscribe")
        except CommandRefused as exc:
            await client.close()
            raise ControlError(f"run {info.id}: {exc}") from None
        with collector_paused():  # a million small objects, no cycles: see collector.py
            session = cls(info, client, reply["state"])
        for message in early:
            session.on_message(message)
        if closed:
            session.on_closed()
        return session

    def apply_state(self, state: dict[str, Any]) -> None:
        """Take the run's full state (the `subscribe` reply) as the mirror's."""
        now = time.monotonic()
        snapshot = Snapshot.from_dict(state["snapshot"])
        self._results = dict(snapshot.results)
        self._running = dict.fromkeys(state.get("running") or ())
        self._interrupted = dict.fromkeys(state.get("interrupted") or ())
        self._held = list(state.get("needs_consent") or ())
        run_state = RunState(state["state"])
        self._live = bool(
            state.get("is_running", run_state in (RunState.RUNNING, RunState.PAUSING))
        )
        paused = bool(state.get("paused", run_state in (RunState.PAUSING, RunState.PAUSED)))
        self._remote_paused = paused and self._live
        self._paused = paused and not self._live  # a prepared run, paused before it starts
        self._outcome = run_state if run_state.is_over else None
        self.attempts = {
            name: (int(a.get("attempt") or 1), now - float(a.get("running_s") or 0.0))
            for name, a in (state.get("attempts") or {}).items()
        }
        self._logs = {
            name: deque(lines, maxlen=MAX_LOG_LINES)
            for name, lines in (state.get("logs") or {}).items()
        }
        elapsed = float(state.get("elapsed_s") or 0.0)
        self._elapsed_before = 0.0  # in the run's figure
        if self._live or run_state.is_over or elapsed:
            self.started_at = now - elapsed
            self.finished_at = None if self._live else now
        else:
            self.started_at = self.finished_at = None
        plan = state.get("plan")
        self.plan = ResumePlan(**plan) if isinstance(plan, dict) else None
        resumed = state.get("resumed_from")
        self.resumed_from = Path(resumed) if resumed else None
        self.checkpoint_path = state.get("checkpoint")
        self.start_notice = state.get("start_notice")
        # The run's paused time as of this state; the pauses heard of after it are
        # counted as the run counts its own (Session: from the drain to the resume).
        self._paused_total = float(state.get("paused_s") or 0.0)
        paused = self._live and self._remote_paused
        self._pause = (time.time(), tuple(self._running)) if paused else None

    # -- what a Session answers, from the mirror ---------------------------------------

    @property
    def state(self) -> RunState:
        return run_state(
            live=self._live,
            paused=self._remote_paused,
            running=bool(self._running),
            outcome=self._outcome,
            prepared_paused=self._paused,
        )

    @property
    def is_running(self) -> bool:
        return self._live

    @property
    def results(self) -> dict[str, TaskResult]:
        return self._results

    @property
    def running(self) -> list[str]:
        return list(self._running)

    @property
    def interrupted(self) -> list[str]:
        return list(self._interrupted)

    @property
    def needs_consent(self) -> list[str]:
        return list(self._held) if self.connected else []

    def task_logs(self, name: str) -> list[str]:
        return list(self._logs.get(name, ()))

    def snapshot(self) -> Snapshot:
        raise SessionError("an attached dashboard saves through the run: use save")

    # -- steering: requests to the run -------------------------------------------------

    async def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send `cmd` and return the reply (CommandRefused / ControlError otherwise)."""
        if not self.connected:
            raise SessionError("the run is gone: nothing can be asked of it any more")
        reply = await self.client.request(cmd, **args)
        self._reconcile(reply.get("status"))
        return reply

    def _send(self, cmd: str, **args: Any) -> None:
        """Send `cmd` without waiting; a refusal comes back as CommandRefusedByRun."""
        if not self.connected:
            raise SessionError("the run is gone: it cannot be steered any more")
        task = asyncio.get_running_loop().create_task(self._command(cmd, args))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _command(self, cmd: str, args: dict[str, Any]) -> None:
        try:
            await self.request(cmd, **args)
        except CommandRefused as exc:
            held = exc.reply.get("needs_consent")
            if isinstance(held, list):
                self._held = [str(n) for n in held]  # what the run holds, said by the run
            self._emit(
                CommandRefusedByRun(
                    command=cmd,
                    kind=exc.kind,
                    error=str(exc),
                    needs_consent=list(held) if isinstance(held, list) else [],
                )
            )
        except (ControlError, SessionError):
            pass  # the connection ended: on_closed says so

    def _reconcile(self, status: Any) -> None:
        """A command's answer says where the run stands now, before its events do."""
        if not isinstance(status, dict) or not self.connected:
            return
        state = status.get("state")
        if self._live and state in ("running", "pausing", "paused"):
            self._remote_paused = state != "running"
        held = status.get("needs_consent")
        if isinstance(held, list):
            self._held = [str(n) for n in held]
        self._emit(RemoteChanged())

    def pause(self, interrupt: bool = False) -> None:
        self._send("pause", interrupt=interrupt)

    def consent(
        self, rerun_interrupted: bool = True, mark_done: Iterable[str] = (), by: str = "operator"
    ) -> None:
        """Kept for the next `resume()`, which carries the decision to the run."""
        self._consent_rerun = rerun_interrupted
        self._consent_mark = tuple(dict.fromkeys([*self._consent_mark, *mark_done]))

    def resume(self) -> None:
        rerun, mark = self._consent_rerun, list(self._consent_mark)
        self._consent_rerun, self._consent_mark = False, ()
        self._send("resume", rerun_interrupted=rerun, mark_done=mark)

    def retry(self, names: Iterable[str]) -> list[str]:
        """Ask the run to retry `names`; returns the tasks the run will retry."""
        if self.is_running:
            raise SessionError("tasks can be retried once the run has ended")
        wanted = list(names)
        unknown = [n for n in wanted if n not in self.graph.index]
        if unknown:
            raise SessionError(f"no task named {unknown[0]!r} in this workflow")
        results = self._results
        retriable = [
            n for n in wanted if (r := results.get(n)) is None or r.status is not TaskStatus.SUCCESS
        ]
        if not retriable:
            raise SessionError("only failed, cancelled or skipped tasks can be retried")
        self._send("retry", tasks=retriable)
        return self.retry_targets(retriable)

    def cancel(self) -> None:
        raise SessionError("an attached dashboard does not cancel the run: stop it")

    async def run(self) -> dict[str, TaskResult]:
        raise SessionError("the attached run executes in its own process")

    async def apply(
        self,
        loaded: LoadedSnapshot,
        *,
        rerun_interrupted: bool = False,
        mark_done: Iterable[str] = (),
    ) -> None:
        raise SessionError("an attached dashboard does not load snapshots into the run")

    async def wait_run_over(self) -> None:
        return None

    async def close(self) -> None:
        """Detach: the connection ends, the run goes on."""
        self.detached = True
        self.connected = False
        for task in list(self._requests):
            task.cancel()
        await self.client.close()

    def close_now(self) -> None:
        self.connected = False  # the process is leaving: its socket closes with it

    # -- what the run says -------------------------------------------------------------

    def on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "bye":
            # Said at once: the run's process may take a while yet to exit (seconds for a
            # million tasks), and the connection ends only then (on_closed).
            self.bye = message
            if not self.detached:
                self._end_live()
                self._emit(RunGone(bye=message))
        elif kind == "event":
            if self._hold is not None:
                self._hold.append(message)
            else:
                self._event(message)

    def on_closed(self) -> None:
        """The connection ended: the run ended (its `bye` came first), its process went
        away (what was running then is shown as interrupted: it was cut off), or the run
        dropped this viewer and goes on (what it sent last stays as it was)."""
        if self.detached:
            return
        self.connected = False
        self._held = []
        self.dropped = self.bye is None and pid_alive(self.info.pid)
        if self.dropped:
            if self.finished_at is None:
                self.finished_at = time.monotonic()  # the view's clock stops with it
        else:
            self._end_live()
        self._emit(RunGone(bye=self.bye))

    def _end_live(self) -> None:
        """The run ended (its `bye` says how) or its process went away: what was running
        then is shown as interrupted (it was cut off)."""
        if not self._live:
            return
        self._live = False
        self._remote_paused = False
        self._end_pause()
        self._interrupted.update(dict.fromkeys(self._running))
        self._running.clear()
        status = (self.bye or {}).get("status")
        try:
            self._outcome = RunState(status) if status else RunState.CANCELLED
        except ValueError:
            self._outcome = RunState.CANCELLED
        if not self._outcome.is_over:
            self._outcome = RunState.CANCELLED
        self.finished_at = time.monotonic()

    async def refresh(self, prepared: bool = False) -> None:
        """Take a fresh full state (results with their data, every row as the run sees
        it). Subscribing again makes the run send what it had queued first, so the
        events held meanwhile replay on top of the state they lead to."""
        if self._hold is not None or not self.connected:
            return
        self._hold = []
        try:
            reply = await self.client.request("subscribe")
        except ControlError:
            reply = None
        held, self._hold = self._hold, None
        if reply is not None and isinstance(reply.get("state"), dict):
            with collector_paused():
                self.apply_state(reply["state"])
            if prepared:
                self._emit(RunPrepared(plan=self.plan))
            self._emit(RemoteChanged(all_rows=True))
        for message in held:
            self._event(message)

    def _refresh_soon(self, prepared: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(self.refresh(prepared))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def _seconds_at(self, ts: Any) -> float | None:
        """An event's `ts` as a time.time() reading (when it happened, not when heard:
        events come in batches); the last one is kept, as many events share a
        millisecond."""
        if ts == self._last_ts:
            return self._last_seconds
        when = _parse_ts(ts)
        self._last_ts = ts
        self._last_seconds = when.timestamp() if when is not None else None
        return self._last_seconds

    def _step(self, obj: dict[str, Any]) -> TaskStep[Any] | None:
        index = self.graph.index.get(str(obj.get("task")))
        return None if index is None else self.steps[index]

    def _event(self, obj: dict[str, Any]) -> None:
        name = obj.get("event")
        now = time.monotonic()
        if name in ("task_start", "task_retry", "task_end", "task_skipped", "task_log"):
            step = self._step(obj)
            if step is None:
                return
            task = step.name
            if name == "task_start":
                attempt = int(obj.get("attempt") or 1)
                self._running[task] = None
                self._interrupted.pop(task, None)
                if task in self._held:
                    self._held.remove(task)
                self.attempts[task] = (attempt, now)
                self._emit(TaskStart(step, attempt, self._seconds_at(obj.get("ts"))))
            elif name == "task_retry":
                attempt = int(obj.get("attempt") or 2)
                self.attempts[task] = (attempt, now)
                failure = TaskResult(
                    TaskStatus.FAILURE, message=obj.get("message"), error=obj.get("error")
                )
                self._emit(TaskRetry(step, attempt, failure, float(obj.get("delay_s") or 0.0)))
            elif name == "task_log":
                bucket = self._logs.get(task)
                if bucket is None:
                    bucket = self._logs[task] = deque(maxlen=MAX_LOG_LINES)
                bucket.append(log_line(obj))
                self._emit(
                    TaskLog(
                        task=task,
                        stream=str(obj.get("stream") or "stdout"),
                        level=obj.get("level"),
                        message=str(obj.get("message") or ""),
                    )
                )
            else:
                result = self._keep_result(task, result_of(obj))
                self._running.pop(task, None)
                self.attempts.pop(task, None)
                interrupted = bool(obj.get("interrupted"))
                if interrupted:
                    self._interrupted[task] = None
                    if not step.idempotent and task not in self._held:
                        self._held.append(task)
                else:
                    self._interrupted.pop(task, None)
                    if task in self._held:
                        self._held.remove(task)
                if name == "task_end":
                    self._emit(TaskEnd(step, result, interrupted))
                else:
                    self._emit(TaskSkipped(step, result))
        elif name == "workflow_start":
            self._live = True
            self._remote_paused = False
            self._outcome = None
            self._paused = False
            self._begin_clock()
            kept = [k for k in obj.get("kept") or () if k in self.graph.index]
            self._emit(WorkflowStart(self.steps, kept))
        elif name == "workflow_end":
            status = str(obj.get("status") or "finished")
            try:
                outcome = RunState(status)
            except ValueError:
                outcome = RunState.FINISHED
            self._live = False
            self._remote_paused = False
            self._end_pause()
            self._outcome = outcome if outcome.is_over else RunState.FINISHED
            self._running.clear()
            self._held = []
            self.finished_at = now
            run_status = RunStatus(self._outcome.value)
            self._emit(WorkflowEnd(self._results, run_status))
            # A cancel ends tasks without an event each, and results here lack their
            # data: the final state has both, while the run still answers.
            self._refresh_soon()
        elif name == "workflow_paused":
            running = [str(n) for n in obj.get("running") or ()]
            paused = WorkflowPaused(bool(obj.get("interrupt")), running)
            if self._live:
                self._remote_paused = True
                self._run_paused(paused)
            self._emit(paused)
        elif name == "workflow_resumed":
            self._remote_paused = False
            resumed = WorkflowResumed()
            self._run_resumed(resumed)
            self._emit(resumed)
        elif name == "checkpoint_failed":
            self._emit(CheckpointFailed(error=SnapshotError(str(obj.get("error") or "unknown"))))
        elif name == "notice":
            self._emit(RunNotice(message=str(obj.get("message") or "")))
        elif name == "run_prepared":
            # The run's dashboard loaded a snapshot or retried tasks: a new run's rows.
            self._refresh_soon(prepared=True)

    def _keep_result(self, task: str, result: TaskResult) -> TaskResult:
        """`result`, unless the mirror already holds this very end with more in it (its
        data, from a full state): an event replayed over the state it led to."""
        old = self._results.get(task)
        if (
            old is not None
            and old.status is result.status
            and old.metrics is not None
            and result.metrics is not None
            and old.metrics.attempts == result.metrics.attempts
            and abs(old.metrics.duration_ms - result.metrics.duration_ms) < 1.0
        ):
            return old
        self._results[task] = result
        return result


class RemoteControls(Controls):
    """The Controls of a RemoteSession: the same rules, checked here on the mirror and
    again by the run; save and stop are the run's own."""

    def __init__(self, session: RemoteSession) -> None:
        # A prepared run starts in the run's process: nothing to start here. Nobody asks
        # these Controls for a state (full_state): no running attempts to follow.
        super().__init__(session, start=_nothing, running_attempt=_no_attempt)
        self.remote = session

    async def save(self, path: str | Path) -> Path:
        """The run writes the snapshot, at `path` made absolute here (the viewer's path)."""
        target = Path(path).expanduser().absolute()
        reply = await self.remote.request("save", path=str(target))
        return Path(str(reply.get("path") or target))

    def stop(self, grace: float | None = None, by: str = "flow-tui attach") -> None:
        """The run's graceful stop, like SIGTERM (grace, checkpoint, exit 143)."""
        args: dict[str, Any] = {} if grace is None else {"grace": grace}
        self.remote._send("stop", **args)
        self._done()

    def full_state(self, run: dict[str, Any] | None = None) -> dict[str, Any]:
        raise SessionError("an attached dashboard serves no state of its own")


def _no_attempt(name: str) -> None:
    return None


def _nothing() -> None:
    return None


__all__ = [
    "CommandRefusedByRun",
    "RemoteChanged",
    "RemoteControls",
    "RemoteSession",
    "RunGone",
    "workflow_of",
]
