"""The timeline's lanes: no two bars of a lane overlap, and no more lanes than the
busiest instant needs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from flow_tui import TaskMetrics, TaskResult, TaskStatus
from flow_tui.report import assign_lanes, build_timeline

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def result(start: float, end: float, status: TaskStatus = TaskStatus.SUCCESS) -> TaskResult:
    metrics = TaskMetrics(
        T0 + timedelta(seconds=start), T0 + timedelta(seconds=end), (end - start) * 1000, 1
    )
    return TaskResult(status, metrics=metrics)


spans = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=60,
).map(sorted)


@given(spans)
def test_bars_of_a_lane_never_overlap_and_lanes_match_the_busiest_instant(
    items: list[tuple[int, int]],
) -> None:
    lanes = assign_lanes(items)
    by_lane: dict[int, list[tuple[int, int]]] = {}
    for span, lane in zip(items, lanes, strict=True):
        by_lane.setdefault(lane, []).append(span)
    for members in by_lane.values():
        for (_, end), (start, _) in itertools.pairwise(members):
            assert end <= start
    busiest = max((sum(1 for s, e in items if s <= t < e) for t in range(80)), default=0)
    # Zero-length bars occupy no instant but still need a lane of their own at that instant.
    assert len(by_lane) >= busiest
    assert len(by_lane) <= max(busiest, 1) + sum(1 for s, e in items if s == e)


def test_timeline_of_a_run_orders_bars_by_start_and_skips_tasks_without_times() -> None:
    results = {
        "extract": result(0, 2),
        "transform": result(2, 5, TaskStatus.FAILURE),
        "audit": result(0.5, 1),
        "never": TaskResult(TaskStatus.SKIPPED),
    }
    timeline = build_timeline(results, ["extract", "audit", "transform", "never"])
    assert [b.task for b in timeline.bars] == ["extract", "audit", "transform"]
    assert [b.lane for b in timeline.bars] == [0, 1, 0]
    assert timeline.lanes == 2
    assert timeline.span == 5
    assert timeline.origin == T0
    assert timeline.busy_seconds() == 5.5
    assert [b.task for b in timeline.slowest(2)] == ["transform", "extract"]
    assert build_timeline({}).bars == []
