"""Snapshot documents: JSON/TOML/dict round trips, atomic save/load, non-JSON data, and
malformed input."""

from __future__ import annotations

import json
import os
import tomllib
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from snapshot_equality import assert_same

from flow_tui import Snapshot, SnapshotError, TaskMetrics, TaskResult, TaskStatus
from flow_tui.snapshot import FORMAT_NAME, FORMAT_VERSION, SnapshotDataWarning

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)

AWKWARD_DATA: list[Any] = [
    None,
    0,
    -1,
    2**64 + 1,
    -(2**70),
    10**40,
    [2**63, 2**63 - 1, -(2**63), -(2**63) - 1],
    1.5,
    -0.25,
    1e300,
    True,
    False,
    "",
    "héllo wörld ✓ 日本語 🎉",
    'quotes " and \\ backslash\nnewline\ttab \x00 nul \x7f del',
    [],
    {},
    [None, [None, {"k": None}]],
    {"nested": {"list": [1, "two", 3.0, None, {"deep": [[], {}]}]}},
    {"": "empty key", "a.b": 1, "with space": 2, "ünï": 3, "[x]": 4},
    [{"a": 1}, {"b": 2}],
    [{"a": 1}, 2, "three"],
    {"data_json": "not special", "data": None},
]


def sample(data: Any = None, **kw: Any) -> Snapshot:
    results = {
        "extract": TaskResult(
            TaskStatus.SUCCESS,
            message="read 3 rows",
            data=data,
            metrics=TaskMetrics(T0, T0 + timedelta(seconds=2), 2000.5, 1),
        ),
        "transform": TaskResult(
            TaskStatus.FAILURE,
            error="bad row",
            traceback='Traceback (most recent call last):\n  File "x.py"\nValueError: bad row\n',
            metrics=TaskMetrics(T0, T0, 0.0, 3),
        ),
        "load": TaskResult(
            TaskStatus.SKIPPED, message="skipped because dependency 'transform' failed"
        ),
        "report": TaskResult(TaskStatus.CANCELLED, message="cancelled"),
    }
    defaults: dict[str, Any] = {
        "results": results,
        "workflow": "nightly-etl",
        "fingerprint": "sha256:0123456789abcdef",
        "versions": {"extract": "1", "transform": None, "load": "v2", "report": None, "mail": None},
        "interrupted": ["mail"],
        "tasks": ["extract", "transform", "load", "report", "mail"],
        "created_at": T0,
        "status": "paused",
    }
    defaults.update(kw)
    return Snapshot(**defaults)


ROUND_TRIPS = {
    "json": lambda s: Snapshot.from_json(s.to_json()),
    "toml": lambda s: Snapshot.from_toml(s.to_toml()),
    "dict": lambda s: Snapshot.from_dict(s.to_dict()),
    "dict-via-json": lambda s: Snapshot.from_dict(json.loads(json.dumps(s.to_dict()))),
}


@pytest.mark.parametrize("via", list(ROUND_TRIPS))
def test_full_snapshot_round_trips(via: str) -> None:
    snap = sample({"rows": 3}, context={"cursor": None, "seen": [1, 2**65]})
    assert_same(snap, ROUND_TRIPS[via](snap))


@pytest.mark.parametrize("via", ["json", "toml"])
@pytest.mark.parametrize("data", AWKWARD_DATA, ids=lambda d: repr(d)[:30])
def test_data_is_lossless_in_both_formats(via: str, data: Any) -> None:
    snap = sample(data)
    back = ROUND_TRIPS[via](snap).results["extract"]
    assert back.data == data
    assert type(back.data) is type(data)
    assert back.data_is_repr is False
    # And the context, which is stored the same way.
    assert ROUND_TRIPS[via](sample(context=data)).context == data


def test_big_integers_stay_integers() -> None:
    data = {"big": 2**64 + 7, "neg": -(2**80), "list": [2**100]}
    for via in ("json", "toml"):
        back = ROUND_TRIPS[via](sample(data)).results["extract"].data
        assert back == data
        assert isinstance(back["big"], int)


def test_the_documents_are_plain_json_and_toml() -> None:
    snap = sample([1, None])
    doc = json.loads(snap.to_json())
    assert doc["format"] == FORMAT_NAME
    assert doc["version"] == FORMAT_VERSION
    assert doc["workflow"] == "nightly-etl"
    assert doc["fingerprint"] == "sha256:0123456789abcdef"
    assert doc["status"] == "paused"
    assert doc["interrupted"] == ["mail"]
    assert doc["results"]["extract"]["status"] == "success"
    assert doc["results"]["extract"]["data"] == [1, None]
    assert doc["results"]["extract"]["metrics"]["attempts"] == 1
    toml_doc = tomllib.loads(snap.to_toml())
    assert toml_doc["format"] == FORMAT_NAME
    assert toml_doc["results"]["transform"]["error"] == "bad row"


def test_times_are_aware_utc_after_loading() -> None:
    plus2 = timezone(timedelta(hours=2))
    snap = sample(created_at=datetime(2024, 5, 1, 14, 0, tzinfo=plus2))
    for via in ("json", "toml"):
        back = ROUND_TRIPS[via](snap)
        assert back.created_at == snap.created_at
        assert back.created_at.utcoffset() == timedelta(0)
        m = back.results["extract"].metrics
        assert m is not None and m.started_at == T0
        assert m.started_at.tzinfo is not None and m.started_at.utcoffset() == timedelta(0)


def test_traceback_and_messages_survive() -> None:
    snap = sample()
    for via in ("json", "toml"):
        back = ROUND_TRIPS[via](snap).results
        assert back["transform"].traceback == snap.results["transform"].traceback
        assert back["load"].message == snap.results["load"].message
        assert back["report"].metrics is None


def test_empty_snapshot_round_trips() -> None:
    snap = Snapshot(created_at=T0)
    for via in ("json", "toml", "dict"):
        back = ROUND_TRIPS[via](snap)
        assert back.results == {}
        assert back.status == "pending"
        assert back.context is None


# -- data that is not JSON-compatible --------------------------------------------------


class Custom:
    def __repr__(self) -> str:
        return "Custom()"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({1, 2}, "set"),
        (Custom(), "Custom"),
        ({"rows": [1, {"when": datetime(2024, 1, 1)}]}, "['rows'][1]['when']"),
        ({1: "int key"}, "[1]"),
        ((1, 2), "tuple"),
    ],
    ids=["set", "object", "nested-datetime", "int-key", "tuple"],
)
@pytest.mark.parametrize("via", ["json", "toml"])
def test_non_json_data_is_saved_as_repr_with_a_warning(data: Any, path: str, via: str) -> None:
    snap = sample(data)
    with pytest.warns(SnapshotDataWarning) as record:
        back = ROUND_TRIPS[via](snap)
    message = str(record[0].message)
    assert "'extract'" in message
    assert path in message
    loaded = back.results["extract"]
    assert loaded.data == repr(data)
    assert loaded.data_is_repr is True
    # The in-memory result is untouched.
    assert snap.results["extract"].data is data
    # A repr survives further round trips without new warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ROUND_TRIPS[via](back).results["extract"]
    assert again.data == repr(data) and again.data_is_repr is True


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_text_that_utf8_cannot_hold_still_saves(tmp_path: Path, suffix: str) -> None:
    # A lone surrogate, as os.fsdecode makes from a file name that is not UTF-8.
    bad = "no such file '/data/r\udcffsum\u00e9.csv'"
    snap = Snapshot(
        results={
            "read": TaskResult(TaskStatus.FAILURE, error=bad, message=bad, traceback=bad),
            "list": TaskResult(TaskStatus.SUCCESS, data={"files": [bad]}),
        },
        created_at=T0,
    )
    with pytest.warns(SnapshotDataWarning, match="'list'"):
        snap.save(tmp_path / f"run{suffix}")
    back = Snapshot.load(tmp_path / f"run{suffix}").results
    assert back["read"].error == "no such file '/data/r\\udcffsum\u00e9.csv'"
    assert back["read"].traceback == back["read"].error
    assert back["list"].data_is_repr is True
    assert back["list"].data == repr({"files": [bad]})


def test_json_compatible_data_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample({"a": [1, None, "x"]}).to_json()
        sample({"a": [1, None, "x"]}).to_toml()


# -- save / load -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".toml", ".JSON"])
def test_save_and_load(tmp_path: Path, suffix: str) -> None:
    snap = sample({"n": [None, 2**70, "é"]}, context={"k": None})
    target = tmp_path / f"checkpoint{suffix}"
    written = snap.save(target)
    assert Path(written) == target
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert_same(snap, Snapshot.load(target))
    assert_same(snap, Snapshot.load(str(target)))
    text = target.read_text(encoding="utf-8")
    if suffix.lower() == ".json":
        json.loads(text)
    else:
        tomllib.loads(text)


def test_save_replaces_an_existing_file_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "run.toml"
    sample("first").save(target)
    os.chmod(target, 0o600)
    sample("second").save(target)
    assert Snapshot.load(target).results["extract"].data == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["run.toml"]
    assert target.stat().st_mode & 0o777 == 0o600


def test_save_to_a_missing_folder_raises_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "run.json"
    with pytest.raises(SnapshotError) as info:
        sample().save(target)
    assert "missing" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_save_with_an_unknown_suffix_raises(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as info:
        sample().save(tmp_path / "run.yaml")
    assert "run.yaml" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_temp_file_and_keeps_what_was_there(tmp_path: Path) -> None:
    # The final rename fails: the target is a folder with a file in it.
    target = tmp_path / "run.json"
    target.mkdir()
    (target / "keep.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(SnapshotError) as info:
        sample("bad").save(target)
    assert "run.json" in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert (target / "keep.txt").read_text(encoding="utf-8") == "precious"


def test_load_problems_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(SnapshotError, match=r"nope\.json"):
        Snapshot.load(missing)
    with pytest.raises(SnapshotError, match="folder"):
        Snapshot.load(tmp_path)
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(b"\xff\xfe not text")
    with pytest.raises(SnapshotError, match=r"garbage\.toml"):
        Snapshot.load(garbage)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"format": "flow-tui-snapshot", ', encoding="utf-8")
    with pytest.raises(SnapshotError, match=r"bad\.json"):
        Snapshot.load(bad_json)


# -- malformed input -------------------------------------------------------------------


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = json.loads(json.dumps(sample({"x": 1}).to_dict()))
    for key, value in changes.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def with_result(**changes: Any) -> dict[str, Any]:
    d = doc()
    d["results"]["extract"].update(changes)
    return d


MALFORMED_DOCS: dict[str, Any] = {
    "list": [],
    "string": "snapshot",
    "null": None,
    "no-format": doc(format=...),
    "wrong-format": doc(format="something-else"),
    "format-list": doc(format=["flow-tui-snapshot"]),
    "newer-version": doc(version=FORMAT_VERSION + 1),
    "version-string": doc(version="2"),
    "version-bool": doc(version=True),
    "version-zero": doc(version=0),
    "results-list": doc(results=[1, 2]),
    "result-string": doc(results={"a": "success"}),
    "status-unknown": with_result(status="done"),
    "status-missing": with_result(status=None),
    "status-list": with_result(status=["success"]),
    "run-status-list": doc(status=["running"]),
    "run-status-dict": doc(status={"a": 1}),
    "run-status-unknown": doc(status="exploded"),
    "message-int": with_result(message=3),
    "error-list": with_result(error=["x"]),
    "metrics-list": with_result(metrics=[1]),
    "duration-string": with_result(metrics={"duration_ms": "fast"}),
    "duration-nan": with_result(metrics={"duration_ms": float("nan")}),
    "attempts-negative": with_result(metrics={"attempts": -1}),
    "attempts-float": with_result(metrics={"attempts": 1.5}),
    "started-garbage": with_result(metrics={"started_at": "yesterday"}),
    "started-int": with_result(metrics={"started_at": 12}),
    "data-is-repr-string": with_result(data_is_repr="yes"),
    "tasks-string": doc(tasks="extract"),
    "tasks-ints": doc(tasks=[1, 2]),
    "interrupted-dict": doc(interrupted={"a": 1}),
    "versions-list": doc(versions=["1"]),
    "versions-int": doc(versions={"extract": 1}),
    "created-garbage": doc(created_at="not a time"),
    "created-list": doc(created_at=[2024]),
    "workflow-int": doc(workflow=5),
    "fingerprint-dict": doc(fingerprint={}),
    "empty-task-name": doc(results={"": {"status": "success"}}),
}


@pytest.mark.parametrize("name", list(MALFORMED_DOCS))
def test_malformed_documents_raise_snapshot_error(name: str) -> None:
    document = MALFORMED_DOCS[name]
    with pytest.raises(SnapshotError):
        Snapshot.from_dict(document)
    with pytest.raises(SnapshotError):
        Snapshot.from_json(json.dumps(document))


def test_newer_version_says_to_upgrade() -> None:
    with pytest.raises(SnapshotError, match="newer"):
        Snapshot.from_json(json.dumps(doc(version=FORMAT_VERSION + 1)))


def test_wrong_format_name_is_named() -> None:
    with pytest.raises(SnapshotError, match="something-else"):
        Snapshot.from_json(json.dumps(doc(format="something-else")))


MALFORMED_JSON = [
    "",
    "   ",
    "garbage",
    "{",
    "[1, 2",
    '{"format": "flow-tui-snapshot", "version": 2, "results": {"a": {"status": "success", '
    '"data": ' + "1" * 5000 + "}}}",
    "[" * 100_000 + "]" * 100_000,
    '"just a string"',
    "12",
    "NaN",
    "\ufeff{}",
]

MALFORMED_TOML = [
    "= no key",
    "[[[",
    'format = "flow-tui-snapshot"\nversion = 2\nformat = "again"',
    'format = "flow-tui-snapshot"\nversion = 2\n[results.a]\nstatus = "success"\ndata = 1970-01-01',
    'format = "flow-tui-snapshot"\nversion = 2\n[results.a]\nstatus = "success"\ndata_json = 5',
    'format = "flow-tui-snapshot"\nversion = 2\n[results.a]\nstatus = "success"\n'
    'data_json = "{broken"',
    'format = "flow-tui-snapshot"\nversion = 2\ncontext_json = "[1,"',
    'format = "flow-tui-snapshot"\nversion = 2\ncontext = 1979-05-27T07:32:00',
    'format = "flow-tui-snapshot"\nversion = 2\nresults = 3',
    "x = " + "9" * 5000,
    'format = "flow-tui-snapshot"\nversion = 2\nstatus = ["running"]',
    "json = {",
    "a = " + "[" * 100_000 + "]" * 100_000,
]


@pytest.mark.parametrize("text", MALFORMED_JSON, ids=lambda t: repr(t)[:30])
def test_malformed_json_text_raises_snapshot_error(text: str) -> None:
    with pytest.raises(SnapshotError):
        Snapshot.from_json(text)
    with pytest.raises(SnapshotError):
        Snapshot.from_json(text.encode("utf-8"))


@pytest.mark.parametrize("text", MALFORMED_TOML, ids=lambda t: repr(t)[:30])
def test_malformed_toml_text_raises_snapshot_error(text: str) -> None:
    with pytest.raises(SnapshotError):
        Snapshot.from_toml(text)


def test_bytes_that_are_not_utf8_raise_snapshot_error() -> None:
    with pytest.raises(SnapshotError, match="UTF-8"):
        Snapshot.from_json(b'{"format": "\xff"}')
    with pytest.raises(SnapshotError, match="UTF-8"):
        Snapshot.from_toml(b'format = "\xff"')


def test_json_in_toml_clothing_and_vice_versa() -> None:
    with pytest.raises(SnapshotError):
        Snapshot.from_toml(sample().to_json())
    with pytest.raises(SnapshotError):
        Snapshot.from_json(sample().to_toml())


def test_loading_never_executes_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = {
        **doc(),
        "results": {
            "a": {
                "status": "success",
                "data": f"__import__('pathlib').Path({str(marker)!r}).touch()",
                "data_is_repr": True,
            }
        },
    }
    snap = Snapshot.from_json(json.dumps(payload))
    assert snap.results["a"].data_is_repr is True
    assert isinstance(snap.results["a"].data, str)
    assert not marker.exists()


def test_version_1_documents_are_upgraded() -> None:
    old = {
        "format": FORMAT_NAME,
        "version": 1,
        "state": "finished",
        "results": {"a": {"status": "success", "data": 1}},
    }
    snap = Snapshot.from_dict(old)
    assert snap.status == "finished"
    assert snap.tasks == ["a"]
    assert snap.interrupted == []
    assert snap.results["a"].data == 1


def test_missing_versions_mean_no_version() -> None:
    snap = Snapshot(results={"a": TaskResult(TaskStatus.SUCCESS)}, versions={}, created_at=T0)
    for via in ("json", "toml"):
        assert ROUND_TRIPS[via](snap).versions == {"a": None}


def test_counts() -> None:
    assert sample().counts() == {"success": 1, "failure": 1, "skipped": 1, "cancelled": 1}
