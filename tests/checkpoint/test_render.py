"""Checkpoint files rendered from cached result fragments mean exactly what the codec
writes: both decode to the same snapshot, for any results, in JSON and in TOML."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_tui import Snapshot, TaskMetrics, TaskResult, TaskStatus
from flow_tui.core.model import ClockMetrics
from flow_tui.snapshot import codec
from flow_tui.snapshot.plain import plain_fields, plain_lines
from flow_tui.snapshot.render import CheckpointRenderer

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=10)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
times = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(0))]),
)
clock_metrics = st.builds(
    ClockMetrics.from_clock,
    st.floats(min_value=0, max_value=4e9),
    st.floats(min_value=0, max_value=1e6),
    st.integers(min_value=0, max_value=5),
)
metrics = clock_metrics | st.builds(
    TaskMetrics,
    started_at=st.none() | times,
    finished_at=st.none() | times,
    duration_ms=st.floats(min_value=0, max_value=1e12) | st.integers(0, 10**6),
    attempts=st.integers(min_value=0, max_value=9),
)
plain_successes = st.builds(TaskResult, status=st.just(TaskStatus.SUCCESS), metrics=metrics)
any_results = st.builds(
    TaskResult,
    status=st.sampled_from(list(TaskStatus)),
    message=st.none() | text,
    error=st.none() | text,
    data=json_values,
    metrics=st.none() | metrics,
    traceback=st.none() | text,
)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    tasks = draw(st.lists(names, unique=True, max_size=6))
    done = [n for n in tasks if draw(st.booleans())]
    return Snapshot(
        results={n: draw(plain_successes | any_results) for n in done},
        workflow=draw(st.none() | names),
        fingerprint=draw(st.none() | names),
        versions={n: draw(st.none() | names) for n in tasks},
        interrupted=[n for n in tasks if n not in done and draw(st.booleans())],
        tasks=tasks,
        status=draw(st.sampled_from(["pending", "running", "paused", "finished"])),
        context=draw(st.none() | json_values),
        checkpoint_id=draw(st.none() | st.just("0123abcd")),
    )


def decoded(raw: bytes, suffix: str) -> dict[str, object]:
    return codec.decode(raw, Path(f"x{suffix}")).to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), suffix=st.sampled_from([".json", ".toml"]))
def test_a_rendered_checkpoint_decodes_like_the_codecs_output(
    snapshot: Snapshot, suffix: str
) -> None:
    renderer = CheckpointRenderer(suffix)
    for name, result in snapshot.results.items():
        renderer.end_record(name, result)  # as the journal does when each task ends
    expected = decoded(codec.encode(snapshot, suffix), suffix)
    assert decoded(renderer.render(snapshot), suffix) == expected
    assert decoded(renderer.render(snapshot), suffix) == expected  # from the cache


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_result_replaced_under_the_same_name_is_encoded_afresh(suffix: str) -> None:
    renderer = CheckpointRenderer(suffix)
    first = TaskResult(TaskStatus.FAILURE, error="boom")
    again = TaskResult(TaskStatus.SUCCESS, metrics=ClockMetrics.from_clock(time.time(), 0.1, 2))
    snap = Snapshot(results={"a": first}, tasks=["a", "b"])
    renderer.render(snap)
    snap.results["a"] = again
    snap.tasks = ["a", "b", "c"]
    back = codec.decode(renderer.render(snap), Path(f"x{suffix}"))
    assert back.results["a"] == again
    assert back.tasks == ["a", "b", "c"]


def test_text_utf8_cannot_hold_is_left_to_the_codec() -> None:
    snap = Snapshot(results={"a\udc80": TaskResult(TaskStatus.SUCCESS)}, tasks=["a\udc80"])
    for suffix in (".json", ".toml"):
        try:
            expected: bytes | str = codec.encode(snap, suffix)
        except Exception as exc:  # the codec's verdict, whatever it is, is the renderer's
            with pytest.raises(type(exc)):
                CheckpointRenderer(suffix).render(snap)
        else:
            assert CheckpointRenderer(suffix).render(snap) == expected


@settings(max_examples=3000, deadline=None)
@given(
    ts=st.floats(min_value=0, max_value=10**11)
    | st.integers(0, 4 * 10**9).map(lambda s: s + 0.9999995)
    | st.integers(0, 4 * 10**9).map(lambda s: s + 0.0000005)
    | st.integers(0, 4 * 10**9).flatmap(
        lambda s: st.integers(0, 999_999).map(lambda us: s + (us + 0.5) / 1e6)
    ),
    duration_ms=st.floats(min_value=0, max_value=1e7),
)
def test_clock_times_are_formatted_as_datetime_formats_them(ts: float, duration_ms: float) -> None:
    metrics = ClockMetrics.from_clock(ts, duration_ms / 1000.0, 1)
    result = TaskResult(TaskStatus.SUCCESS, metrics=metrics)
    fields = plain_fields(result)
    assert fields is not None
    assert metrics.started_at is not None and metrics.finished_at is not None
    assert metrics.started_at == datetime.fromtimestamp(ts, UTC)
    assert fields[2:] == (metrics.started_at.isoformat(), metrics.finished_at.isoformat())
    # The loop that formats a whole file's results writes the same fields.
    assert plain_lines(["t"], [result], "%s %s %d %s %s", str) == ["t %s %d %s %s" % fields]


@settings(max_examples=300, deadline=None)
@given(results=st.lists(plain_successes | any_results, max_size=8))
def test_a_file_s_plain_lines_are_the_fields_of_each_result(results: list[TaskResult]) -> None:
    names = [f"t{i}" for i in range(len(results))]
    expected = [
        None if (f := plain_fields(r)) is None else "%s=%s %d %s %s" % (n, *f)
        for n, r in zip(names, results, strict=True)
    ]
    assert plain_lines(names, results, "%s=%s %d %s %s", str) == expected
