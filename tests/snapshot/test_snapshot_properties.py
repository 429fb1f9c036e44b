"""Property tests: any snapshot round-trips through JSON and TOML unchanged."""

from __future__ import annotations

import warnings
from datetime import UTC
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshot_equality import assert_same, strict

from flow_tui import Snapshot, TaskMetrics, TaskResult, TaskStatus

# Any text a UTF-8 file can hold (no lone surrogates), control characters included.
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
aware_times = st.datetimes(timezones=st.just(UTC))
metrics = st.builds(
    TaskMetrics,
    started_at=st.none() | aware_times,
    finished_at=st.none() | aware_times,
    duration_ms=st.floats(min_value=0, max_value=1e12, allow_nan=False),
    attempts=st.integers(min_value=0, max_value=1000),
)
results = st.builds(
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
    task_names = draw(st.lists(names, unique=True, max_size=6))
    finished = [n for n in task_names if draw(st.booleans())]
    unfinished = [n for n in task_names if n not in finished]
    interrupted = [n for n in unfinished if draw(st.booleans())]
    return Snapshot(
        results={n: draw(results) for n in finished},
        workflow=draw(st.none() | names),
        fingerprint=draw(st.none() | st.from_regex(r"sha256:[0-9a-f]{16}", fullmatch=True)),
        versions={n: draw(st.none() | names) for n in task_names},
        interrupted=interrupted,
        tasks=task_names,
        created_at=draw(aware_times),
        status=draw(
            st.sampled_from(["pending", "running", "paused", "finished", "failed", "cancelled"])
        ),
        context=draw(st.none() | json_values),
    )


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(snapshots())
def test_any_snapshot_round_trips_through_json(snap: Snapshot) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # JSON-compatible data never warns
        assert_same(snap, Snapshot.from_json(snap.to_json()))


@PROPERTY
@given(snapshots())
def test_any_snapshot_round_trips_through_toml(snap: Snapshot) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(snap, Snapshot.from_toml(snap.to_toml()))


@PROPERTY
@given(snapshots())
def test_json_and_toml_agree_and_round_trips_are_stable(snap: Snapshot) -> None:
    via_json = Snapshot.from_json(snap.to_json())
    via_toml = Snapshot.from_toml(snap.to_toml())
    assert_same(via_json, via_toml)
    assert Snapshot.from_json(via_toml.to_json()).to_dict() == via_json.to_dict()


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_json_value_is_lossless_as_data(value: Any) -> None:
    snap = Snapshot(results={"t": TaskResult(TaskStatus.SUCCESS, data=value)})
    for back in (Snapshot.from_json(snap.to_json()), Snapshot.from_toml(snap.to_toml())):
        assert strict(back.results["t"].data) == strict(value)
        assert back.results["t"].data_is_repr is False
