"""The compact journal record of plain successes: it folds to exactly what the full
record of the same results folds to, and journals written before it still fold."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ckhelpers import (
    end_record,
    journal_records,
    start_record,
    statuses,
    step,
    workflow,
    write_checkpoint,
)

from flow_tui import Snapshot, TaskResult, TaskStatus
from flow_tui.checkpoint import Checkpointer
from flow_tui.core.model import ClockMetrics
from flow_tui.session import Session, SessionOptions
from flow_tui.snapshot import journal, schema
from flow_tui.snapshot.journal import encode_plain_ends, encode_starts
from flow_tui.snapshot.plain import plain_clock


@pytest.fixture(params=["json", "toml"])
def ck(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"ck.{request.param}"


def clock_success(started_ts: float, elapsed: float, attempts: int = 1) -> TaskResult:
    return TaskResult(
        TaskStatus.SUCCESS, metrics=ClockMetrics.from_clock(started_ts, elapsed, attempts)
    )


# Clock readings at the edges of the formatting: microsecond rounding up into the next
# second, whole seconds, a finish in another second, long durations, retries.
READINGS = [
    (time.time(), 0.000123, 1),
    (1_700_000_000.9999996, 0.0000003, 1),
    (1_700_000_000.0, 0.0, 1),
    (1_700_000_059.999999, 2.5, 3),
    (86_400.5, 3600.0 * 24 * 400, 1),
    (1.0e-7, 1e-9, 0),
]
NAMES = ["a", "b c", 'q"uote', "dé", "tab\there", "\x7f"]


def _flat(named: dict[str, TaskResult]) -> list[str | float | int]:
    flat: list[str | float | int] = []
    for name, result in named.items():
        clock = plain_clock(result)
        assert clock is not None, name
        flat += (name, *clock)
    return flat


def _dicts(snapshot: Snapshot) -> dict[str, Any]:
    return {n: schema.result_to_dict(n, r) for n, r in snapshot.results.items()}


@pytest.mark.parametrize("writer", ["orjson", "json module"])
def test_a_compact_journal_folds_to_the_results_the_full_records_fold_to(
    ck: Path, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if writer == "json module":  # where orjson is missing, or cannot write a name
        monkeypatch.setattr(journal, "orjson", None)
    named = {n: clock_success(*r) for n, r in zip(NAMES, READINGS, strict=True)}
    base = Snapshot(workflow="w", tasks=list(named))
    write_checkpoint(
        ck, [start_record(n) for n in named] + [end_record(n, r) for n, r in named.items()], base
    )
    full = Snapshot.load(ck)
    write_checkpoint(ck, [encode_starts(list(named)), encode_plain_ends(_flat(named))], base)
    compact = Snapshot.load(ck)
    assert full.results == compact.results == named
    assert _dicts(full) == _dicts(compact)  # the same text in a checkpoint file
    assert full.interrupted == compact.interrupted == []
    # and so does the file either one is saved as
    out_full, out_compact = ck.with_name("full" + ck.suffix), ck.with_name("compact" + ck.suffix)
    full.save(out_full)
    compact.save(out_compact)
    assert out_full.read_bytes() == out_compact.read_bytes()


def test_an_old_format_journal_still_folds(ck: Path) -> None:
    """Lines as the writer wrote them before the compact record: one start record per
    batch naming the tasks, one full end record per task."""
    line = journal._line
    records = [
        line('{"k":"s","t":["a","b","c"]}'),
        line(
            '{"k":"e","t":"a","r":{"status": "success", "metrics": {"duration_ms": 1.5, '
            '"attempts": 1, "started_at": "2026-11-29T10:00:00.250000+00:00", '
            '"finished_at": "2026-11-29T10:00:00.251500+00:00"}}}'
        ),
        line('{"k":"e","t":"b","r":{"status": "failure", "error": "boom"}}'),
        line('{"k":"s","t":"d"}'),  # the single-name start of older writers still
    ]
    write_checkpoint(ck, records, Snapshot(workflow="w", tasks=["a", "b", "c", "d"]))
    loaded = Snapshot.load(ck)
    assert statuses(loaded) == {"a": "success", "b": "failure"}
    metrics = loaded.results["a"].metrics
    assert metrics is not None and metrics.duration_ms == 1.5
    assert metrics.started_at is not None and metrics.started_at.isoformat() == (
        "2026-11-29T10:00:00.250000+00:00"
    )
    assert loaded.results["b"].error == "boom"
    assert loaded.interrupted == ["c", "d"]


def test_compact_and_full_records_mix_in_the_order_the_tasks_ended(ck: Path) -> None:
    cut = TaskResult(TaskStatus.CANCELLED, message="interrupted by pause")
    records = [
        encode_starts(["a", "b"]),
        encode_plain_ends(_flat({"a": clock_success(1_700_000_000.5, 0.001)})),
        end_record("b", cut),
        encode_starts(["b"]),
        encode_plain_ends(_flat({"b": clock_success(1_700_000_001.5, 0.001)})),
        encode_starts(["a"]),  # re-running: its older success is void
    ]
    write_checkpoint(ck, records, Snapshot(workflow="w", tasks=["a", "b"]))
    loaded = Snapshot.load(ck)
    assert statuses(loaded) == {"b": "success"}
    assert loaded.interrupted == ["a"]


def test_an_unreadable_entry_of_a_compact_record_is_skipped_alone(ck: Path) -> None:
    entries = [
        "a", 1_700_000_000.5, 1.0, 1,
        "b", "1700000000.5", 1.0, 1,  # a time as text
        "c", 1_700_000_000.5, 1.0, -1,  # negative attempts
        "d", -5.0, 1.0, 1,  # before 1970
        "e", 1_700_000_000.5, 2.0, 2,
    ]  # fmt: skip
    odd = journal._line('{"k":"p","e":["x",1.0,1.0]}')  # not four values each: all skipped
    write_checkpoint(ck, [journal._line('{"k":"p","e":%s}' % json.dumps(entries)), odd])
    assert statuses(Snapshot.load(ck)) == {"a": "success", "e": "success"}


def test_only_plain_successes_of_the_executor_take_the_compact_form() -> None:
    assert plain_clock(clock_success(1_700_000_000.5, 0.001)) is not None
    assert plain_clock(TaskResult(TaskStatus.FAILURE, error="x")) is None
    with_data = clock_success(1_700_000_000.5, 0.001)
    with_data.data = {"k": 1}
    assert plain_clock(with_data) is None
    assert plain_clock(clock_success(1_700_000_000.5, float("inf"))) is None
    assert plain_clock(clock_success(1e12, 0.001)) is None  # past the year 9999
    from_file = schema.from_dict(
        schema.to_dict(Snapshot(results={"a": clock_success(1_700_000_000.5, 0.001)}))
    )
    assert plain_clock(from_file.results["a"]) is None  # metrics as datetimes: full record


def test_the_checkpointer_keeps_the_records_in_the_order_the_tasks_ended(tmp_path: Path) -> None:
    ck = tmp_path / "ck.json"
    checkpointer = Checkpointer(ck, lambda: Snapshot(workflow="w"))
    ends = [
        ("a", clock_success(1_700_000_000.5, 0.001)),
        ("b", TaskResult(TaskStatus.FAILURE, error="boom")),
        ("c", clock_success(1_700_000_000.7, 0.001)),
        ("d", clock_success(1_700_000_000.8, 0.001)),
    ]
    for name, _ in ends:
        checkpointer._on_start(SimpleNamespace(step=SimpleNamespace(name=name)))  # type: ignore[arg-type]
    for name, result in ends:
        event = SimpleNamespace(step=SimpleNamespace(name=name), result=result)
        checkpointer._on_end(event)  # type: ignore[arg-type]
    lines = checkpointer._take().decode().splitlines()
    kinds = [json.loads(line[9:])["k"] for line in lines]
    assert kinds == ["s", "p", "e", "p"]
    assert json.loads(lines[3][9:])["e"][0::4] == ["c", "d"]


async def test_a_run_journals_compact_records_and_loads_them_as_its_results(ck: Path) -> None:
    steps = [step(f"t{i}") for i in range(40)]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck))
    results = await session.run()
    kinds = {json.loads(line[9:])["k"] for line in journal_records(ck).splitlines()}
    assert "p" in kinds and "e" not in kinds
    loaded = Snapshot.load(ck)  # the file of the open plus the journal
    assert loaded.results == results
    await session.close()
    assert Snapshot.load(ck).results == results


def test_a_batch_naming_a_lone_surrogate_is_written_with_its_escape(ck: Path) -> None:
    odd = "file-\udcff"  # from an undecodable file name: not UTF-8, which orjson refuses
    named = {"a": clock_success(1_700_000_000.5, 0.001), odd: clock_success(1.5e9, 0.5)}
    base = Snapshot(workflow="w", tasks=["a", "late"])  # a file cannot hold the name
    write_checkpoint(ck, [encode_starts([*named, "late"]), encode_plain_ends(_flat(named))], base)
    loaded = Snapshot.load(ck)
    assert loaded.results == named
    assert loaded.interrupted == ["late"]
