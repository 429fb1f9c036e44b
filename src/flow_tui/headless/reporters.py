"""What a headless run prints: one reporter per output mode, fed by session events.

`rich` (a terminal), `plain` (lines), `jsonl` (one JSON object per event, then a summary
object; schema in the README). Never imports textual.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from typing import IO, Any

from flow_tui.capture import TaskLog
from flow_tui.control.protocol import EventLines, now_iso
from flow_tui.core.events import (
    Event,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowPaused,
    WorkflowStart,
)
from flow_tui.core.model import TaskStatus
from flow_tui.core.resume import ResumePlan
from flow_tui.session import CheckpointFailed, RunState, Session
from flow_tui.streams import rich_console, silence

OUTPUTS = ("auto", "rich", "plain", "jsonl", "json")


class Reporter:
    """Turns session events into output; subclasses format them in `show`.

    Events arrive while a task body runs, in its context, where `sys.stdout` and
    `sys.stderr` are the session's capture of that task's output: a reporter writes only
    to the streams it was given (or found) when it was made, before the capture.
    """

    def __init__(
        self,
        session: Session,
        stream: IO[str],
        verbose: bool = False,
        err: IO[str] | None = None,
    ) -> None:
        self.session = session
        self.stream = stream
        self.err = err if err is not None else sys.stderr
        self.verbose = verbose  # every task log line, not only WARNING and above
        self.broken = False  # the reader of `stream` went away: output is dropped
        #: the events' JSON Lines: what `--output jsonl` writes, shared with the control
        #: server (serve_controls(lines=)), so that each event is encoded once for both
        self.lines = EventLines(session.workflow.name, executor=lambda: session.executor_info)

    def show(self, event: Event) -> None:
        raise NotImplementedError

    def write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            # `flow-tui ... | head`: stop writing, let the run (and its checkpoint) finish.
            self.broken = True
            silence(self.stream)

    def write_err(self, text: str) -> None:
        """Write to the operator's stderr; a closed one is ignored."""
        with contextlib.suppress(OSError, ValueError):
            self.err.write(text)
            self.err.flush()

    def notice(self, text: str) -> None:
        """A message for the operator (signals, checkpoint problems)."""
        self.write_err(f"flow-tui: {text}\n")

    def plan(self, plan: ResumePlan, source: str) -> None:
        lines = plan_lines(plan)
        changed = "the task graph changed since it was saved; " if plan.graph_changed else ""
        self.notice(f"resuming from {source}: {changed}{lines[0]}")
        for line in lines[1:]:
            self.write_err(f"  {line}\n")

    def summary(self, state: RunState, code: int, extra: dict[str, Any]) -> None:
        raise NotImplementedError


class JsonLinesReporter(Reporter):
    def _write(self, obj: dict[str, Any]) -> None:
        self.write(json.dumps(obj, ensure_ascii=False) + "\n")

    def show(self, event: Event) -> None:
        if isinstance(event, CheckpointFailed):
            # Also for the person reading the job log, not only for the machine.
            Reporter.notice(self, f"checkpoint failed: {event.error}")
        self.write(self.lines.line(event).decode())

    def notice(self, text: str) -> None:
        self._write({"event": "notice", "ts": now_iso(), "message": text})

    def plan(self, plan: ResumePlan, source: str) -> None:
        self._write({"event": "resume_plan", "ts": now_iso(), "snapshot": source, **plan.to_dict()})

    def summary(self, state: RunState, code: int, extra: dict[str, Any]) -> None:
        self._write({"event": "summary", "ts": now_iso(), **extra})


_GLYPH = {
    TaskStatus.SUCCESS: "ok",
    TaskStatus.FAILURE: "FAILED",
    TaskStatus.SKIPPED: "skipped",
    TaskStatus.CANCELLED: "cancelled",
}


class PlainReporter(Reporter):
    """One line per task end (and failures in full), for logs and pipes."""

    def __init__(
        self,
        session: Session,
        stream: IO[str],
        verbose: bool = False,
        err: IO[str] | None = None,
    ) -> None:
        super().__init__(session, stream, verbose, err)
        self.total = len(session.steps)
        self.done = 0

    def line(self, text: str, style: str | None = None) -> None:
        self.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    def block(self, lines: list[str], style: str | None = None) -> None:
        """Lines that belong to the line above (a traceback), indented, no time."""
        self.write("".join(f"    {line}\n" for line in lines))

    def task_line(self, text: str, style: str | None = None) -> None:
        """A line of a task's own output: on stderr, so stdout keeps the reporter's."""
        self.write_err(f"{time.strftime('%H:%M:%S')} {text}\n")

    def task_log(self, event: TaskLog) -> None:
        level = log_level(event)
        if level < logging.WARNING and not self.verbose:
            return
        if event.stream == "log":
            kind = f"{event.level}: "
        elif event.stream == "stderr":
            kind = "stderr: "
        else:
            kind = ""
        first, *rest = event.message.split("\n")
        text = f"[{event.task}] {kind}{first}" + "".join(f"\n    {line}" for line in rest)
        if level >= logging.ERROR:
            style = "red"
        elif level >= logging.WARNING:
            style = "yellow"
        else:
            style = "dim"
        self.task_line(text, style)

    def _progress(self) -> str:
        return f"[{self.done}/{self.total}]"

    def show(self, event: Event) -> None:
        if isinstance(event, WorkflowStart):
            self.done = len(event.kept)
            kept = f", {len(event.kept)} kept from the snapshot" if event.kept else ""
            self.line(f"start {self.session.workflow.name}: {len(event.steps)} tasks{kept}")
        elif isinstance(event, TaskStart):
            self.line(f"{self._progress()} start {event.step.name}")
        elif isinstance(event, (TaskEnd, TaskSkipped)):
            r = event.result
            if isinstance(event, TaskEnd) and event.interrupted:
                self.line(f"{self._progress()} interrupted {event.step.name}", "yellow")
                return
            self.done += 1
            duration = f" {r.metrics.duration_ms / 1000:.2f}s" if r.metrics else ""
            attempts = (
                f" after {r.metrics.attempts} attempts"
                if r.metrics and r.metrics.attempts > 1
                else ""
            )
            detail = r.error or r.message
            tail = f": {detail}" if detail else ""
            style = {"success": "green", "failure": "red"}.get(r.status.value, "yellow")
            name = event.step.name
            self.line(
                f"{self._progress()} {_GLYPH[r.status]} {name}{duration}{attempts}{tail}", style
            )
            if r.status is TaskStatus.FAILURE and r.traceback:
                self.block(traceback_tail(r.traceback), "dim")
        elif isinstance(event, TaskLog):
            self.task_log(event)
        elif isinstance(event, TaskRetry):
            self.line(
                f"{self._progress()} retry {event.step.name} (attempt {event.attempt}) in "
                f"{event.delay:g}s: {event.result.error or event.result.message}",
                "yellow",
            )
        elif isinstance(event, WorkflowPaused):
            self.line("paused" + (" (interrupting running tasks)" if event.interrupt else ""))
        elif event.name == "workflow_resumed":
            self.line("resumed")
        elif isinstance(event, CheckpointFailed):
            self.notice(f"checkpoint failed: {event.error}")

    def summary(self, state: RunState, code: int, extra: dict[str, Any]) -> None:
        counts = extra["counts"]
        parts = [
            f"{counts[k]} {k}" for k in ("success", "failure", "skipped", "cancelled") if counts[k]
        ]
        paused = extra.get("paused_s") or 0.0
        took = f"{extra['elapsed_s']:.2f}s" + (f" ({paused:.2f}s paused)" if paused else "")
        self.line(
            f"{self.session.workflow.name} {state.value} in {took}: "
            f"{', '.join(parts) or 'no tasks'} (exit {code})",
            "bold",
        )
        for name in extra["failed"]:
            r = self.session.results[name]
            self.line(f"  failed {name}: {r.error or r.message}", "red")
        if extra.get("checkpoint"):
            self.line(f"  checkpoint: {extra['checkpoint']}")


class RichReporter(PlainReporter):
    """PlainReporter with colour, for a terminal."""

    def __init__(
        self,
        session: Session,
        stream: IO[str],
        verbose: bool = False,
        err: IO[str] | None = None,
    ) -> None:
        super().__init__(session, stream, verbose, err)

        def stream_closed() -> None:
            # Drop the output, let the run (and its checkpoint) finish.
            self.broken = True
            silence(stream)

        self.console = rich_console(stream, stream_closed)
        self.err_console = rich_console(self.err)  # task output to a closed stderr: dropped

    def line(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        if self.broken:
            return
        stamp = Text(time.strftime("%H:%M:%S "), style="dim")
        self.console.print(stamp + Text(text, style=style or ""), soft_wrap=True)

    def block(self, lines: list[str], style: str | None = None) -> None:
        from rich.text import Text

        if self.broken:
            return
        body = "\n".join(f"    {line}" for line in lines)
        self.console.print(Text(body, style=style or ""), soft_wrap=True)

    def task_line(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        stamp = Text(time.strftime("%H:%M:%S "), style="dim")
        with contextlib.suppress(OSError, ValueError):
            self.err_console.print(stamp + Text(text, style=style or ""), soft_wrap=True)


def log_level(event: TaskLog) -> int:
    """The level a task log line counts as: its record's, WARNING for a line on stderr,
    INFO for one on stdout."""
    if event.stream == "stderr":
        return logging.WARNING
    if event.level is None:
        return logging.INFO
    level = logging.getLevelNamesMapping().get(event.level)
    if level is None and event.level.startswith("Level "):  # an unnamed level, "Level 35"
        with contextlib.suppress(ValueError):
            level = int(event.level[6:])
    return logging.INFO if level is None else level


def traceback_tail(text: str, frames: int = 3) -> list[str]:
    """The last `frames` frames of a formatted traceback and its exception line(s).

    Of a chain ("During handling of the above exception ...") only the last traceback,
    the one of the exception the task failed with, is kept.
    """
    lines = text.rstrip("\n").splitlines()
    header = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call")),
        default=-1,
    )
    if header < 0:
        return lines[-(frames * 2 + 2) :]
    starts = [i for i in range(header + 1, len(lines)) if lines[i].startswith('  File "')]
    if len(starts) <= frames:
        return lines[header:]
    skipped = len(starts) - frames
    more = "s" if skipped > 1 else ""
    return [lines[header], f"  ... {skipped} earlier frame{more}", *lines[starts[-frames] :]]


def _names(names: list[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def plan_lines(plan: ResumePlan, limit: int = 20) -> list[str]:
    """The resume plan for people: a count line, then the tasks of each kind by name."""
    lines = [plan.summary()]
    rerun = [f"{name} ({why})" for name, why in plan.rerun.items()]
    for label, names in (
        ("kept", plan.kept),
        ("re-run", rerun),
        ("pending", plan.pending),
        ("new", plan.new),
        ("removed", plan.removed),
    ):
        if names:
            lines.append(f"{label}: {_names(names, limit)}")
    return lines


def make_reporter(
    session: Session, output: str, stream: IO[str], verbose: bool = False
) -> Reporter:
    """The reporter for `output`; `verbose`: every task log line, not only warnings."""
    if output in ("jsonl", "json"):
        return JsonLinesReporter(session, stream, verbose)
    if output == "rich" or (
        output == "auto" and stream.isatty() and not os.environ.get("NO_COLOR")
    ):
        return RichReporter(session, stream, verbose)
    return PlainReporter(session, stream, verbose)
