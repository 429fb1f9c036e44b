"""The append-only journal beside a checkpoint: one record per task start and end.

A line is `<crc32 as 8 hex digits> <json>`; the first record names the checkpoint file it
extends (`checkpoint_id`), so a journal left over from an older checkpoint is ignored. A
torn or corrupt line is skipped, never fatal: whatever instant the writer died, the
checkpoint loads.

Records: `{"k":"h","id":...}` the header; `{"k":"s","t":[names]}` tasks started (or one
name); `{"k":"e","t":name,"r":result}` a task ended, its result as the snapshot document
holds it; `{"k":"p","e":[name, started_ts, duration_ms, attempts, ...]}` plain successes
recorded by the executor (ClockMetrics), four values each, in the order they ended: the
compact form written since the times are formatted only with a checkpoint file. Every
form is read, whichever wrote the journal.

The writer lays zeros ahead of the records (`JournalWriter.write`) and writes each batch
over them: a sync then flushes data blocks only, with no change of size or block map to
commit. A reader skips the zeros like any line that is not a record.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path
from typing import Any

from flow_tui.core.errors import SnapshotError
from flow_tui.core.model import ClockMetrics, TaskResult, TaskStatus
from flow_tui.core.snapshot import Snapshot
from flow_tui.snapshot.files import describe_os_error, fsync_dir
from flow_tui.snapshot.plain import clock_in_range
from flow_tui.snapshot.schema import plain_result_from_dict, result_from_dict

orjson: Any
try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; the json module writes the same
    orjson = None

JOURNAL_SUFFIX = ".journal"

# Zeros laid ahead of the records: at least FIRST_EXTENT bytes at a time, then as much as
# the records already hold (the file's size at most doubles), never more than MAX_EXTENT.
FIRST_EXTENT = 64 << 10
MAX_EXTENT = 4 << 20
# The zeros go in pieces of a page: written in one go, the kernel keeps them in large
# page-cache folios (2 MB), and every later fdatasync then writes the whole folio a
# batch touched: 646 MB written for a 100k-task run's 75 MB, against 56 MB in pages.
ZEROS_PIECE = 4096


def journal_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + JOURNAL_SUFFIX)


def _line(payload: str) -> bytes:
    # A lone surrogate (from an undecodable file name) becomes its JSON escape.
    data = payload.encode("utf-8", "backslashreplace")
    return b"%08x %s\n" % (zlib.crc32(data), data)


def encode_header(checkpoint_id: str) -> bytes:
    return _line(json.dumps({"k": "h", "id": checkpoint_id}))


# Compact JSON, written in C: a batch's names and clock readings in one call.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _batch_line(head: bytes, values: list[Any]) -> bytes:
    """The record `head` + `values` as JSON + `}`. orjson writes it when it can: the json
    module calls back into Python for each float (about 100 us for the clock readings
    of 64 tasks, against 5). Its text differs from the json module's only in how a
    float's exponent is spelled, which reads back as the same float."""
    if orjson is not None:
        try:
            data = head + orjson.dumps(values) + b"}"
        except TypeError:
            pass  # a name with a lone surrogate: escaped as _line does
        else:
            return b"%08x %s\n" % (zlib.crc32(data), data)
    return _line(head.decode() + _COMPACT.encode(values) + "}")


def encode_starts(names: list[str]) -> bytes:
    """One record for several starts (in the order they happened)."""
    return _batch_line(b'{"k":"s","t":', names)


def encode_end(name_json: str, result_json: str) -> bytes:
    """`result_json` is the result as the snapshot document holds it, already encoded."""
    return _line('{"k":"e","t":%s,"r":%s}' % (name_json, result_json))


def encode_plain_ends(entries: list[str | float | int]) -> bytes:
    """One record for the plain successes of a batch, given flat: name, started_ts,
    duration_ms, attempts for each (finite floats: see `plain.plain_clock`)."""
    return _batch_line(b'{"k":"p","e":', entries)


def _plain_records(entries: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    if type(entries) is not list or len(entries) % 4:
        return records
    for i in range(0, len(entries), 4):
        name, started, duration, attempts = entries[i : i + 4]
        if (
            type(name) is str
            and type(started) is float
            and type(duration) is float
            and type(attempts) is int
            and attempts >= 0
            and clock_in_range(started, duration)
        ):
            records.append({"k": "p", "t": name, "s": started, "d": duration, "a": attempts})
    return records


def read_records(path: Path, checkpoint_id: str | None) -> list[dict[str, Any]]:
    """The valid records of the journal at `path` that extend `checkpoint_id`."""
    if checkpoint_id is None:
        return []  # a checkpoint folded at a clean exit: any journal beside it is stale
    try:
        # Without the zeros laid ahead of the records: a last record whose newline was not
        # written yet reads as whole, as it does at the end of the file.
        raw = path.read_bytes().rstrip(b"\0")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SnapshotError(f"cannot read journal {path}: {describe_os_error(exc)}") from None
    records: list[dict[str, Any]] = []
    header_seen = False
    for line in raw.split(b"\n"):
        if len(line) < 10 or line[8:9] != b" ":
            continue
        payload = line[9:]
        try:
            if int(line[:8], 16) != zlib.crc32(payload):
                continue
            record = json.loads(payload)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        kind = record.get("k")
        if kind == "h":
            if header_seen:
                break  # a journal has one header: what follows a second one is not ours
            if record.get("id") != checkpoint_id:
                return []  # the journal of another (older) checkpoint file
            header_seen = True
            continue
        if not header_seen:
            continue
        if kind == "p":
            records.extend(_plain_records(record.get("e")))
            continue
        if kind not in ("s", "e"):
            continue
        task = record.get("t")
        if isinstance(task, str):
            records.append(record)
        elif kind == "s" and isinstance(task, list):
            records.extend({"k": "s", "t": t} for t in task if isinstance(t, str))
    return records


def fold_journal(snapshot: Snapshot, checkpoint: Path) -> Snapshot:
    """`snapshot` (read from `checkpoint`) with the records of its journal applied.

    A task started and not ended since is interrupted; so is one that ended `cancelled`
    after it started (cut off by a pause or a cancel: its body may have partly run).
    """
    path = journal_path(checkpoint)
    records = read_records(path, snapshot.checkpoint_id)
    if not records:
        return snapshot
    results = dict(snapshot.results)
    interrupted = dict.fromkeys(snapshot.interrupted)
    started: set[str] = set()
    result: TaskResult | None
    for record in records:
        name = record["t"]
        kind = record["k"]
        if kind == "s":
            started.add(name)
            interrupted[name] = None
            continue
        if kind == "p":
            metrics = ClockMetrics.from_clock(record["s"], 0.0, record["a"])
            metrics.duration_ms = record["d"]  # exactly as written, not via seconds
            result = TaskResult(TaskStatus.SUCCESS, metrics=metrics)
        else:
            raw = record.get("r")
            result = plain_result_from_dict(raw)
            if result is None:
                try:
                    result = result_from_dict(name, raw, str(path))
                except (SnapshotError, ValueError, TypeError, OverflowError):
                    continue  # a record that is whole but unreadable counts as never written
        results[name] = result
        if result.status is not TaskStatus.CANCELLED:
            started.discard(name)
            interrupted.pop(name, None)
    for name in started:
        # Started again and never ended: an older success is void, the task was re-running.
        stale = results.get(name)
        if stale is not None and stale.status is TaskStatus.SUCCESS:
            del results[name]
    order = snapshot.tasks or list(results)
    ordered = {n: results[n] for n in order if n in results}
    ordered.update((n, r) for n, r in results.items() if n not in ordered)
    return Snapshot(
        results=ordered,
        workflow=snapshot.workflow,
        fingerprint=snapshot.fingerprint,
        versions=snapshot.versions,
        interrupted=list(interrupted),
        tasks=snapshot.tasks,
        created_at=snapshot.created_at,
        status=snapshot.status,
        context=snapshot.context,
        checkpoint_id=snapshot.checkpoint_id,
        control=snapshot.control,
    )


class JournalWriter:
    """Appends records to the journal of one checkpoint file; each `write` is durable."""

    def __init__(self, checkpoint: Path, checkpoint_id: str) -> None:
        self.path = journal_path(checkpoint)
        self.checkpoint_id = checkpoint_id
        self.created = False
        self._fd: int | None = None
        self._size = 0  # bytes of records (the header first): the next one goes here
        self._end = 0  # bytes of the file: zeros from `_size` on, made durable with a batch

    def _error(self, exc: OSError) -> SnapshotError:
        return SnapshotError(f"cannot write journal {self.path}: {describe_os_error(exc)}")

    def open(self) -> None:
        """Open the journal file, creating it if need be; nothing in it changes yet.

        The checkpoint writer opens it before it replaces the checkpoint file, whose
        folder fsync then makes the journal's name durable too.
        """
        flags = os.O_WRONLY | os.O_CLOEXEC
        try:
            try:
                self._fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
                self.created = True
            except FileExistsError:
                self._fd = os.open(self.path, flags)
        except OSError as exc:
            raise self._error(exc) from None

    def start(self, *, folder_synced: bool = False) -> None:
        """Empty the journal and start it with a header naming `checkpoint_id`, durably.

        Only once the checkpoint file with that id is in place: until then the old
        records may still be needed. A crash midway leaves a journal without a valid
        header, which is ignored like any journal of another checkpoint file.
        """
        if self._fd is None:
            self.open()
        assert self._fd is not None
        header = encode_header(self.checkpoint_id)
        try:
            os.ftruncate(self._fd, 0)
            self._write_at(self._fd, header, 0)
            os.fdatasync(self._fd)
        except OSError as exc:
            raise self._error(exc) from None
        if self.created and not folder_synced:
            fsync_dir(self.path.parent)
        self._size = self._end = len(header)

    def abandon(self) -> None:
        """Close without starting; a journal file this writer created is removed."""
        self.close()
        if self.created:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def write(self, payload: bytes) -> None:
        """Append `payload` (whole records) and make it durable (one fdatasync).

        The records go over zeros laid ahead of them: when they would pass the end of
        the file, they are written with zeros after them (`FIRST_EXTENT`..`MAX_EXTENT`
        bytes, none when the disk has no room for them), made durable by the same
        fdatasync. Every later batch within them changes data blocks only, so its
        fdatasync commits no metadata (on ext4 about half the time of an append that
        grows the file). Until that fdatasync returns, a crash may keep any of the
        batch's records, in any order (each whole or skipped, by its CRC): none of them
        was reported durable yet.
        """
        fd = self._fd
        if fd is None:
            raise SnapshotError(f"journal {self.path} is not open")
        at = self._size
        end = at + len(payload)
        try:
            if end <= self._end:
                self._write_at(fd, payload, at)
            else:
                self._end = end
                extent = min(max(FIRST_EXTENT, at), MAX_EXTENT)
                try:
                    self._write_at(fd, payload, at)
                    self._lay_zeros(fd, end, extent)
                    self._end += extent
                except OSError:
                    # No room for the zeros (a nearly full disk): the records alone, as
                    # an append, so that the run stops no sooner than it must.
                    os.ftruncate(fd, at)
                    self._write_at(fd, payload, at)
            os.fdatasync(fd)
        except OSError as exc:
            # Cut a partly written record off (the zeros after it too), so that nothing
            # written later (after a recovery) is glued to it; if that fails too, the
            # reader skips the torn line.
            self._end = at
            with contextlib.suppress(OSError):
                os.ftruncate(fd, at)
            raise self._error(exc) from None
        self._size = end

    @staticmethod
    def _lay_zeros(fd: int, offset: int, size: int) -> None:
        """`size` zero bytes at `offset`, a page at a time (see ZEROS_PIECE)."""
        zeros = bytes(ZEROS_PIECE)
        stop = offset + size
        while offset < stop:
            piece = min(ZEROS_PIECE, stop - offset)
            JournalWriter._write_at(fd, zeros if piece == ZEROS_PIECE else zeros[:piece], offset)
            offset += piece

    @staticmethod
    def _write_at(fd: int, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
