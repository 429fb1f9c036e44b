"""Where the dashboard reads the time: the real clock, or a frozen one for screenshots."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class TimedRun(Protocol):
    def elapsed(self) -> float: ...


class Clock:
    """Real time: elapsed run time, spinner frames, timestamps in the local zone."""

    frozen = False

    def monotonic(self) -> float:
        return time.monotonic()

    def elapsed(self, run: TimedRun) -> float:
        return run.elapsed()

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def local(self, when: datetime) -> datetime:
        return when.astimezone()


class FrozenClock(Clock):
    """Time that never moves and a fixed zone (UTC): SVG snapshots stay byte-identical."""

    frozen = True

    def __init__(
        self,
        elapsed: float = 42.0,
        now: datetime = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    ) -> None:
        self._elapsed = elapsed
        self._now = now

    def monotonic(self) -> float:
        return 0.0

    def elapsed(self, run: TimedRun) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._now

    def local(self, when: datetime) -> datetime:
        return when.astimezone(UTC)
