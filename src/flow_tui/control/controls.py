"""The steering commands of one Session, with their rules, written once.

What the control socket offers (`flow-tui pause/resume/save/stop`, an attached
dashboard) and what the front end that owns the run does on its own: pause, interrupt,
resume with consent, retry, save, stop, and the full state a viewer starts from. A command
either does all it says or, refused, changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flow_tui.control.protocol import RawJSON
from flow_tui.core.collector import collector_paused
from flow_tui.core.errors import FlowError
from flow_tui.core.events import (
    Event,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowEnd,
    monotonic_at,
)
from flow_tui.core.resume import InterruptedTaskError, check_consent
from flow_tui.session import RunPrepared, RunState, Session, SessionError

#: Log lines per task sent with a full state (the newest; the run keeps its own bound).
STATE_LOG_LINES = 200


class Controls:
    """Steer `session`. The front end that owns the run supplies how a prepared run
    starts (`start`: the dashboard starts a loaded or retried run; headless has none) and
    how it stops (`stop`: like SIGTERM, grace then cancel, checkpoint, exit 143);
    `changed` is told after every command that changed something.

    `running_attempt`: where the front end already keeps each running task's attempt
    and how long it has been running (`(attempt, seconds)`, None when unknown), as the
    dashboard does; without it these Controls follow the events themselves (one more
    listener called for every event of a run)."""

    def __init__(
        self,
        session: Session,
        *,
        start: Callable[[], None] | None = None,
        stop: Callable[[float | None, str], None] | None = None,
        changed: Callable[[], None] | None = None,
        running_attempt: Callable[[str], tuple[int, float] | None] | None = None,
    ) -> None:
        self.session = session
        self._start = start
        self._stop = stop
        self._changed = changed
        self._running_attempt = running_attempt
        # The running attempt of each running task and when it started (monotonic):
        # what a viewer that attaches mid-run cannot learn from the results.
        self._attempts: dict[str, tuple[int, float]] = {}
        if running_attempt is None:
            session.subscribe(self._track, deferred=True)  # full_state() delivers first

    def _track(self, event: Event) -> None:
        if isinstance(event, TaskStart):  # heard now or later, in a batch
            self._attempts[event.step.name] = (event.attempt, monotonic_at(event.started))
        elif isinstance(event, TaskRetry):
            self._attempts[event.step.name] = (event.attempt, time.monotonic())
        elif isinstance(event, (TaskEnd, TaskSkipped)):
            self._attempts.pop(event.step.name, None)
        elif isinstance(event, (WorkflowEnd, RunPrepared)):
            self._attempts.clear()

    def _done(self) -> None:
        if self._changed is not None:
            self._changed()

    def pause(self, interrupt: bool = False) -> None:
        session = self.session
        if session.state.is_over:
            raise SessionError("the run has already ended")
        session.pause(interrupt)
        self._done()

    def resume(self, rerun_interrupted: bool = False, mark_done: Iterable[str] = ()) -> None:
        """Go on. Interrupted non-idempotent tasks need `rerun_interrupted` or to be named
        in `mark_done` (InterruptedTaskError otherwise, and nothing changes)."""
        session = self.session
        mark = tuple(mark_done)
        state = session.state
        if state.is_over:
            raise SessionError("the run has already ended; retry its failed tasks instead")
        held = session.needs_consent
        check_consent(held, rerun_interrupted=rerun_interrupted, mark_done=mark)
        if held or mark or rerun_interrupted:
            session.consent(rerun_interrupted=rerun_interrupted, mark_done=mark)
        session.resume()
        if not session.is_running and self._start is not None:
            self._start()  # a prepared run (loaded, retried, --paused) starts now
        self._done()

    def retry(self, tasks: Iterable[str]) -> list[str]:
        session = self.session
        if self._start is None:
            raise SessionError(
                "this run cannot retry tasks: a headless run ends when its tasks do; "
                "launch again with --resume"
            )
        targets = session.retry(tasks)
        self._start()
        self._done()
        return targets

    async def save(self, path: str | Path) -> Path:
        """Take the snapshot on the loop (consistent), write it off the loop."""
        snapshot = self.session.snapshot_to_save()
        return await asyncio.to_thread(snapshot.save, Path(path))

    def stop(self, grace: float | None = None, by: str = "flow-tui stop") -> None:
        if self._stop is None:
            raise SessionError("this run cannot be stopped from here")
        self._stop(grace, by)
        self._done()

    # -- what a viewer starts from -----------------------------------------------------

    def _tasks(self) -> list[dict[str, Any]]:
        """The tasks as a viewer reads them: made once per session's task list (it never
        changes), with the collector paused (a million small dicts and lists: full
        collections walking them took most of the time)."""
        steps = self.session.steps
        cached = self._tasks_of
        if cached is not None and cached[0] is steps:
            return cached[1]
        with collector_paused():
            tasks = [
                {
                    "name": s.name,
                    "deps": list(s.dependencies),
                    "tags": list(s.tags),
                    "priority": s.priority,
                    "idempotent": s.idempotent,
                    "timeout": s.timeout,
                    "version": s.version,
                    "retries": s.retry.attempts if s.retry is not None else 0,
                }
                for s in steps
            ]
        self._tasks_of = (steps, tasks)
        return tasks

    _tasks_of: tuple[list[Any], list[dict[str, Any]]] | None = None

    def full_state(self, run: dict[str, Any] | None = None) -> dict[str, Any]:
        """Everything a viewer needs to draw the run as the owner sees it now: one
        consistent picture, taken in one step of the loop (nothing here awaits).

        Besides the tasks and their results: `is_running` (a run is executing, maybe
        paused), `paused`, and `attempts` (each running task's attempt and how long it
        has been running, in seconds).
        """
        session = self.session
        session.deliver()  # task starts and ends the run recorded for later: heard now
        state = session.state
        tasks = self._tasks()
        now = time.monotonic()
        running = session.running
        attempts = {}
        source = self._running_attempt
        for name in running:
            if source is not None:
                attempt, seconds = source(name) or (1, 0.0)
            else:
                attempt, since = self._attempts.get(name, (1, now))
                seconds = now - since
            attempts[name] = {"attempt": attempt, "running_s": round(seconds, 3)}
        logs = {}
        for name in session.logs.tasks_with_lines():  # not a look at every task
            lines = session.task_logs(name)
            if lines:
                logs[name] = lines[-STATE_LOG_LINES:]
        checkpointer = session.checkpointer
        plan = session.plan
        return {
            "run": run or {},
            "workflow": session.workflow.name,
            "description": session.workflow.description,
            "concurrency": session.concurrency,
            "state": state.value,
            "elapsed_s": round(session.elapsed(), 3),
            "paused_s": round(session.paused_seconds(), 3),
            "tasks": tasks,
            "snapshot": RawJSON(session.snapshot().to_json()),
            "is_running": session.is_running,
            "paused": state in (RunState.PAUSING, RunState.PAUSED),
            "running": running,
            "attempts": attempts,
            "interrupted": session.interrupted,
            "needs_consent": session.needs_consent,
            "counts": session.counts(),
            "exit_code": session.exit_code() if state.is_over else None,
            "checkpoint": str(checkpointer.path) if checkpointer is not None else None,
            "resumed_from": str(session.resumed_from) if session.resumed_from else None,
            "source": str(session.source) if session.source is not None else None,
            "start_notice": session.start_notice,
            "plan": plan.to_dict() if plan is not None else None,
            "dry_run": session.options.dry_run,
            "logs": logs,
        }


def describe_error(exc: FlowError) -> tuple[str, str]:
    """(kind, one line) of a refused command, for the reply."""
    from flow_tui.control.protocol import ERR_CONSENT, ERR_SAVE, ERR_STATE

    if isinstance(exc, InterruptedTaskError):
        return ERR_CONSENT, str(exc)
    if isinstance(exc, SessionError):
        return ERR_STATE, str(exc)
    return ERR_SAVE, str(exc)


__all__ = ["Controls", "RunState", "describe_error"]
