"""A JSON snapshot laid out as flow-tui writes it is parsed a piece of result lines at a
time: the same values, in the same order, and the same errors as parsing it whole.

Each case is read twice: as it is, and with the piecewise reader switched off (the whole
document parsed at once, as before it existed); the two outcomes must be identical.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from snapshot_equality import assert_same

from flow_tui import Snapshot, SnapshotError, TaskMetrics, TaskResult, TaskStatus
from flow_tui.core.model import ClockMetrics
from flow_tui.snapshot import codec

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def a_run(n: int) -> Snapshot:
    """n results, mostly plain successes, with failures, data and names that need
    escaping here and there."""
    results: dict[str, TaskResult] = {}
    for i in range(n):
        name = f"t{i}" if i % 97 else f't "{i}" é\\'
        if i % 13 == 5:
            results[name] = TaskResult(
                TaskStatus.FAILURE,
                error=f"boom {i}",
                data={"i": i, "xs": [1, 2.5, None, "a,\nb"]},
                metrics=TaskMetrics(T0, T0, 1.5, 2),
            )
        else:
            results[name] = TaskResult(
                TaskStatus.SUCCESS, metrics=ClockMetrics.from_clock(1.7e9 + i / 7, i / 1000, 1)
            )
    return Snapshot(
        results=results,
        tasks=list(results),
        workflow="wf",
        fingerprint="sha256:0123456789abcdef",
        versions={**dict.fromkeys(results), "t3": "v2"},
        interrupted=["t4"],
        created_at=T0,
        status="paused",
        context={"k": [1, 2]},
    )


def outcome(raw: bytes) -> Snapshot | str:
    try:
        return codec.from_json(raw, "run.json")
    except SnapshotError as exc:
        return f"SnapshotError: {exc}"


def read_both(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(outcome by pieces, outcome parsed whole)."""
    by_pieces = outcome(raw)
    with monkeypatch.context() as patch:
        patch.setattr(codec, "_from_orjson_by_pieces", lambda raw, source: None)
        whole = outcome(raw)
    return by_pieces, whole


def assert_identical(a: Any, b: Any) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert_same(b, a)
    assert list(a.results) == list(b.results)
    assert a.tasks == b.tasks and list(a.versions) == list(b.versions)


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a few lines each: every kind of line meets a piece boundary."""
    monkeypatch.setattr(codec, "_PIECE_BYTES", 300)


def written(n: int = 400) -> bytes:
    return codec.encode(a_run(n), ".json")


@pytest.mark.parametrize("piece_bytes", [1, 300, 1 << 16])
def test_a_file_as_written_is_read_by_pieces_with_the_same_values(
    piece_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codec, "_PIECE_BYTES", piece_bytes)
    raw = written(3000)
    assert codec._from_orjson_by_pieces(raw, "run.json") is not None
    by_pieces, whole = read_both(raw, monkeypatch)
    assert isinstance(by_pieces, Snapshot)
    assert_identical(by_pieces, whole)
    assert_same(a_run(3000), by_pieces)


def test_a_saved_file_loads_by_pieces(tmp_path: Path, small_pieces: None) -> None:
    snap = a_run(500)
    back = Snapshot.load(snap.save(tmp_path / "run.json"))
    assert_same(snap, back)
    assert list(back.results) == list(snap.results)
    assert back.to_json() == snap.to_json()


def test_one_result_and_the_results_of_a_run_where_everything_is_plain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in (1, 2):
        raw = written(n)
        assert codec._from_orjson_by_pieces(raw, "run.json") is not None
        assert_identical(*read_both(raw, monkeypatch))
    plain = Snapshot(
        results={
            f"t{i}": TaskResult(TaskStatus.SUCCESS, metrics=TaskMetrics(T0, T0, 0.5, 1))
            for i in range(1000)
        },
        created_at=T0,
    )
    assert_identical(*read_both(codec.encode(plain, ".json"), monkeypatch))


def _line_of(text: str, name: str) -> tuple[int, int]:
    """Start and end (before its comma) of the line of task `name`."""
    start = text.index(f'\n  "{name}": ') + 1
    return start, text.index("\n", start) - 1


def _replace_line(text: str, name: str, line: str) -> str:
    start, end = _line_of(text, name)
    return text[:start] + line + text[end:]


EDITS = {
    # Not JSON: the whole document is refused, with the json module's words.
    "two commas in a row": lambda t: t.replace('},\n  "t200": ', '},\n,\n  "t200": '),
    "a comma after the last result": lambda t: t.replace("}}\n }\n}", "}},\n }\n}"),
    "a missing comma": lambda t: t.replace('},\n  "t200": ', '}\n  "t200": '),
    "text after the document": lambda t: t + "x",
    "a missing brace at the end": lambda t: t[: t.rindex("}")],
    "a line cut short": lambda t: _replace_line(t, "t150", '  "t150": {"status": "succ'),
    # JSON, laid out otherwise: read whole, the same values.
    "spaces after the document": lambda t: t + "  \n\n",
    "data over several lines": lambda t: _replace_line(
        t, "t150", '  "t150": {"status": "failure", "data": {"a": [1,\n 2],\n "b": {}}}'
    ),
    "a result over several lines": lambda t: _replace_line(
        t, "t150", '  "t150": {\n"status": "skipped",\n"message": "no"\n}'
    ),
    "windows line ends": lambda t: t.replace("\n", "\r\n"),
    "a key after the results": lambda t: t.replace("\n }\n}", '\n },\n "extra": 1\n}'),
    "a task named twice": lambda t: t.replace('  "t350": ', '  "t20": '),
    "a task named twice, the first time wrongly": lambda t: _replace_line(
        t, "t20", '  "t20": {"status": "done"}'
    ).replace('  "t350": ', '  "t20": '),
    "an integer beyond 64 bits": lambda t: _replace_line(
        t, "t150", '  "t150": {"status": "success", "data": [18446744073709551616, 2]}'
    ),
    "a results key in the header": lambda t: t.replace(
        ' "status": "paused",', ' "status": "paused",\n "results": {\n "x": 1},'
    ),
    "version 1": lambda t: t.replace('"version": 2', '"version": 1'),
    # Wrong values: the same one-line error.
    "a bad status": lambda t: t.replace(
        '  "t250": {"status": "success"', '  "t250": {"status": "ok"'
    ),
    "a bad time": lambda t: _replace_line(
        t,
        "t300",
        '  "t300": {"status": "success", "metrics": {"duration_ms": 1.0, "attempts": 1, '
        '"started_at": "2024-02-30T00:00:00+00:00", "finished_at": "2024-02-29T00:00:00+00:00"}}',
    ),
    "an empty name": lambda t: t.replace('  "t301": ', '  "": '),
    "a bad header and a bad result": lambda t: t.replace(
        '"format": "flow-tui-snapshot"', '"format": "other"'
    ).replace('  "t250": {"status": "success"', '  "t250": {"status": "ok"'),
    "a bad status of the run": lambda t: t.replace('"status": "paused"', '"status": "odd"'),
    "a bad task list": lambda t: t.replace('"tasks": [', '"tasks": [0, '),
}


@pytest.mark.parametrize("edit", EDITS)
def test_an_edited_file_reads_as_it_does_whole(
    edit: str, small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = written().decode("utf-8")
    edited = EDITS[edit](text)
    assert edited != text
    by_pieces, whole = read_both(edited.encode("utf-8"), monkeypatch)
    assert_identical(by_pieces, whole)


def test_the_errors_name_the_field_and_the_file(
    small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = EDITS["a bad time"](written().decode("utf-8")).encode("utf-8")
    by_pieces, _ = read_both(raw, monkeypatch)
    assert by_pieces == (
        "SnapshotError: run.json: results.t300.metrics.started_at is not an ISO 8601 time: "
        "'2024-02-30T00:00:00+00:00'"
    )


def test_bytes_that_are_not_utf8_in_a_piece(
    small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = written().replace(b'  "t222": ', b'  "t\xff222": ')
    by_pieces, whole = read_both(raw, monkeypatch)
    assert isinstance(by_pieces, str) and by_pieces.startswith("SnapshotError: run.json: not UTF-8")
    assert by_pieces == whole


@pytest.mark.parametrize("depth", range(1018, 1026))
def test_data_nested_near_the_parsers_limit(
    depth: int, small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A piece is parsed at the depth its results have in the whole document.
    nested = "[" * depth + "]" * depth
    text = _replace_line(
        written().decode("utf-8"), "t150", f'  "t150": {{"status": "failure", "data": {nested}}}'
    )
    by_pieces, whole = read_both(text.encode("utf-8"), monkeypatch)
    if isinstance(by_pieces, str) or isinstance(whole, str):
        assert by_pieces == whole
        return
    assert depth_of(by_pieces.results["t150"].data) == depth_of(whole.results["t150"].data)
    for data in (by_pieces.results.pop("t150").data, whole.results.pop("t150").data):
        assert depth_of(data) == depth
    assert_identical(by_pieces, whole)


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    return depth
