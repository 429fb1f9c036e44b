"""The snapshot document: Snapshot <-> a plain dict, its validation and upgrades.

The dict is the same for JSON and TOML except for values TOML cannot hold (null, integers
beyond 64 bits): `toml_safe` tells the codec when a value must travel as a JSON string.

Over 400 lines on purpose: writing and reading the document are one contract (every
key, its validation and its one-line error, the upgrades), kept side by side so that a
key changes in both directions at once.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import islice, repeat
from typing import Any

from flow_tui.core.errors import SnapshotError
from flow_tui.core.model import TaskMetrics, TaskResult, TaskStatus
from flow_tui.core.snapshot import FORMAT_NAME, FORMAT_VERSION, Snapshot

_STATUSES = {s.value: s for s in TaskStatus}
_RUN_STATES = {"pending", "running", "paused", "finished", "failed", "cancelled"}
_INT64 = 2**63


class SnapshotDataWarning(UserWarning):
    """A task's data is not JSON-compatible and was saved as its repr."""


# -- JSON compatibility ----------------------------------------------------------------


def utf8_safe(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (no lone surrogates, as from undecodable
    file names)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _display(text: str | None) -> str | None:
    # Messages and tracebacks are for reading: escape what UTF-8 cannot hold.
    if text is None or utf8_safe(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_LEAVE: Any = object()  # marks the end of a container's items on the stack


def find_unserializable(value: Any, path: str = "") -> str | None:
    """The path of the first part of `value` that is not JSON-compatible, else None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    inside: set[int] = set()  # the lists and dicts on the path to the item: a cycle check
    while stack:
        item, where = stack.pop()
        if where is _LEAVE:
            inside.discard(item)
            continue
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            if not utf8_safe(item):
                return f"{where or '<value>'} (a str that is not valid Unicode)"
            continue
        if isinstance(item, int):
            continue
        if isinstance(item, float):
            continue
        if isinstance(item, (list, dict)):
            if id(item) in inside:
                return f"{where or '<value>'} (it contains itself)"
            inside.add(id(item))
            stack.append((id(item), _LEAVE))
        if isinstance(item, list):
            for k in range(len(item) - 1, -1, -1):
                stack.append((item[k], f"{where}[{k}]"))
            continue
        if isinstance(item, dict):
            for key, sub in reversed(list(item.items())):
                if not isinstance(key, str):
                    return f"{where}[{key!r}] (key of type {type(key).__name__})"
                if not utf8_safe(key):
                    return f"{where}[{key!r}] (a key that is not valid Unicode)"
                stack.append((sub, f"{where}[{key!r}]"))
            continue
        return f"{where or '<value>'} (a {type(item).__name__})"
    return None


def toml_safe(value: Any) -> bool:
    """Whether TOML can hold `value` natively (no null anywhere, 64-bit integers)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None:
            return False
        if isinstance(item, (bool, str)):
            continue
        if isinstance(item, int):
            if not -_INT64 <= item < _INT64:
                return False
        elif isinstance(item, float):
            continue
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        else:
            return False
    return True


# -- encode ----------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def encode_data(task: str, data: Any, what: str = "data") -> tuple[Any, bool]:
    """`data` itself if JSON-compatible, else its repr with the flag set (and a warning)."""
    bad = find_unserializable(data)
    if bad is None:
        return data, False
    warnings.warn(
        f"task {task!r}: {what}{bad if bad.startswith('[') else ' ' + bad} is not "
        "JSON-compatible; it is saved as its repr",
        SnapshotDataWarning,
        stacklevel=3,
    )
    return repr(data), True


def result_to_dict(name: str, result: TaskResult) -> dict[str, Any]:
    out: dict[str, Any] = {"status": result.status.value}
    if result.message is not None:
        out["message"] = _display(result.message)
    if result.error is not None:
        out["error"] = _display(result.error)
    if result.traceback is not None:
        out["traceback"] = _display(result.traceback)
    if result.data is not None or result.data_is_repr:
        data, is_repr = result.data, result.data_is_repr
        if not is_repr:
            data, is_repr = encode_data(name, data)
        out["data"] = data
        if is_repr:
            out["data_is_repr"] = True
    m = result.metrics
    if m is not None:
        metrics: dict[str, Any] = {"duration_ms": float(m.duration_ms), "attempts": m.attempts}
        if m.started_at is not None:
            metrics["started_at"] = _iso(m.started_at)
        if m.finished_at is not None:
            metrics["finished_at"] = _iso(m.finished_at)
        out["metrics"] = metrics
    return out


def to_dict(snapshot: Snapshot) -> dict[str, Any]:
    doc = header_to_dict(snapshot)
    doc["results"] = {name: result_to_dict(name, r) for name, r in snapshot.results.items()}
    return doc


def header_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    """Every key of the document but `results`, in the document's order."""
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "created_at": _iso(snapshot.created_at),
        "status": snapshot.status,
    }
    if snapshot.workflow is not None:
        doc["workflow"] = snapshot.workflow
    if snapshot.fingerprint is not None:
        doc["fingerprint"] = snapshot.fingerprint
    if snapshot.checkpoint_id is not None:
        doc["checkpoint_id"] = snapshot.checkpoint_id
    if snapshot.control is not None:
        doc["control"] = snapshot.control
    tasks = list(snapshot.tasks) or list(snapshot.results)
    doc["tasks"] = tasks
    doc["interrupted"] = list(snapshot.interrupted)
    # A missing entry means "no version": TOML has no null.
    doc["versions"] = {k: v for k, v in snapshot.versions.items() if v is not None}
    if snapshot.context is not None:
        context, is_repr = encode_data("<context>", snapshot.context, "context")
        doc["context"] = context
        if is_repr:
            doc["context_is_repr"] = True
    return doc


# -- decode ----------------------------------------------------------------------------


class LongIntegerRead(Exception):
    """The document may hold an integer beyond 64 bits that its parser read as a float:
    it is to be read again by one that keeps integers (the json module)."""


_LONG = float(2**63)


def holds_long_float(value: Any) -> bool:
    """Whether `value` holds a float of 2**63 or more in magnitude: what orjson makes of
    an integer beyond 64 bits (a float written that large in the document also counts;
    reading it again only costs time)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not -_LONG < item < _LONG:
                return True
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
    return False


def _fail(source: str, problem: str) -> SnapshotError:
    return SnapshotError(f"{source}: {problem}")


def _str(doc: Mapping[str, Any], key: str, source: str, where: str, required: bool = False) -> Any:
    value = doc.get(key)
    if value is None:
        if required:
            raise _fail(source, f"{where} has no {key!r}")
        return None
    if not isinstance(value, str):
        raise _fail(source, f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def _time(value: Any, source: str, where: str, suffix: str = "") -> datetime | None:
    """`value` as an aware UTC datetime; `where + suffix` names it in an error."""
    if value is None:
        return None
    if type(value) is str and value.endswith("+00:00"):
        # What flow-tui writes: already UTC, no conversion needed (the common case of a
        # 100k-task load).
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise _fail(source, f"{where}{suffix} is not an ISO 8601 time: {value!r}") from None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise _fail(source, f"{where}{suffix} is not an ISO 8601 time: {value!r}") from None
    else:
        raise _fail(source, f"{where}{suffix} must be a time, not {type(value).__name__}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise _fail(source, f"{where}{suffix} is out of range: {value!r}") from None


def _str_list(value: Any, source: str, where: str) -> list[str]:
    if value is None:
        return []
    # map + repeat: the check runs in C (a 1M-task list: 0.03 s, not 0.2 s)
    if not isinstance(value, list) or not all(map(isinstance, value, repeat(str))):
        raise _fail(source, f"{where} must be a list of task names")
    return list(value)


def result_from_dict(
    name: str, raw: Any, source: str, *, floats_may_be_integers: bool = False
) -> TaskResult:
    """The result of task `name` as a document holds it; SnapshotError naming `source`
    and the field when it is not one. `floats_may_be_integers`: see `from_dict`."""
    where = f"results.{name}"
    if not isinstance(raw, Mapping):
        raise _fail(source, f"{where} must be a table, not {type(raw).__name__}")
    status_text = raw.get("status")
    status = _STATUSES.get(status_text) if isinstance(status_text, str) else None
    if status is None:
        raise _fail(
            source,
            f"{where}.status is {status_text!r}; expected one of {', '.join(_STATUSES)}",
        )
    metrics = None
    raw_metrics = raw.get("metrics")
    if raw_metrics is not None:
        if not isinstance(raw_metrics, Mapping):
            raise _fail(source, f"{where}.metrics must be a table")
        duration = raw_metrics.get("duration_ms", 0.0)
        attempts = raw_metrics.get("attempts", 0)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise _fail(source, f"{where}.metrics.duration_ms must be a number")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise _fail(source, f"{where}.metrics.attempts must be a whole number >= 0")
        if not math.isfinite(duration):
            raise _fail(source, f"{where}.metrics.duration_ms must be finite")
        metrics = TaskMetrics(
            _time(raw_metrics.get("started_at"), source, where, ".metrics.started_at"),
            _time(raw_metrics.get("finished_at"), source, where, ".metrics.finished_at"),
            float(duration),
            attempts,
        )
    data_is_repr = raw.get("data_is_repr", False)
    if not isinstance(data_is_repr, bool):
        raise _fail(source, f"{where}.data_is_repr must be true or false")
    data = raw.get("data")
    bad = None if data is None else find_unserializable(data)
    if bad is not None:
        raise _fail(source, f"{where}.data{bad} is not JSON-compatible")
    if floats_may_be_integers and data is not None and holds_long_float(data):
        raise LongIntegerRead
    return TaskResult(
        status,
        message=_str(raw, "message", source, where),
        error=_str(raw, "error", source, where),
        data=data,
        metrics=metrics,
        traceback=_str(raw, "traceback", source, where),
        data_is_repr=data_is_repr,
    )


_fromisoformat = datetime.fromisoformat
_SUCCESS = TaskStatus.SUCCESS
_isfinite = math.isfinite


def plain_result_from_dict(raw: Any) -> TaskResult | None:
    """A plain success as the writer writes it (status and four metrics, times in UTC),
    read without the general checks; None for anything else, which `result_from_dict`
    reads (and rejects with its precise message when it is wrong).

    Nearly every result of a large snapshot is one: this is most of a 1M-task load.
    """
    if type(raw) is not dict or len(raw) != 2 or raw.get("status") != "success":
        return None
    metrics = raw.get("metrics")
    if type(metrics) is not dict or len(metrics) != 4:
        return None
    duration = metrics.get("duration_ms")
    attempts = metrics.get("attempts")
    started = metrics.get("started_at")
    finished = metrics.get("finished_at")
    if (
        type(duration) is not float
        or type(attempts) is not int
        or type(started) is not str
        or type(finished) is not str
        or attempts < 0
        or not _isfinite(duration)
        or not started.endswith("+00:00")
        or not finished.endswith("+00:00")
    ):
        return None
    try:
        started_at = _fromisoformat(started)
        finished_at = _fromisoformat(finished)
    except ValueError:
        return None
    return TaskResult(_SUCCESS, metrics=TaskMetrics(started_at, finished_at, duration, attempts))


# Results read by `plain_results` at a time: the lists of one piece stay in the cache.
_PIECE = 2048
_get: Any = dict.get
_endswith: Any = str.endswith


def _all_of_type(values: list[Any], kind: type, n: int) -> bool:
    return [*map(type, values)].count(kind) == n


def plain_results(raw: list[Any]) -> list[TaskResult] | None:
    """`plain_result_from_dict` of every item of `raw` when each one is a plain success,
    else None (then each is read by itself: a plain success as a plain one, anything
    else by `result_from_dict`).

    The same checks and the same values, made for the whole list at once by passes of
    `map()` over built-ins: a result by itself costs a call of an interpreted function
    and a dozen lines, which at 1M results is most of a load.
    """
    n = len(raw)
    if not _all_of_type(raw, dict, n) or [*map(len, raw)].count(2) != n:
        return None
    if [*map(_get, raw, repeat("status"))].count("success") != n:
        return None
    metrics: list[Any] = [*map(_get, raw, repeat("metrics"))]
    if not _all_of_type(metrics, dict, n) or [*map(len, metrics)].count(4) != n:
        return None
    durations: list[Any] = [*map(_get, metrics, repeat("duration_ms"))]
    attempts: list[Any] = [*map(_get, metrics, repeat("attempts"))]
    started: list[Any] = [*map(_get, metrics, repeat("started_at"))]
    finished: list[Any] = [*map(_get, metrics, repeat("finished_at"))]
    if (
        not _all_of_type(durations, float, n)
        or not _all_of_type(attempts, int, n)
        or not _all_of_type(started, str, n)
        or not _all_of_type(finished, str, n)
        or (n and min(attempts) < 0)
        or not all(map(_isfinite, durations))
        or not all(map(_endswith, started, repeat("+00:00")))
        or not all(map(_endswith, finished, repeat("+00:00")))
    ):
        return None
    try:
        started_at = [*map(_fromisoformat, started)]
        finished_at = [*map(_fromisoformat, finished)]
    except ValueError:
        return None
    none = repeat(None)
    return [
        *map(
            TaskResult,
            repeat(_SUCCESS),
            none,
            none,
            none,
            map(TaskMetrics, started_at, finished_at, durations, attempts),
        )
    ]


def _results_from_dict(
    raw_results: Mapping[Any, Any], source: str, owned: bool, floats_may_be_integers: bool
) -> dict[str, TaskResult]:
    """The results of a document, read piece by piece (see `plain_results`).

    `owned`: `raw_results` is a dict of the reader's own, not the caller's; it becomes
    the results, its values replaced in place (its keys are hashed and in order: no
    dict of a million keys is built again).
    """
    reuse = owned and type(raw_results) is dict
    results: dict[str, TaskResult] = raw_results if reuse else {}  # type: ignore[assignment]
    names_left = iter(raw_results)
    values_left = iter(raw_results.values())
    while names := [*islice(names_left, _PIECE)]:
        values = [*islice(values_left, _PIECE)]
        decoded = results_from_lists(names, values, source, floats_may_be_integers)
        # Existing keys (when reused): values replaced, the dict never resized.
        results.update(zip(names, decoded, strict=True))
    return results


def results_from_lists(
    names: list[Any], values: list[Any], source: str, floats_may_be_integers: bool = False
) -> list[TaskResult]:
    """The results of the tasks `names` as a document holds them (`values`, in the same
    order): all at once by `plain_results` when each is a plain success, else each by
    itself. SnapshotError naming `source` and the field for one that is wrong."""
    named = all(map(isinstance, names, repeat(str))) and all(names)
    decoded = plain_results(values) if named else None
    if decoded is not None:
        return decoded
    decoded = []
    plain = plain_result_from_dict
    for name, raw in zip(names, values, strict=True):
        if not isinstance(name, str) or not name:
            raise _fail(source, f"task name {name!r} in 'results' is not a non-empty string")
        result = plain(raw)
        if result is None:
            result = result_from_dict(
                name, raw, source, floats_may_be_integers=floats_may_be_integers
            )
        decoded.append(result)
    return decoded


def upgrade(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """Bring an older document to the current format version."""
    version = doc.get("version")
    if version == 1:
        # Version 1 had no task list, no interrupted list and named the run state "state".
        doc = dict(doc)
        doc.setdefault("status", doc.pop("state", "pending"))
        results = doc.get("results")
        doc.setdefault("tasks", list(results) if isinstance(results, Mapping) else [])
        doc.setdefault("interrupted", [])
        doc["version"] = 2
    return doc


def from_dict(
    document: Any,
    source: str = "snapshot",
    *,
    owned: bool = False,
    floats_may_be_integers: bool = False,
) -> Snapshot:
    """The Snapshot of a decoded document; SnapshotError naming `source` and the field
    when it is not one. `owned`: the document is the reader's own (just decoded, held by
    nobody else), so its results table may become the snapshot's results.

    `floats_may_be_integers`: the parser reads an integer beyond 64 bits as a float
    (orjson). A value kept as it is (a task's data, the context) holding a float that
    large raises LongIntegerRead: the document is to be read again by a parser that
    keeps every integer. (Elsewhere such a float is refused, see `holds_long_float`.)
    """
    _check_format(document, source)
    doc = upgrade(dict(document), source)
    raw_results = doc.get("results", {})
    if not isinstance(raw_results, Mapping):
        raise _fail(source, "'results' must be a table of task name -> result")
    results = _results_from_dict(raw_results, source, owned, floats_may_be_integers)
    return _snapshot_of(doc, results, source, floats_may_be_integers)


def from_header(
    header: Mapping[str, Any],
    results: dict[str, TaskResult],
    source: str = "snapshot",
    *,
    floats_may_be_integers: bool = False,
) -> Snapshot:
    """`from_dict` of a document whose results were read apart (`results_from_lists`):
    `header` holds every other key; the Snapshot takes `results` as they are."""
    document = dict(header)
    document["results"] = results
    _check_format(document, source)
    doc = upgrade(document, source)
    return _snapshot_of(doc, results, source, floats_may_be_integers)


def _check_format(document: Any, source: str) -> None:
    """SnapshotError unless `document` is a flow-tui snapshot this version can read."""
    if not isinstance(document, Mapping):
        raise _fail(source, f"not a snapshot: the document is a {type(document).__name__}")
    fmt = document.get("format")
    if fmt != FORMAT_NAME:
        if fmt is None:
            raise _fail(source, f"not a flow-tui snapshot (no 'format' = {FORMAT_NAME!r})")
        raise _fail(source, f"not a flow-tui snapshot (format is {fmt!r})")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(source, f"snapshot format version must be a whole number, not {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(
            source,
            f"written by a newer flow-tui (snapshot format version {version}; this version "
            f"reads up to {FORMAT_VERSION}): upgrade flow-tui to load it",
        )


def _snapshot_of(
    doc: dict[str, Any], results: dict[str, TaskResult], source: str, floats_may_be_integers: bool
) -> Snapshot:
    """The Snapshot of an upgraded document and its results, read already: every key
    but `results` checked here."""
    status = doc.get("status", "pending")
    if not isinstance(status, str) or status not in _RUN_STATES:
        raise _fail(
            source, f"'status' is {status!r}; expected one of {', '.join(sorted(_RUN_STATES))}"
        )
    tasks = _str_list(doc.get("tasks"), source, "'tasks'")
    raw_versions = doc.get("versions", {})
    if not isinstance(raw_versions, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw_versions.items()
    ):
        raise _fail(source, "'versions' must map task names to version strings")
    # Every task listed or with a result, in that order, then any other versioned name.
    versions: dict[str, str | None]
    names = [*results]
    if len(tasks) == len(names) and tasks == names:
        # The usual case. The list and the versions are made of the results' names: the
        # same strings once in memory, not twice (compared by identity when resuming),
        # and the dict sized once with the names already hashed, where from the list
        # each name would be hashed and the dict grown step by step.
        tasks = names
        versions = dict.fromkeys(results)
    else:
        versions = dict.fromkeys(tasks)
        for name in results:
            if name not in versions:
                versions[name] = None
    versions.update(raw_versions)
    context = doc.get("context")
    bad = find_unserializable(context)
    if bad is not None:
        raise _fail(source, f"context{bad} is not JSON-compatible")
    if floats_may_be_integers and context is not None and holds_long_float(context):
        raise LongIntegerRead
    created = _time(doc.get("created_at"), source, "'created_at'") or datetime.now(UTC)
    return Snapshot(
        results=results,
        workflow=_str(doc, "workflow", source, "the snapshot"),
        fingerprint=_str(doc, "fingerprint", source, "the snapshot"),
        versions=versions,
        interrupted=_str_list(doc.get("interrupted"), source, "'interrupted'"),
        tasks=tasks,
        created_at=created,
        status=status,
        context=context,
        checkpoint_id=_str(doc, "checkpoint_id", source, "the snapshot"),
        control=_str(doc, "control", source, "the snapshot"),
    )
