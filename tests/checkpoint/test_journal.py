"""The journal beside a checkpoint: how it is folded in, and that no tear breaks a load."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from ckhelpers import end_record, journal_records, start_record, statuses, success, write_checkpoint

from flow_tui import Snapshot, SnapshotError, TaskResult, TaskStatus
from flow_tui.snapshot import journal
from flow_tui.snapshot.journal import JournalWriter, encode_header, journal_path


@pytest.fixture(params=["json", "toml"])
def ck(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"ck.{request.param}"


def test_ends_become_results_and_starts_without_an_end_are_interrupted(ck: Path) -> None:
    failed = TaskResult(TaskStatus.FAILURE, error="boom")
    write_checkpoint(
        ck,
        [
            start_record("a"),
            start_record("b"),
            end_record("a", success()),
            start_record("c"),
            end_record("c", failed),
        ],
    )
    loaded = Snapshot.load(ck)
    assert statuses(loaded) == {"a": "success", "c": "failure"}
    assert loaded.results["c"].error == "boom"
    assert loaded.interrupted == ["b"]


def test_a_cancelled_end_after_a_start_stays_interrupted_until_a_real_end(ck: Path) -> None:
    cut = TaskResult(TaskStatus.CANCELLED, message="interrupted by pause")
    write_checkpoint(ck, [start_record("a"), end_record("a", cut)])
    loaded = Snapshot.load(ck)
    assert statuses(loaded) == {"a": "cancelled"}
    assert loaded.interrupted == ["a"]  # its body may have partly run
    write_checkpoint(ck, [start_record("a"), end_record("a", cut), start_record("a")])
    assert Snapshot.load(ck).interrupted == ["a"]
    write_checkpoint(
        ck, [start_record("a"), end_record("a", cut), start_record("a"), end_record("a", success())]
    )
    loaded = Snapshot.load(ck)
    assert statuses(loaded) == {"a": "success"}
    assert loaded.interrupted == []


def test_interrupted_in_the_file_ends_with_a_later_end_record(ck: Path) -> None:
    base = Snapshot(workflow="w", tasks=["a", "b"], interrupted=["a", "b"])
    write_checkpoint(ck, [start_record("a"), end_record("a", success())], base)
    loaded = Snapshot.load(ck)
    assert loaded.interrupted == ["b"]
    assert statuses(loaded) == {"a": "success"}


def test_a_success_started_again_and_not_ended_is_void(ck: Path) -> None:
    # A re-run of a kept success (its version changed) was cut off: the old success no
    # longer stands.
    base = Snapshot(results={"a": success()}, workflow="w", tasks=["a"])
    write_checkpoint(ck, [start_record("a")], base)
    loaded = Snapshot.load(ck)
    assert loaded.results == {}
    assert loaded.interrupted == ["a"]


def test_a_journal_of_another_checkpoint_file_is_ignored(ck: Path) -> None:
    write_checkpoint(ck, [start_record("a"), end_record("a", success())], cid="one")
    # The checkpoint was rewritten (new id) but the process died before the new journal.
    snap = Snapshot.load(ck)
    snap.checkpoint_id = "two"
    snap.results = {}
    snap.save(ck)
    assert Snapshot.load(ck).results == {}


def test_a_folded_checkpoint_ignores_a_journal_left_beside_it(ck: Path) -> None:
    write_checkpoint(ck, [start_record("a"), end_record("a", success())])
    final = Snapshot(workflow="w", tasks=["a"])  # no checkpoint_id: folded at a clean exit
    final.save(ck)
    assert Snapshot.load(ck).results == {}


def test_corrupt_lines_are_skipped_and_the_others_applied(ck: Path) -> None:
    good_b = end_record("b", success())
    bad_crc = b"00000000" + end_record("c", success())[8:]
    torn = end_record("d", success())[:30]  # no newline: glued to nothing after a cut
    path = write_checkpoint(ck, [end_record("a", success()), bad_crc, b"garbage\n", good_b])
    with open(path, "ab") as fh:
        fh.write(torn)
    assert statuses(Snapshot.load(ck)) == {"a": "success", "b": "success"}


def test_a_record_that_is_whole_but_unreadable_counts_as_never_written(ck: Path) -> None:
    weird = journal._line('{"k":"e","t":"b","r":{"status":"done"}}')
    far_past = journal._line(
        '{"k":"e","t":"c","r":{"status":"success","metrics":'
        '{"started_at":"0001-01-01T00:00:00+01:00"}}}'
    )
    write_checkpoint(ck, [end_record("a", success()), weird, far_past])
    assert statuses(Snapshot.load(ck)) == {"a": "success"}


def test_reading_stops_at_a_second_header(ck: Path) -> None:
    path = write_checkpoint(
        ck, [end_record("a", success()), encode_header("c0ffee"), end_record("b", success())]
    )
    assert path.exists()
    assert statuses(Snapshot.load(ck)) == {"a": "success"}


def test_a_journal_cut_at_any_byte_loads_exactly_its_whole_records(ck: Path) -> None:
    """A crash mid-append leaves a prefix of the bytes: every prefix loads, and holds the
    records that are whole in it (a torn last record is ignored, never fatal)."""
    records = [
        start_record("a"),
        start_record("b"),
        end_record("a", success()),
        end_record("b", TaskResult(TaskStatus.FAILURE, error="x", data={"k": [1, None]})),
        start_record("c"),
        end_record("c", success()),
    ]
    path = write_checkpoint(ck, records)
    full = journal_records(ck)
    header_len = len(encode_header("c0ffee"))
    bounds = [header_len]
    for record in records:
        bounds.append(bounds[-1] + len(record))
    expected_by_whole = []
    for whole in range(len(records) + 1):
        write_checkpoint(ck, records[:whole])
        expected_by_whole.append(Snapshot.load(ck))
    for cut in range(len(full) + 1):
        # A record is whole once its payload is (its CRC proves it), newline or not.
        whole = sum(1 for b in bounds[1:] if b - 1 <= cut) if cut >= header_len - 1 else 0
        expected = expected_by_whole[whole]
        # The file as an append leaves it, and as the writer's zeros laid ahead leave it.
        for torn in (full[:cut], full[:cut] + bytes(len(full) - cut + 100)):
            path.write_bytes(torn)
            loaded = Snapshot.load(ck)
            assert loaded.results == expected.results, cut
            assert loaded.interrupted == expected.interrupted, cut


def test_a_failed_append_is_cut_back_and_the_journal_stays_usable(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = Snapshot(workflow="w", tasks=["a", "b"], checkpoint_id="c0ffee")
    snap.save(ck)
    writer = JournalWriter(ck, "c0ffee")
    writer.start()
    writer.write(end_record("a", success()))
    before = journal_records(ck)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdatasync", no_space)
    with pytest.raises(SnapshotError) as failure:
        writer.write(end_record("b", success()))
    assert str(journal_path(ck)) in str(failure.value)
    assert "No space left on device" in str(failure.value)
    assert journal_path(ck).read_bytes() == before  # the unsynced record was cut off
    monkeypatch.undo()
    writer.write(end_record("b", success()))
    writer.close()
    assert statuses(Snapshot.load(ck)) == {"a": "success", "b": "success"}


def test_a_name_that_utf8_cannot_hold_is_journaled_as_an_escape(ck: Path) -> None:
    name = "file-\udc80"
    write_checkpoint(ck, [start_record(name), end_record(name, success())])
    loaded = Snapshot.load(ck)
    assert list(loaded.results) == [name]


def test_batches_written_over_the_zeros_laid_ahead_all_load(ck: Path) -> None:
    names = [f"t{i:03d}" for i in range(400)]  # ~80 KB of records: past the first zeros
    Snapshot(workflow="w", tasks=names, checkpoint_id="c0ffee").save(ck)
    writer = JournalWriter(ck, "c0ffee")
    writer.start()
    written = encode_header("c0ffee")
    for i, name in enumerate(names):
        batch = start_record(name) + end_record(name, success())
        writer.write(batch)
        written += batch
        assert journal_records(ck) == written  # each batch right after the one before
        ahead = journal_path(ck).read_bytes()[len(written) :]
        assert ahead and ahead.count(0) == len(ahead)  # zeros ahead of it, nothing else
        if i % 50 == 0 or i == len(names) - 1:
            assert list(Snapshot.load(ck).results) == names[: i + 1]
    writer.close()
    # A new start (a compaction's) empties the file of records and zeros alike.
    writer = JournalWriter(ck, "c0ffee")
    writer.start()
    writer.close()
    assert journal_path(ck).read_bytes() == encode_header("c0ffee")
