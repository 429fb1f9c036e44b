"""Fuzzing the loaders a resume goes through: a checkpoint file (JSON, TOML) and its
journal. Whatever the bytes, the outcome is a loaded Snapshot or a SnapshotError, and a
journal, whatever it holds, never stops a valid checkpoint file from loading."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from ckhelpers import end_record, journal_records, start_record, success, write_checkpoint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_tui import Snapshot, SnapshotError, TaskMetrics, TaskResult, TaskStatus
from flow_tui.snapshot.journal import journal_path
from flow_tui.snapshot.render import CheckpointRenderer

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SUFFIXES = [".json", ".toml"]


def load_outcome(path: Path) -> Snapshot | SnapshotError:
    """Snapshot.load, with the only error it may raise turned into a value."""
    try:
        return Snapshot.load(path)
    except SnapshotError as exc:
        assert str(exc), "a SnapshotError says what is wrong"
        return exc


def sample_snapshot() -> Snapshot:
    from datetime import UTC, datetime

    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    return Snapshot(
        results={
            "extract": success(),
            "load[1]": TaskResult(
                TaskStatus.FAILURE,
                error="boom\n",
                traceback="Traceback...",
                metrics=TaskMetrics(when, when, 1.5, 2),
            ),
            "ünï": TaskResult(TaskStatus.SUCCESS, data={"rows": [1, 2.5, None, "x"], "n": 2**70}),
            "skip": TaskResult(TaskStatus.SKIPPED, message="condition was false"),
        },
        workflow="fuzz",
        fingerprint="sha256:0123456789abcdef",
        versions={"extract": "1", "load[1]": None},
        interrupted=["late"],
        tasks=["extract", "load[1]", "ünï", "skip", "late"],
        context={"day": "2026-01-02"},
        checkpoint_id="c0ffee",
    )


def valid_file(suffix: str) -> bytes:
    return CheckpointRenderer(suffix).render(sample_snapshot())


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# -- checkpoint files ---------------------------------------------------------------


@FUZZ
@given(raw=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes_as_a_checkpoint_file(raw: bytes, suffix: str, folder: Path) -> None:
    path = folder / f"any{suffix}"
    path.write_bytes(raw)
    load_outcome(path)


@FUZZ
@given(text=st.text(max_size=300), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_text_as_a_checkpoint_file(text: str, suffix: str, folder: Path) -> None:
    path = folder / f"text{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    load_outcome(path)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["success", "failure", "1970-01-01T00:00:00", "0001-01-01T00:00:00+01:00"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "metrics",
                    "started_at",
                    "finished_at",
                    "duration_ms",
                    "attempts",
                    "data",
                    "data_json",
                    "message",
                    "error",
                    "data_is_repr",
                    "x",
                ]
            )
            | st.text(max_size=5),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@FUZZ
@given(
    key=st.sampled_from(
        [
            "results",
            "status",
            "tasks",
            "interrupted",
            "versions",
            "created_at",
            "context",
            "context_json",
            "workflow",
            "fingerprint",
            "checkpoint_id",
            "version",
            "format",
        ]
    ),
    value=json_values,
    suffix=st.sampled_from(SUFFIXES),
)
def test_a_valid_document_with_one_field_replaced(
    key: str, value: Any, suffix: str, folder: Path
) -> None:
    doc = json.loads(valid_file(".json"))
    doc[key] = value
    path = folder / f"field{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(doc))
    else:
        import tomli_w

        try:
            path.write_text(tomli_w.dumps(_toml_able(doc)))
        except (TypeError, ValueError):
            return  # not expressible in TOML
    load_outcome(path)


def _toml_able(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _toml_able(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_able(v) for v in value if v is not None]
    return value


@FUZZ
@given(
    suffix=st.sampled_from(SUFFIXES),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "set", "delete", "insert"]),
            st.integers(0, 10**6),
            st.integers(0, 255),
            st.integers(1, 8),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_valid_file_with_mutated_bytes(
    suffix: str, edits: list[tuple[str, int, int, int]], folder: Path
) -> None:
    raw = bytearray(valid_file(suffix))
    for kind, position, value, length in edits:
        at = position % (len(raw) + 1)
        if kind == "flip" and at < len(raw):
            raw[at] ^= 1 << (value % 8)
        elif kind == "set" and at < len(raw):
            raw[at] = value
        elif kind == "delete":
            del raw[at : at + length]
        elif kind == "insert":
            raw[at:at] = bytes([value]) * length
    path = folder / f"mutated{suffix}"
    path.write_bytes(bytes(raw))
    journal_path(path).unlink(missing_ok=True)
    load_outcome(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_valid_file_cut_at_every_byte(suffix: str, tmp_path: Path) -> None:
    raw = valid_file(suffix)
    path = tmp_path / f"cut{suffix}"
    loaded = 0
    for cut in range(len(raw) + 1):
        path.write_bytes(raw[:cut])
        if isinstance(load_outcome(path), Snapshot):
            loaded += 1
    assert isinstance(load_outcome(path), Snapshot)  # the whole file loads
    assert loaded >= 1


# -- journals -----------------------------------------------------------------------


def _records() -> list[bytes]:
    return [
        start_record("extract"),
        end_record("extract", success()),
        start_record("late"),
        end_record("late", TaskResult(TaskStatus.FAILURE, error="x", data=[1, {"a": None}])),
        start_record("skip"),
    ]


_VALID_JOURNAL: dict[Path, bytes] = {}


def _checkpoint_with_journal(folder: Path, suffix: str, journal: bytes | None = None) -> Path:
    """A valid checkpoint file (written once) with `journal` beside it (None: a valid
    journal of a few records)."""
    path = folder / f"with-journal{suffix}"
    if path not in _VALID_JOURNAL:
        write_checkpoint(path, _records(), sample_snapshot())
        _VALID_JOURNAL[path] = journal_records(path)
    journal_path(path).write_bytes(_VALID_JOURNAL[path] if journal is None else journal)
    return path


def _crc_line(payload: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


@FUZZ
@given(raw=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes_as_a_journal_never_stop_a_load(
    raw: bytes, suffix: str, folder: Path
) -> None:
    header = _crc_line(b'{"k": "h", "id": "c0ffee"}')
    for journal in (raw, header + raw):
        path = _checkpoint_with_journal(folder, suffix, journal)
        assert isinstance(Snapshot.load(path), Snapshot)


@FUZZ
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {"k": st.sampled_from(["s", "e", "h", "x"]) | json_values},
            optional={
                "t": st.sampled_from(["extract", "late", "new"]) | json_values,
                "r": json_values,
                "id": st.just("c0ffee") | json_values,
            },
        ),
        max_size=8,
    ),
    suffix=st.sampled_from(SUFFIXES),
)
def test_well_formed_records_with_any_content_never_stop_a_load(
    records: list[dict[str, Any]], suffix: str, folder: Path
) -> None:
    header = _crc_line(b'{"k": "h", "id": "c0ffee"}')
    lines = []
    for record in records:
        try:
            payload = json.dumps(record, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            continue
        lines.append(_crc_line(payload))
    path = _checkpoint_with_journal(folder, suffix, header + b"".join(lines))
    loaded = Snapshot.load(path)
    assert isinstance(loaded, Snapshot)
    assert all(isinstance(r, TaskResult) for r in loaded.results.values())


@FUZZ
@given(
    suffix=st.sampled_from(SUFFIXES),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "delete", "insert"]),
            st.integers(0, 10**6),
            st.integers(0, 255),
            st.integers(1, 6),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_valid_journal_with_mutated_bytes(
    suffix: str, edits: list[tuple[str, int, int, int]], folder: Path
) -> None:
    path = _checkpoint_with_journal(folder, suffix)
    raw = bytearray(journal_path(path).read_bytes())
    for kind, position, value, length in edits:
        at = position % (len(raw) + 1)
        if kind == "flip" and at < len(raw):
            raw[at] ^= 1 << (value % 8)
        elif kind == "delete":
            del raw[at : at + length]
        elif kind == "insert":
            raw[at:at] = bytes([value]) * length
    journal_path(path).write_bytes(bytes(raw))
    loaded = Snapshot.load(path)
    # A damaged record is dropped, never invented: every result is one that was written.
    assert set(loaded.results) <= {"extract", "load[1]", "ünï", "skip", "late"}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_valid_journal_cut_at_every_byte(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"jc{suffix}"
    write_checkpoint(path, _records(), sample_snapshot())
    raw = journal_records(path)
    seen = set()
    for cut in range(len(raw) + 1):
        journal_path(path).write_bytes(raw[:cut])
        loaded = Snapshot.load(path)
        seen.add(tuple(sorted(loaded.interrupted)))
    assert len(seen) > 2  # the cuts did change what loads, record by record
