"""What a task row shows: its display status, glyph, and how durations are written."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum

from flow_tui.core.model import TaskResult, TaskStatus


class RowStatus(StrEnum):
    """A task as the operator sees it: the four result statuses plus live states."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # cut off mid-body; runs again on resume
    RETRYING = "retrying"  # failed, waiting out a retry's backoff (attempts.py)

    @property
    def is_done(self) -> bool:
        return self in _DONE


def progress_done(counts: Mapping[RowStatus, int]) -> int:
    """The tasks a progress bar counts as done: succeeded (kept ones included), failed or
    skipped. Not done: interrupted and cancelled tasks (they run again on a resume), nor
    pending and running ones."""
    return sum(counts.get(status, 0) for status in _PROGRESS)


_PROGRESS = (RowStatus.SUCCESS, RowStatus.FAILURE, RowStatus.SKIPPED)

_DONE = frozenset({RowStatus.SUCCESS, RowStatus.FAILURE, RowStatus.SKIPPED, RowStatus.CANCELLED})

# Distinct shapes, so statuses stay readable without colour (NO_COLOR).
GLYPH: dict[RowStatus, str] = {
    RowStatus.PENDING: "○",
    RowStatus.RUNNING: "⠋",
    RowStatus.SUCCESS: "✔",
    RowStatus.FAILURE: "✘",
    RowStatus.SKIPPED: "↷",
    RowStatus.CANCELLED: "⊘",
    RowStatus.INTERRUPTED: "↺",
    RowStatus.RETRYING: "⟳",
}

# The theme variable each status is drawn with (header counts, detail pane).
STATUS_STYLE: dict[RowStatus, str] = {
    RowStatus.PENDING: "$text-muted",
    RowStatus.RUNNING: "$text-accent",
    RowStatus.SUCCESS: "$text-success",
    RowStatus.FAILURE: "$text-error",
    RowStatus.SKIPPED: "$text-muted",
    RowStatus.CANCELLED: "$text-warning",
    RowStatus.INTERRUPTED: "$text-warning",
    RowStatus.RETRYING: "$text-warning",
}

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

# Header and summary order.
ORDER: tuple[RowStatus, ...] = (
    RowStatus.SUCCESS,
    RowStatus.FAILURE,
    RowStatus.SKIPPED,
    RowStatus.CANCELLED,
    RowStatus.INTERRUPTED,
    RowStatus.RETRYING,
    RowStatus.RUNNING,
    RowStatus.PENDING,
)

STATUS_OF_RESULT = _FROM_RESULT = {
    TaskStatus.SUCCESS: RowStatus.SUCCESS,
    TaskStatus.FAILURE: RowStatus.FAILURE,
    TaskStatus.SKIPPED: RowStatus.SKIPPED,
    TaskStatus.CANCELLED: RowStatus.CANCELLED,
}


def row_status(
    name: str,
    results: Mapping[str, TaskResult],
    running: Collection[str],
    interrupted: Collection[str],
) -> RowStatus:
    if name in running:
        return RowStatus.RUNNING
    if name in interrupted:
        return RowStatus.INTERRUPTED
    result = results.get(name)
    if result is None:
        return RowStatus.PENDING
    return _FROM_RESULT[result.status]


def spinner_frame(now: float) -> str:
    return SPINNER[int(now * 10) % len(SPINNER)]


def format_duration(seconds: float) -> str:
    """Short and steady: 0.4s, 12.3s, 4m05s, 2h03m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_clock(seconds: float) -> str:
    """Elapsed run time as m:ss or h:mm:ss."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
