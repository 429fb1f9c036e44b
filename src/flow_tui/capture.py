"""Task output capture: what a task body prints or logs, kept per task.

A body that calls `print()`, writes to `sys.stderr` or logs through `logging` is heard
here, not on the terminal: the line is attributed to the task whose body runs in the
current context (`current_task_name`, set by the executor for every task and copied into
the worker thread of a sync body), kept in that task's bounded list for the dashboard and
announced as a `TaskLog` event. Writes made outside any task pass on to the stream that
was there before, untouched.

`install()` puts a logging handler on the root logger and proxies on `sys.stdout` and
`sys.stderr` that wrap whatever was there (the terminal, or Textual's capture while the
dashboard runs); `uninstall()` undoes only what it did: a proxy that something else has
wrapped since (or already replaced) is switched to pass everything through instead of
being pulled out from under it.

Events are delivered on the event loop's thread (a line written from a worker thread is
handed over with `call_soon_threadsafe`, ahead of the body's completion), and only while
someone listens. While a listener runs, writes in a task's context go straight to the
stream underneath: a listener that prints cannot feed itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TextIO, cast

from flow_tui.core.events import Event
from flow_tui.core.invoke import current_task_name

#: Lines kept per task for the dashboard; older ones are dropped.
MAX_LOG_LINES = 1000
#: A partial line (no newline yet) longer than this is taken as a line of its own.
MAX_PARTIAL_CHARS = 64 * 1024

STREAMS = ("stdout", "stderr", "log")
_FORMATTER = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")


@dataclass(slots=True)
class TaskLog(Event):
    """One line a task body wrote to stdout or stderr, or one record it logged."""

    name: ClassVar[str] = "task_log"
    task: str = ""
    stream: str = "stdout"  # stdout | stderr | log
    level: str | None = None  # the logging level name, for stream "log" only
    message: str = ""


EventSink = Callable[[Event], None]


def _stamp(now: float) -> str:
    """The time as logging's default `asctime` writes it."""
    millis = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{millis:03d}"


class TaskOutputCapture:
    """Captures the stdout, stderr and logging output of task bodies, per task.

    `on_event` receives a `TaskLog` for every captured line, on the loop's thread, and
    only when `listening()` says someone wants them: when nobody does a line costs its
    append to the task's list and nothing more.
    """

    def __init__(
        self,
        on_event: EventSink | None = None,
        listening: Callable[[], bool] | None = None,
        max_lines: int = MAX_LOG_LINES,
    ) -> None:
        self.on_event = on_event
        self.listening = listening
        self.max_lines = max_lines
        self.lines: dict[str, deque[str]] = {}
        self.handler = TaskLogHandler(self)
        self._lock = threading.RLock()
        self._partial: dict[tuple[str, str], str] = {}
        self._delivering = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._installed = False
        self._stdout: TaskStream | None = None
        self._stderr: TaskStream | None = None
        self._root_level: int | None = None

    # -- installing --------------------------------------------------------------------

    @property
    def installed(self) -> bool:
        return self._installed

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start capturing (again: a no-op). Called on `loop`'s thread, where events go."""
        with self._lock:
            if loop is not None:
                self._loop = loop
                self._loop_thread = threading.get_ident()
            if self._installed:
                return
            root = logging.getLogger()
            root.addHandler(self.handler)
            if root.level > logging.INFO or root.level == logging.NOTSET:
                self._root_level = root.level
                root.setLevel(logging.INFO)
            self._stdout = TaskStream(self, "stdout", sys.stdout)
            self._stderr = TaskStream(self, "stderr", sys.stderr)
            sys.stdout = cast(TextIO, self._stdout)
            sys.stderr = cast(TextIO, self._stderr)
            self._installed = True

    def uninstall(self) -> None:
        """Stop capturing: partial lines are taken as lines, and only what `install` put
        in place is removed."""
        with self._lock:
            if not self._installed:
                return
            self._installed = False
            pending = list(self._partial.items())
            self._partial.clear()
        for (task, stream), text in pending:
            self._line(task, stream, None, text)
        with self._lock:
            root = logging.getLogger()
            root.removeHandler(self.handler)
            if self._root_level is not None and root.level == logging.INFO:
                root.setLevel(self._root_level)
            self._root_level = None
            sys.stdout = cast(TextIO, _unwrap(sys.stdout, self._stdout))
            sys.stderr = cast(TextIO, _unwrap(sys.stderr, self._stderr))
            self._stdout = self._stderr = None

    # -- reading -----------------------------------------------------------------------

    def tasks_with_lines(self) -> list[str]:
        """The tasks that printed or logged a line (kept lines), first line first."""
        with self._lock:
            return list(self.lines)

    def task_lines(self, name: str) -> list[str]:
        """The lines kept for task `name`, oldest first (at most `max_lines`)."""
        with self._lock:
            return list(self.lines.get(name, ()))

    # -- capturing ---------------------------------------------------------------------

    @property
    def delivering(self) -> bool:
        """True on a thread that is running a TaskLog listener right now."""
        return getattr(self._delivering, "active", False)

    def write(self, task: str, stream: str, text: str) -> None:
        """Text a task wrote to `stream`: complete lines are kept, the rest waits."""
        key = (task, stream)
        with self._lock:
            buffered = self._partial.pop(key, "") + text
            *complete, rest = buffered.split("\n")
            if len(rest) > MAX_PARTIAL_CHARS:
                complete.append(rest)
                rest = ""
            if rest:
                self._partial[key] = rest
        for line in complete:
            self._line(task, stream, None, line.removesuffix("\r"))

    def record(self, task: str, record: logging.LogRecord, formatted: str) -> None:
        """A log record of `task`, `formatted` for the dashboard."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        if record.stack_info:
            message = f"{message}\n{record.stack_info}"
        self._keep(task, formatted)
        self._announce(task, "log", record.levelname, message)

    def _line(self, task: str, stream: str, level: str | None, text: str) -> None:
        self._keep(task, f"{_stamp(time.time())} {stream:<7} {text}")
        self._announce(task, stream, level, text)

    def _keep(self, task: str, line: str) -> None:
        with self._lock:
            bucket = self.lines.get(task)
            if bucket is None:
                bucket = self.lines[task] = deque(maxlen=self.max_lines)
            bucket.append(line)

    def _announce(self, task: str, stream: str, level: str | None, message: str) -> None:
        sink = self.on_event
        if sink is None or (self.listening is not None and not self.listening()):
            return
        event = TaskLog(task=task, stream=stream, level=level, message=message)
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            self._deliver(sink, event)
            return
        # RuntimeError: the loop has closed (a body outlived its run); the line is kept.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver, sink, event)

    def _deliver(self, sink: EventSink, event: TaskLog) -> None:
        state = self._delivering
        if getattr(state, "active", False):
            return  # a listener's own output, heard again: never an event of its own
        state.active = True
        try:
            sink(event)
        except Exception:
            pass  # a listener's failure is the listener's (Session._emit reports it)
        finally:
            state.active = False


class TaskLogHandler(logging.Handler):
    """The logging side of a capture: keeps the records made inside a task's context.

    A record made outside any task goes where it would have gone without this handler:
    to `logging.lastResort` (stderr, WARNING and above) when the root logger has no other
    handler.
    """

    def __init__(self, capture: TaskOutputCapture) -> None:
        super().__init__(logging.DEBUG)
        self.capture = capture
        self.setFormatter(_FORMATTER)

    def emit(self, record: logging.LogRecord) -> None:
        task = current_task_name.get()
        if task is None or self.capture.delivering:
            self._pass_on(record)
            return
        try:
            line = self.format(record)
        except Exception:
            line = str(record.msg)
        self.capture.record(task, record, line)

    def _pass_on(self, record: logging.LogRecord) -> None:
        last = logging.lastResort
        if last is None or record.levelno < last.level:
            return
        if any(h is not self for h in logging.getLogger().handlers):
            return
        if record.name != "root" and _has_own_handlers(record.name):
            return
        last.handle(record)


def _has_own_handlers(name: str) -> bool:
    """True when a logger on the way from `name` to the root has a handler of its own
    (then the record was handled, and Python would not have used lastResort)."""
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None and logger.name != "root":
        if logger.handlers:
            return True
        logger = logger.parent
    return False


class TaskStream:
    """Stands in for `sys.stdout` or `sys.stderr`: a write made inside a task's context
    goes to that task's lines, any other write to the stream that was there before."""

    def __init__(self, capture: TaskOutputCapture, name: str, previous: Any) -> None:
        self._capture = capture
        self._name = name
        self.previous = previous
        self.active = True

    def write(self, text: str) -> int:
        task = current_task_name.get()
        capture = self._capture
        if task is None or not self.active or capture.delivering:
            previous = self.previous
            if previous is None:  # no console at all (pythonw): nothing to write to
                return len(text)
            written: int = previous.write(text)
            return written
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        capture.write(task, self._name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        previous = self.previous
        if previous is not None:
            previous.flush()

    def __getattr__(self, name: str) -> Any:
        # fileno, isatty, encoding, errors, buffer, ...: those of the stream underneath.
        if name == "previous":  # not set yet (a copy made without __init__)
            raise AttributeError(name)
        return getattr(self.previous, name)

    def __repr__(self) -> str:
        return f"<TaskStream {self._name} over {self.previous!r}>"


def _unwrap(current: Any, proxy: TaskStream | None) -> Any:
    """What `sys.stdout` should be once `proxy` goes: what it wrapped if it is still in
    place; else leave `current` alone and let the proxy pass everything through."""
    if proxy is None:
        return current
    proxy.active = False
    if current is proxy:
        return proxy.previous
    return current
