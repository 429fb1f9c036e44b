"""The checkpoint renderer's kept lines (by position in the task list) give, byte for
byte, what a renderer that keeps nothing writes, whatever sequence of files it renders:
results added in the task list's order or not, replaced, dropped, the task list changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_render import any_results, plain_successes

from flow_tui import Snapshot, TaskResult, TaskStatus
from flow_tui.core.model import ClockMetrics
from flow_tui.snapshot.plain import plain_fields, plain_lines
from flow_tui.snapshot.render import CheckpointRenderer

CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
TASKS = [f"t{i}" for i in range(8)] + ['q"uote', "é"]


@st.composite
def file_sequences(draw: st.DrawFn) -> list[Snapshot]:
    """Snapshots as a run makes them: mostly the results so far in the task list's
    order, sometimes out of order, with a name outside the list, or another list."""
    pool = draw(st.lists(plain_successes | any_results, min_size=1, max_size=6))
    snapshots = []
    results: dict[str, TaskResult] = {}
    for _ in range(draw(st.integers(1, 5))):
        tasks = TASKS if draw(st.integers(0, 4)) else TASKS[: draw(st.integers(0, len(TASKS)))]
        for name in draw(st.lists(st.sampled_from(TASKS), max_size=6)):
            results[name] = pool[draw(st.integers(0, len(pool) - 1))]
        if results and draw(st.integers(0, 5)) == 0:
            del results[draw(st.sampled_from(sorted(results)))]
        how = draw(st.integers(0, 6))
        if how == 0:
            shown = dict(reversed(results.items()))  # not in the task list's order
        elif how == 1:
            shown = {**results, "outside": pool[0]}
        else:
            shown = {n: results[n] for n in tasks if n in results}
        snapshots.append(
            Snapshot(
                results=shown,
                tasks=list(tasks),
                versions=dict.fromkeys(tasks, draw(st.none() | st.just("2"))),
                workflow="w",
                fingerprint="sha256:0",
                created_at=CREATED,
                status="running",
                checkpoint_id="0123abcd",
            )
        )
    return snapshots


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=file_sequences(), suffix=st.sampled_from([".json", ".toml"]))
def test_kept_lines_give_the_bytes_a_fresh_renderer_writes(
    sequence: list[Snapshot], suffix: str
) -> None:
    renderer = CheckpointRenderer(suffix)
    for snapshot in sequence:
        for name, result in list(snapshot.results.items())[:2]:
            renderer.end_record(name, result)  # as the checkpointer does for some ends
        pieces = renderer.render_pieces(snapshot)
        assert b"".join(pieces) == CheckpointRenderer(suffix).render(snapshot)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_run_s_files_mid_run_then_whole(suffix: str) -> None:
    tasks = [f"t{i}" for i in range(300)]
    results = {
        n: TaskResult(TaskStatus.SUCCESS, metrics=ClockMetrics.from_clock(1.7e9 + i / 7, 0.01, 1))
        for i, n in enumerate(tasks)
    }
    results["t5"] = TaskResult(TaskStatus.FAILURE, error="boom")
    renderer = CheckpointRenderer(suffix)
    for done in (0, 1, 150, 299, 300, 300):
        shown = {n: results[n] for n in tasks[:done]}
        snap = Snapshot(results=shown, tasks=tasks, created_at=CREATED)
        assert renderer.render(snap) == CheckpointRenderer(suffix).render(snap)
    results["t7"] = TaskResult(TaskStatus.SUCCESS, message="again")  # replaced, not mutated
    snap = Snapshot(results=dict(results), tasks=tasks, created_at=CREATED)
    assert renderer.render(snap) == CheckpointRenderer(suffix).render(snap)


@pytest.mark.parametrize(
    "ts",
    [1_700_000_000.0, 1_700_000_000.25, 1_700_000_000.9999996, 1_699_999_999.75],
)
@pytest.mark.parametrize("duration_ms", [0.0, 250.0, 750.0, 1000.0, 0.0004])
def test_times_on_and_off_the_second_are_written_as_isoformat_writes_them(
    ts: float, duration_ms: float
) -> None:
    metrics = ClockMetrics.from_clock(ts, duration_ms / 1000.0, 1)
    result = TaskResult(TaskStatus.SUCCESS, metrics=metrics)
    fields = plain_fields(result)
    assert fields is not None and metrics.started_at and metrics.finished_at
    assert fields[2:] == (metrics.started_at.isoformat(), metrics.finished_at.isoformat())
    assert plain_lines(["t"], [result], "%s %s %d %s %s", str) == ["t %s %d %s %s" % fields]
