"""The fast paths of large snapshot files write and read exactly what the general ones do.

Plain successes (status and timings only) are written from a template and read without
the general checks; the JSON file is written in pieces. None of that may change a byte
of the file or a value read back, or let a malformed file through.
"""

from __future__ import annotations

import gc
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_tui import Snapshot, SnapshotError, TaskMetrics, TaskResult, TaskStatus
from flow_tui.core.model import ClockMetrics
from flow_tui.snapshot import codec, files, schema

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def reference_json(snapshot: Snapshot) -> str:
    """The JSON layout, written the slow obvious way: one line per key and per result."""
    doc = schema.to_dict(snapshot)
    results = doc.pop("results")
    lines = [
        "{",
        *(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in doc.items()),
    ]
    if results:
        lines.append(' "results": {')
        lines.append(
            ",\n".join(
                f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                for k, v in results.items()
            )
        )
        lines.append(" }")
    else:
        lines.append(' "results": {}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def mixed(n: int) -> Snapshot:
    """n results: clock metrics, datetime metrics, other offsets, failures, data, odd names."""
    results: dict[str, TaskResult] = {}
    plus2 = timezone(timedelta(hours=2))
    for i in range(n):
        kind = i % 7
        name = f"t{i}" if i % 11 else f'task "{i}" é\\ \x7f'
        if kind == 0:
            metrics: TaskMetrics = ClockMetrics.from_clock(1.7e9 + i / 3, i / 1000, 1)
            results[name] = TaskResult(TaskStatus.SUCCESS, metrics=metrics)
        elif kind == 1:
            metrics = TaskMetrics(T0, T0 + timedelta(microseconds=i), float(i), 2)
            results[name] = TaskResult(TaskStatus.SUCCESS, metrics=metrics)
        elif kind == 2:
            metrics = TaskMetrics(T0.astimezone(plus2), T0, 1.5, 1)
            results[name] = TaskResult(TaskStatus.SUCCESS, metrics=metrics)
        elif kind == 3:
            results[name] = TaskResult(TaskStatus.FAILURE, error="boom\n", traceback="tb")
        elif kind == 4:
            results[name] = TaskResult(TaskStatus.SUCCESS, data={"rows": [i, None, 2**70]})
        elif kind == 5:
            results[name] = TaskResult(TaskStatus.SUCCESS, metrics=TaskMetrics(T0, None, 0.0, 0))
        else:
            results[name] = TaskResult(TaskStatus.SKIPPED, message="skipped")
    return Snapshot(
        results=results,
        tasks=[*results, "never-ran"],
        versions={"t1": "2"},
        interrupted=["never-ran"],
        workflow="wf",
        fingerprint="sha256:00",
        created_at=T0,
        status="paused",
        context={"cursor": None},
    )


@pytest.mark.parametrize("n", [0, 1, 7, 2047, 2048, 2049, 5000])
def test_the_json_file_is_the_one_line_per_result_layout_byte_for_byte(
    n: int, tmp_path: Path
) -> None:
    snap = mixed(n)
    expected = reference_json(snap)
    assert snap.to_json() == expected
    path = snap.save(tmp_path / "run.json")
    assert path.read_text(encoding="utf-8") == expected
    back = Snapshot.load(path)
    assert back.results == snap.results
    assert back.to_json() == expected


times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
plain_like = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["success", "failure", "Success", 1]),
        "metrics": st.fixed_dictionaries(
            {
                "duration_ms": st.floats() | st.integers(-5, 5) | st.just("1.0"),
                "attempts": st.integers(-2, 3) | st.booleans() | st.just(1.0),
                "started_at": times.map(lambda t: t.isoformat())
                | st.sampled_from(["", "+00:00", "2024-13-01T00:00:00+00:00", "garbage"]),
                "finished_at": times.map(lambda t: t.isoformat()) | st.none(),
            }
        )
        | st.none()
        | st.just([]),
    },
    optional={"message": st.none() | st.just("m"), "data": st.none() | st.just(1)},
)


@settings(max_examples=500, deadline=None)
@given(raw=plain_like)
def test_the_plain_reader_agrees_with_the_general_one(raw: dict[str, Any]) -> None:
    fast = schema.plain_result_from_dict(raw)
    try:
        general = schema.result_from_dict("t", raw, "file.json")
    except SnapshotError:
        assert fast is None  # only the general reader may accept or reject it
        return
    if fast is not None:
        assert fast == general
        assert fast.metrics is not None and general.metrics is not None
        assert fast.metrics.started_at == general.metrics.started_at
        assert fast.metrics.started_at.tzinfo == general.metrics.started_at.tzinfo  # type: ignore[union-attr]
        assert type(fast.metrics.duration_ms) is type(general.metrics.duration_ms)


@pytest.mark.parametrize(
    "metrics",
    [
        '{"duration_ms": 1.0, "attempts": 1, "started_at": "2024-13-01T00:00:00+00:00", '
        '"finished_at": "2024-05-01T00:00:00+00:00"}',
        '{"duration_ms": 1.0, "attempts": -1, "started_at": "2024-05-01T00:00:00+00:00", '
        '"finished_at": "2024-05-01T00:00:00+00:00"}',
        '{"duration_ms": "1", "attempts": 1, "started_at": "2024-05-01T00:00:00+00:00", '
        '"finished_at": "2024-05-01T00:00:00+00:00"}',
    ],
)
def test_a_malformed_plain_result_still_names_the_file_and_the_problem(
    metrics: str, tmp_path: Path
) -> None:
    good = mixed(30)
    path = good.save(tmp_path / "big.json")
    lines = path.read_text(encoding="utf-8").split("\n")
    at = next(k for k, line in enumerate(lines) if line.startswith('  "t7": '))
    lines[at] = '  "t7": {"status": "success", "metrics": ' + metrics + "},"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"big\.json: results\.t7\.metrics"):
        Snapshot.load(path)


def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("old", encoding="utf-8")

    def pieces() -> Any:
        yield b"{"
        raise RuntimeError("encoder broke")

    with pytest.raises(RuntimeError, match="encoder broke"):
        files.atomic_write(target, pieces())
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(os.listdir(tmp_path)) == ["run.json"]


def test_encode_is_the_pieces_joined() -> None:
    snap = mixed(3000)
    assert codec.encode(snap, ".json") == b"".join(codec.encode_chunks(snap, ".json"))
    assert codec.encode(snap, ".json") == reference_json(snap).encode("utf-8")


@pytest.mark.parametrize(
    "data",
    [2**64 + 1, -(2**63) - 1, 10**40, [1.5, 2**70], 123456789012345678, "1234567890123456789012"],
    ids=repr,
)
def test_files_keep_every_integer_whichever_parser_reads_them(data: Any, tmp_path: Path) -> None:
    snap = mixed(5)
    snap.results["t1"].data = data
    back = Snapshot.load(snap.save(tmp_path / "run.json")).results["t1"].data
    assert back == data and repr(back) == repr(data)


def json_module_reading(text: str, source: str) -> Snapshot | str:
    """What the json module and the general checks make of `text`: a snapshot, or the
    message of the SnapshotError."""
    try:
        return schema.from_dict(json.loads(text), source)
    except SnapshotError as exc:
        return str(exc)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"context": {"cursor": null}', '"context": {"cursor": [1, 123456789012345678901]}'),
        ('"context": {"cursor": null}', '"context": {"cursor": 1e300}'),
        ('"version": 2', '"version": 12345678901234567890'),
        ('"version": 2', '"version": -9223372036854775809'),
        ('"status": "paused"', '"status": 99999999999999999999'),
        ('"workflow": "wf"', '"workflow": 99999999999999999999'),
        ('"attempts": 2', '"attempts": 99999999999999999999'),
        ('"attempts": 2', '"attempts": 1e19'),
        ('"duration_ms": 1.0', '"duration_ms": 99999999999999999999'),
        ('"error": "boom\\n"', '"error": 99999999999999999999'),
        ('"status": "skipped"', '"status": 99999999999999999999'),
    ],
)
def test_a_long_integer_anywhere_reads_as_the_json_module_reads_it(
    old: str, new: str, tmp_path: Path
) -> None:
    path = mixed(30).save(tmp_path / "run.json")
    text = path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    expected = json_module_reading(text, str(path))
    if isinstance(expected, str):
        with pytest.raises(SnapshotError) as caught:
            Snapshot.load(path)
        assert str(caught.value) == expected
    else:
        back = Snapshot.load(path)
        assert back.results == expected.results and back.context == expected.context
        assert repr(back.context) == repr(expected.context)
        for name, result in back.results.items():
            assert repr(result.data) == repr(expected.results[name].data)


def test_what_only_the_json_module_accepts_still_loads(tmp_path: Path) -> None:
    path = mixed(3).save(tmp_path / "run.json")
    text = path.read_text(encoding="utf-8").replace('"version": 2,', '"version": 2, "x": NaN,')
    path.write_text(text, encoding="utf-8")
    assert len(Snapshot.load(path).results) == 3


@settings(max_examples=300, deadline=None)
@given(raws=st.lists(plain_like, max_size=6), plain_prefix=st.integers(0, 4))
def test_the_plain_reader_of_a_list_is_the_plain_reader_of_each(
    raws: list[dict[str, Any]], plain_prefix: int
) -> None:
    good = {
        "status": "success",
        "metrics": {
            "duration_ms": 1.5,
            "attempts": 1,
            "started_at": T0.isoformat(),
            "finished_at": T0.isoformat(),
        },
    }
    items = [good] * plain_prefix + raws
    each = [schema.plain_result_from_dict(raw) for raw in items]
    together = schema.plain_results(items)
    if None in each:
        assert together is None
    else:
        assert together == each
        assert together is not None
        for fast, one in zip(together, each, strict=True):
            assert one is not None
            assert fast.metrics is not None and one.metrics is not None
            assert fast.metrics.started_at == one.metrics.started_at
            assert fast.metrics.started_at.tzinfo is one.metrics.started_at.tzinfo  # type: ignore[union-attr]
            assert type(fast.metrics.duration_ms) is float


def plain_run(n: int) -> Snapshot:
    results = {
        f"t{i}": TaskResult(
            TaskStatus.SUCCESS,
            metrics=ClockMetrics.from_clock(1.7e9 + i / 7, i / 1000, 1),
        )
        for i in range(n)
    }
    return Snapshot(results=results, tasks=list(results), workflow="wf", created_at=T0)


@pytest.mark.parametrize("odd", [0, 2047, 2048, 4100, 4999])
def test_a_large_file_of_plain_results_with_one_other_reads_every_value(
    odd: int, tmp_path: Path
) -> None:
    snap = plain_run(5000)
    snap.results[f"t{odd}"] = TaskResult(TaskStatus.FAILURE, error="boom", data=[1, 2**70])
    back = Snapshot.load(snap.save(tmp_path / "run.json"))
    assert back.results == snap.results and list(back.results) == list(snap.results)
    assert back.tasks == snap.tasks and back.versions == dict.fromkeys(snap.tasks)
    assert back.results[f"t{odd}"].data == [1, 2**70]
    assert back.to_json() == snap.to_json()


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('"started_at": "2024-02-30T00:00:00+00:00"', r"results\.t4100\.metrics\.started_at"),
        ('"finished_at": "yesterday"', r"results\.t4100\.metrics\.finished_at"),
        ('"attempts": -3', r"results\.t4100\.metrics\.attempts"),
    ],
)
def test_a_malformed_result_among_plain_ones_is_named(
    line: str, field: str, tmp_path: Path
) -> None:
    path = plain_run(5000).save(tmp_path / "big.json")
    lines = path.read_text(encoding="utf-8").split("\n")
    at = next(k for k, text in enumerate(lines) if text.startswith('  "t4100": '))
    key = line.split(":")[0]
    head, rest = lines[at].split(key + ": ", 1)
    value_end = rest.index(", ") if ", " in rest else rest.index("}")
    lines[at] = head + line + rest[value_end:]
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"big\.json: " + field):
        Snapshot.load(path)


def test_an_empty_task_name_among_plain_results_is_named(tmp_path: Path) -> None:
    path = plain_run(3000).save(tmp_path / "big.json")
    text = path.read_text(encoding="utf-8").replace('  "t2500": ', '  "": ')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"big\.json: task name '' in 'results'"):
        Snapshot.load(path)


def test_from_dict_leaves_the_callers_document_as_it_was() -> None:
    snap = plain_run(3000)
    document = snap.to_dict()
    before = json.dumps(document)
    back = Snapshot.from_dict(document)
    assert json.dumps(document) == before
    assert back.results == snap.results


def test_loading_gives_the_collector_back_as_it_was(tmp_path: Path) -> None:
    path = plain_run(3000).save(tmp_path / "run.json")
    try:
        Snapshot.load(path)
        Snapshot.from_json(path.read_bytes())
        assert gc.isenabled() and gc.get_freeze_count() == 0
        kept = [object() for _ in range(10)]
        gc.freeze()  # the caller's: left frozen
        frozen = gc.get_freeze_count()
        Snapshot.load(path)
        assert gc.isenabled() and gc.get_freeze_count() == frozen
        gc.disable()
        Snapshot.load(path)
        assert not gc.isenabled()
        del kept
    finally:
        gc.enable()
        gc.unfreeze()
