"""The control protocol: JSON Lines both ways over a run's Unix socket, versioned.

A client speaks first: `{"type": "hello", "version": 1}`. The server answers
`{"type": "hello", "version": 1, "run": {...}}` (or `{"type": "error", ...}` and closes).
Then each request is `{"id": N, "cmd": NAME, ...arguments}` and its answer
`{"type": "reply", "id": N, "ok": true, ...}` or `{"type": "reply", "id": N, "ok": false,
"error": "one line", "kind": KIND}`. After `subscribe`, the server also sends
`{"type": "event", "event": NAME, ...}`: the objects of `--output jsonl`, plus `type`.
When the run's process ends the server sends `{"type": "bye", ...}` and closes.

The server only ever parses JSON: nothing a client sends is executed or unpickled. A
message longer than MAX_MESSAGE bytes is refused and the connection dropped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import orjson

from flow_tui.capture import TaskLog
from flow_tui.core.events import (
    Event,
    TaskEnd,
    TaskRetry,
    TaskSkipped,
    TaskStart,
    WorkflowEnd,
    WorkflowPaused,
    WorkflowStart,
)
from flow_tui.core.model import TaskResult, TaskStatus
from flow_tui.session import CheckpointFailed

PROTOCOL_VERSION = 1
#: The longest line a client may send (a command is a few hundred bytes).
MAX_MESSAGE = 1 << 20
#: The longest line a server may send (a full state of a large run).
MAX_SERVER_MESSAGE = 1 << 30

#: Commands a server answers, with the arguments each takes.
COMMANDS = {
    "status": (),
    "state": (),
    "subscribe": (),
    "snapshot": (),
    "pause": ("interrupt",),
    "resume": ("rerun_interrupted", "mark_done"),
    "retry": ("tasks",),
    "save": ("path",),
    "stop": ("grace",),
}

#: Reply kinds of a refusal, for clients to tell them apart.
ERR_USAGE = "usage"  # unknown command, bad argument
ERR_CONSENT = "consent"  # interrupted non-idempotent tasks need a decision
ERR_STATE = "state"  # not possible now (e.g. retry while running)
ERR_SAVE = "save"  # the snapshot could not be written
ERR_PROTOCOL = "protocol"
ERR_ENDED = "ended"  # the run has ended (its process is leaving)
ERR_INTERNAL = "internal"  # a command failed unexpectedly; the run goes on


class ProtocolError(ValueError):
    """A line that is not a message of this protocol."""


class RawJSON:
    """JSON text that a message carries as it is: made by a faster writer than a dict
    would be (the snapshot in a full state: `Snapshot.to_json` writes a plain result from
    a template, 0.9 s for 300k results where building their dicts took 1.8-2.4 s)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        # On one line: a newline of JSON text is only ever whitespace between tokens (one
        # in a string is escaped), and a message is one line.
        self.text = text.replace("\n", "")


def _raw_json(obj: object) -> Any:
    if isinstance(obj, RawJSON):
        return orjson.Fragment(obj.text)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _raw_json_parsed(obj: object) -> Any:
    if isinstance(obj, RawJSON):
        return json.loads(obj.text)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


#: One encoder for every message (json.dumps with options builds one per call).
_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_raw_json_parsed
).encode
#: And the one of `--output jsonl`: `json.dumps(obj, ensure_ascii=False)`, whose spaces
#: scripts that grep a run's output may count on (`"task": "charge"`).
_dumps_spaced = json.JSONEncoder(ensure_ascii=False).encode


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line. orjson writes a reply in a tenth of the json module's time
    (the full state of a 300k-task run, 98 MB: 0.16 s instead of 1.5-2.4 s, with the run's
    loop held meanwhile); what it refuses (a key that is not a string, an integer over 64
    bits) the json module writes."""
    try:
        return orjson.dumps(message, default=_raw_json, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return (_dumps(message) + "\n").encode()


def event_line(obj: dict[str, Any]) -> bytes:
    """An event object as `--output jsonl` writes it: one line, UTF-8."""
    return (_dumps_spaced(obj) + "\n").encode()


_TYPE_EVENT = b'{"type": "event", '


def as_messages(lines: list[bytes]) -> bytes:
    """Lines of `--output jsonl` events (each a JSON object on its line), as the socket
    sends them: one text with `"type": "event"` put first in each object. A slice and a
    concatenation per line take 0.7 ms for a batch of 7.6k events, where one `replace`
    over the joined batch took 2.9 ms (the batches of benchmarks/attach.py)."""
    prefix = _TYPE_EVENT
    return b"".join([prefix + line[1:] for line in lines])


def decode(line: bytes | bytearray) -> dict[str, Any]:
    """One message from one line; ProtocolError when it is not a JSON object.

    orjson reads a line in a third of the time the json module takes (a viewer reads
    every event of a run: 10k lines for 5k tasks); what it refuses (NaN, Infinity, which
    the json module writes) is read again by the json module."""
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            message = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"not a JSON line: {exc}") from None
        except RecursionError:
            raise ProtocolError("not a JSON line: nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message is a JSON object")
    return message


class _Clock:
    """UTC now in ISO 8601 with milliseconds: the date and time formatted once a second,
    the whole text once a millisecond (a run of short tasks has several events in one;
    formatting each showed in profiles)."""

    __slots__ = ("millis", "prefix", "second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.millis = -1
        self.prefix = ""
        self.text = ""

    def __call__(self) -> str:
        millis = int(time.time() * 1000)
        if millis == self.millis:
            return self.text
        second, rest = divmod(millis, 1000)
        if second != self.second:
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        self.millis = millis
        self.text = f"{self.prefix}.{rest:03d}+00:00"
        return self.text


#: `datetime.now(UTC).isoformat(timespec="milliseconds")`, cheaper.
now_iso = _Clock()


def result_fields(result: TaskResult) -> dict[str, Any]:
    out: dict[str, Any] = {"status": result.status.value}
    if result.message is not None:
        out["message"] = result.message
    if result.error is not None:
        out["error"] = result.error
    if result.traceback is not None and result.status is TaskStatus.FAILURE:
        out["traceback"] = result.traceback
    m = result.metrics
    if m is not None:
        out["duration_ms"] = round(m.duration_ms, 3)
        if m.attempts:
            out["attempt"] = m.attempts  # the attempt that ended (= attempts made)
    return out


def event_fields(event: Event, workflow: str, control: str | None = None) -> dict[str, Any]:
    """The JSON object of `event`, as `--output jsonl` prints it and the socket sends it.

    `control` is the run's socket path, named in `workflow_start`.
    """
    obj: dict[str, Any] = {"event": event.name, "ts": now_iso()}
    if isinstance(event, TaskStart):
        obj["task"] = event.step.name
        obj["status"] = "running"
        obj["attempt"] = event.attempt
    elif isinstance(event, (TaskEnd, TaskSkipped)):
        obj["task"] = event.step.name
        obj.update(result_fields(event.result))
        if isinstance(event, TaskEnd) and event.interrupted:
            obj["interrupted"] = True
    elif isinstance(event, TaskRetry):
        obj["task"] = event.step.name
        obj["status"] = "retrying"
        obj["attempt"] = event.attempt
        obj["delay_s"] = event.delay
        if event.result.message is not None:
            obj["message"] = event.result.message
        if event.result.error is not None:
            obj["error"] = event.result.error
    elif isinstance(event, WorkflowStart):
        obj["workflow"] = workflow
        obj["tasks"] = len(event.steps)
        obj["kept"] = list(event.kept)
        obj["control"] = control
    elif isinstance(event, WorkflowEnd):
        obj["workflow"] = workflow
        obj["status"] = event.status
    elif isinstance(event, WorkflowPaused):
        obj["interrupt"] = event.interrupt
        obj["running"] = list(event.running)
    elif isinstance(event, TaskLog):
        obj["task"] = event.task
        obj["stream"] = event.stream
        if event.level is not None:
            obj["level"] = event.level
        obj["message"] = event.message
    elif isinstance(event, CheckpointFailed):
        obj["error"] = str(event.error)
    return obj


class EventLines:
    """The lines of a run's events as `--output jsonl` writes them (`line`: the
    `event_fields` object as `json.dumps(obj, ensure_ascii=False)` writes it, byte for
    byte); the socket sends them with `"type": "event"` first (`as_messages`).

    task_start and a plain task_end (the bulk of a run: no message, error or traceback)
    are written straight from the event, the same JSON objects with the same keys in the
    same order, without building a dict and encoding it. The last event's line is kept:
    the jsonl reporter and the control server, told the same event one after the other,
    share one EventLines and encode it once.

    `control` (the socket's path, set once it is served) and `executor` (where task
    bodies run) are what workflow_start names.
    """

    def __init__(
        self,
        workflow: str,
        control: str | None = None,
        executor: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.workflow = workflow
        self.control = control
        self.executor = executor
        self._names: dict[str, str] = {}  # task name -> its JSON string
        self._event: Event | None = None  # the last event encoded, and its line
        self._line = b""

    def _name(self, name: str) -> str:
        text = self._names.get(name)
        if text is None:
            text = self._names[name] = _dumps(name)
        return text

    def line(self, event: Event) -> bytes:
        """The jsonl line of `event` (UTF-8, newline-terminated)."""
        if event is self._event:
            return self._line
        line = self._encode(event)
        self._event = event
        self._line = line
        return line

    def _encode(self, event: Event) -> bytes:
        kind = type(event)
        if kind is TaskStart:
            start: TaskStart = event  # type: ignore[assignment]
            return (
                f'{{"event": "task_start", "ts": "{now_iso()}", "task": '
                f'{self._name(start.step.name)}, "status": "running", '
                f'"attempt": {int(start.attempt)}}}\n'
            ).encode()
        if kind is TaskEnd:
            end: TaskEnd = event  # type: ignore[assignment]
            result = end.result
            metrics = result.metrics
            if (
                not end.interrupted
                and result.message is None
                and result.error is None
                and (result.traceback is None or result.status is not TaskStatus.FAILURE)
                and metrics is not None
                and math.isfinite(metrics.duration_ms)
            ):
                attempts = metrics.attempts
                attempt = f', "attempt": {int(attempts)}' if attempts else ""
                return (
                    f'{{"event": "task_end", "ts": "{now_iso()}", "task": '
                    f'{self._name(end.step.name)}, "status": "{result.status.value}", '
                    f'"duration_ms": {round(metrics.duration_ms, 3)!r}{attempt}}}\n'
                ).encode()
        obj = event_fields(event, self.workflow, self.control)
        if kind is WorkflowStart and self.executor is not None:
            obj["executor"] = self.executor()  # where the bodies run (issue 13)
        return (_dumps_spaced(obj) + "\n").encode()
