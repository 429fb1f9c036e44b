"""Where the time went: the bars of a run on one time axis, in lanes that never overlap.

Pure data, no drawing: the HTML report draws it as SVG, the dashboard as text. A bar is
one task's span from its first start to its end (retries and their backoff included: a
snapshot keeps a task's first start, its end and how many attempts it took).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flow_tui.core.model import TaskResult, TaskStatus


@dataclass(frozen=True, slots=True)
class Bar:
    task: str
    start: float  # seconds since the run's first start
    end: float
    status: TaskStatus
    attempts: int
    lane: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Timeline:
    bars: list[Bar]  # by start, then task order
    lanes: int
    origin: datetime | None  # the wall time of 0 s
    span: float  # seconds from the first start to the last end

    def busy_seconds(self) -> float:
        """The sum of the bars' durations (what the run would take one task at a time)."""
        return sum(b.duration for b in self.bars)

    def slowest(self, n: int = 10) -> list[Bar]:
        return sorted(self.bars, key=lambda b: (-b.duration, b.start))[:n]


def assign_lanes(spans: Iterable[tuple[float, float]]) -> list[int]:
    """A lane per span (in the order given, which must be by start) such that spans in
    one lane never overlap, using as few lanes as the busiest instant needs."""
    free: list[int] = []  # lanes whose last bar ended, smallest first
    busy: list[tuple[float, int]] = []  # (end, lane) of the bars still open
    lanes: list[int] = []
    count = 0
    for start, end in spans:
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane = count
            count += 1
        heapq.heappush(busy, (end, lane))
        lanes.append(lane)
    return lanes


def build_timeline(results: Mapping[str, TaskResult], order: Iterable[str] = ()) -> Timeline:
    """The timeline of every result that has a start and an end; `order` (the workflow's
    task order) breaks ties between bars that start at the same instant."""
    rank = {name: i for i, name in enumerate(order)}
    timed: list[tuple[datetime, datetime, str, TaskResult]] = []
    for name, result in results.items():
        m = result.metrics
        if m is None or m.started_at is None or m.finished_at is None:
            continue
        timed.append((m.started_at, m.finished_at, name, result))
    if not timed:
        return Timeline([], 0, None, 0.0)
    timed.sort(key=lambda t: (t[0], rank.get(t[2], len(rank))))
    origin = timed[0][0]
    spans = []
    for started, finished, _name, _result in timed:
        start = (started - origin).total_seconds()
        spans.append((start, max(start, (finished - origin).total_seconds())))
    lanes = assign_lanes(spans)
    bars = [
        Bar(
            task=name,
            start=start,
            end=end,
            status=result.status,
            attempts=result.metrics.attempts if result.metrics else 0,
            lane=lane,
        )
        for (start, end), lane, (_s, _f, name, result) in zip(spans, lanes, timed, strict=True)
    ]
    return Timeline(bars, max(lanes) + 1, origin, max(b.end for b in bars))
