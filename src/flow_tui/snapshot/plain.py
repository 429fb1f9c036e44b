"""Plain results: a success with nothing but its timings, encoded from a template.

Nearly every result of a large run is one: no message, error, data or traceback, just
metrics. Building its dict and handing it to the JSON encoder costs several times more
than formatting the four values into the text that encoder would write, so the codec
and the checkpoint renderer both write plain results from the templates here, character
for character what `json.dumps(schema.result_to_dict(...))` gives (TOML: the same keys
as an inline table).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from flow_tui.core.model import ClockMetrics, TaskResult, TaskStatus

PLAIN_JSON = (
    '{"status": "success", "metrics": {"duration_ms": %s, "attempts": %d, '
    '"started_at": "%s", "finished_at": "%s"}}'
)
PLAIN_TOML = (
    '{status = "success", metrics = {duration_ms = %s, attempts = %d, '
    'started_at = "%s", finished_at = "%s"}}'
)

Fields = tuple[str, int, str, str]  # repr(duration_ms), attempts, started, finished

_SUCCESS = TaskStatus.SUCCESS


def json_name(name: str) -> str:
    """`json.dumps(name, ensure_ascii=False)`: for a plain ASCII name (the usual kind),
    the same text at a fraction of the cost."""
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        return f'"{name}"'
    return json.dumps(name, ensure_ascii=False)


def plain_fields(result: TaskResult) -> Fields | None:
    """The four values of a success with nothing but timings, else None."""
    if (
        result.status is not _SUCCESS
        or result.message is not None
        or result.error is not None
        or result.data is not None
        or result.traceback is not None
        or result.data_is_repr
    ):
        return None
    m = result.metrics
    if m is None:
        return None
    duration = m.duration_ms
    if type(duration) is not float or not math.isfinite(duration) or type(m.attempts) is not int:
        return None
    if type(m) is ClockMetrics:
        # The executor's metrics, made from clock readings just before the task_end event:
        # its datetimes are functions of the readings, made when first read. Formatting
        # the readings directly costs a fraction of making the datetimes.
        return _clock_fields(m._started_ts, duration, m.attempts)
    started_at = m.started_at
    finished_at = m.finished_at
    if (
        started_at is None
        or finished_at is None
        or started_at.utcoffset() is None
        or finished_at.utcoffset() is None
        # schema writes aware times converted to UTC: only UTC ones are written as they are
        or started_at.utcoffset()
        or finished_at.utcoffset()
    ):
        return None
    return (repr(duration), m.attempts, started_at.isoformat(), finished_at.isoformat())


_MAX_TS = 253402300799.0  # 9999-12-31T23:59:59 UTC
_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _second_text(sec: int) -> str:
    return "%04d-%02d-%02dT%02d:%02d:%02d" % time.gmtime(sec)[:6]


def _clock_fields(started_ts: float, duration: float, attempts: int) -> Fields | None:
    """The fields of ClockMetrics readings, both times formatted in one pass (this runs
    once per result of a checkpoint file, so it is written out rather than calling a
    formatter twice): `datetime.fromtimestamp(ts, UTC).isoformat()` character for
    character, rounded to the microsecond as datetime does; None outside 1970-9999."""
    finished_ts = started_ts + duration / 1000.0  # as ClockMetrics computes it
    if not (0.0 <= started_ts < _MAX_TS and 0.0 <= finished_ts < _MAX_TS):
        return None
    sec = int(started_ts)
    us = round((started_ts - sec) * 1e6)
    if us >= 1_000_000:
        sec += 1
        us -= 1_000_000
    end_sec = int(finished_ts)
    end_us = round((finished_ts - end_sec) * 1e6)
    if end_us >= 1_000_000:
        end_sec += 1
        end_us -= 1_000_000
    cached = _second
    if cached[0] != sec:
        cached[1] = _second_text(sec)
        cached[0] = sec
    prefix = cached[1]
    end_prefix = prefix if end_sec == sec else _second_text(end_sec)
    return (
        repr(duration),
        attempts,
        "%s.%06d+00:00" % (prefix, us) if us else prefix + "+00:00",
        "%s.%06d+00:00" % (end_prefix, end_us) if end_us else end_prefix + "+00:00",
    )


_FRACTION = "%s.%06d+00:00"  # a time whose microseconds are not 0 (as isoformat writes it)
_WHOLE = "%s+00:00"  # and one on the second


def _time_templates(template: str) -> tuple[str, str, str, str]:
    """`template`, whose last two `%s` are the start and end times, with each written out
    as _FRACTION or _WHOLE: indexed by 2 * (start has microseconds) + (end has)."""
    head, middle, tail = template.rsplit("%s", 2)
    return (
        head + _WHOLE + middle + _WHOLE + tail,
        head + _WHOLE + middle + _FRACTION + tail,
        head + _FRACTION + middle + _WHOLE + tail,
        head + _FRACTION + middle + _FRACTION + tail,
    )


def plain_lines(
    names: Iterable[str],
    results: Iterable[TaskResult],
    template: str,
    key: Callable[[str], str],
) -> list[str | None]:
    """`template % (key(name), *fields)` for each plain success (names and results in
    step), None for any other result: `plain_fields` for a checkpoint file's results.

    A checkpoint file formats each result once (see render.py), at 1M results 2M times:
    the executor's results are formatted here in one loop, with none of the calls of
    `plain_fields` and `_clock_fields` per result, and no object made but the text (the
    times go straight into the line: `template` with them written out).
    """
    whole_whole, whole_fraction, fraction_whole, fraction_fraction = _time_templates(template)
    lines: list[str | None] = []
    append = lines.append
    second = -1  # the last whole second formatted, and its text
    second_text = ""
    isfinite = math.isfinite
    for name, result in zip(names, results, strict=True):
        m = result.metrics
        if (
            type(m) is not ClockMetrics
            or result.status is not _SUCCESS
            or result.message is not None
            or result.error is not None
            or result.data is not None
            or result.traceback is not None
            or result.data_is_repr
        ):
            fields = plain_fields(result)
            append(None if fields is None else template % (key(name), *fields))
            continue
        duration = m.duration_ms
        attempts = m.attempts
        if type(duration) is not float or not isfinite(duration) or type(attempts) is not int:
            append(None)
            continue
        # _clock_fields, written out: see there.
        started_ts = m._started_ts
        finished_ts = started_ts + duration / 1000.0
        if not (0.0 <= started_ts < _MAX_TS and 0.0 <= finished_ts < _MAX_TS):
            append(None)
            continue
        sec = int(started_ts)
        us = round((started_ts - sec) * 1e6)
        if us >= 1_000_000:
            sec += 1
            us -= 1_000_000
        end_sec = int(finished_ts)
        end_us = round((finished_ts - end_sec) * 1e6)
        if end_us >= 1_000_000:
            end_sec += 1
            end_us -= 1_000_000
        if sec != second:
            second = sec
            second_text = _second_text(sec)
        end_text = second_text if end_sec == sec else _second_text(end_sec)
        if us and end_us:  # nearly always
            append(
                fraction_fraction
                % (key(name), repr(duration), attempts, second_text, us, end_text, end_us)
            )
        elif us:
            append(
                fraction_whole % (key(name), repr(duration), attempts, second_text, us, end_text)
            )
        elif end_us:
            append(
                whole_fraction
                % (key(name), repr(duration), attempts, second_text, end_text, end_us)
            )
        else:
            append(whole_whole % (key(name), repr(duration), attempts, second_text, end_text))
    return lines


def plain_clock(result: TaskResult) -> tuple[float, float, int] | None:
    """(started_ts, duration_ms, attempts) of a plain success recorded by the executor
    (ClockMetrics), whose journal record can be the compact one: times as clock readings,
    formatted only when a checkpoint file is written. None for any other result."""
    m = result.metrics
    if (
        type(m) is not ClockMetrics
        or result.status is not _SUCCESS
        or result.message is not None
        or result.error is not None
        or result.data is not None
        or result.traceback is not None
        or result.data_is_repr
    ):
        return None
    # Once per task of a checkpointed run: the slot rather than the property, and the
    # range check of clock_in_range written out.
    started = m._started_ts
    duration = m.duration_ms
    attempts = m.attempts
    if (
        type(started) is not float
        or type(duration) is not float
        or type(attempts) is not int
        or attempts < 0
        or not (0.0 <= started < _MAX_TS and 0.0 <= started + duration / 1000.0 < _MAX_TS)
    ):
        return None
    return (started, duration, attempts)


def clock_in_range(started_ts: float, duration_ms: float) -> bool:
    """Both times of these clock readings are finite and within 1970-9999 (UTC)."""
    finished_ts = started_ts + duration_ms / 1000.0  # as ClockMetrics computes it
    return 0.0 <= started_ts < _MAX_TS and 0.0 <= finished_ts < _MAX_TS
