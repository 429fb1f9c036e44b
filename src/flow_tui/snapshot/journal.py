"""The append-only journal beside a checkpoint: one record per task start and end.

A line is `<crc32 as 8 hex digits> <json>`; the first record names the checkpoint file it
extends (`checkpoint_id`), so a journal left over from an older checkpoint is ignored. A
torn or corrupt line is skipped, never fatal: whatever instant the writer died, the
checkpoint loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from pathlib import Path
from typing import Any

from flow_tui.core.errors import SnapshotError
from flow_tui.core.model import TaskResult, TaskStatus
from flow_tui.core.snapshot import Snapshot
from flow_tui.snapshot.files import describe_os_error, fsync_dir
from flow_tui.snapshot.schema import result_from_dict, result_to_dict

JOURNAL_SUFFIX = ".journal"


def journal_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + JOURNAL_SUFFIX)


def _line(payload: str) -> bytes:
    data = payload.encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(data), data)


def encode_header(checkpoint_id: str) -> bytes:
    return _line(json.dumps({"k": "h", "id": checkpoint_id}))


def encode_start(name_json: str) -> bytes:
    """`name_json` is the task name already JSON-encoded (cached by the writer)."""
    return _line('{"k":"s","t":%s}' % name_json)


def encode_end(name: str, name_json: str, result: TaskResult) -> bytes:
    m = result.metrics
    if (
        result.status is TaskStatus.SUCCESS
        and result.message is None
        and result.error is None
        and result.data is None
        and result.traceback is None
        and m is not None
        and m.started_at is not None
        and m.finished_at is not None
        and m.started_at.utcoffset() is not None
    ):
        # The common case, formatted by hand: it is most of a checkpoint's write cost.
        return _line(
            '{"k":"e","t":%s,"r":{"status":"success","metrics":{"duration_ms":%r,'
            '"attempts":%d,"started_at":"%s","finished_at":"%s"}}}'
            % (
                name_json,
                float(m.duration_ms),
                m.attempts,
                m.started_at.isoformat(),
                m.finished_at.isoformat(),
            )
        )
    record = {"k": "e", "t": name, "r": result_to_dict(name, result)}
    return _line(json.dumps(record, ensure_ascii=False))


def read_records(path: Path, checkpoint_id: str | None) -> list[dict[str, Any]]:
    """The valid records of the journal at `path` that extend `checkpoint_id`."""
    try:
        raw = path.read_bytes()
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
            if header_seen or record.get("id") != checkpoint_id or checkpoint_id is None:
                return []
            header_seen = True
            continue
        if not header_seen or kind not in ("s", "e") or not isinstance(record.get("t"), str):
            continue
        records.append(record)
    return records


def fold_journal(snapshot: Snapshot, checkpoint: Path) -> Snapshot:
    """`snapshot` (read from `checkpoint`) with the records of its journal applied."""
    path = journal_path(checkpoint)
    records = read_records(path, snapshot.checkpoint_id)
    if not records:
        return snapshot
    results = dict(snapshot.results)
    started: set[str] = set()
    ended: set[str] = set()
    for record in records:
        name = record["t"]
        if record["k"] == "s":
            started.add(name)
            continue
        try:
            results[name] = result_from_dict(name, record.get("r"), str(path))
        except SnapshotError:
            continue  # a record that is whole but unreadable counts as never written
        started.discard(name)
        ended.add(name)
    for name in started:
        # Started again and never ended: an older success is void, the task was re-running.
        stale = results.get(name)
        if stale is not None and stale.status is TaskStatus.SUCCESS:
            del results[name]
    interrupted = [n for n in snapshot.interrupted if n not in ended]
    interrupted += sorted(started - set(interrupted))
    order = snapshot.tasks or list(results)
    ordered = {n: results[n] for n in order if n in results}
    ordered.update((n, r) for n, r in results.items() if n not in ordered)
    return Snapshot(
        results=ordered,
        workflow=snapshot.workflow,
        fingerprint=snapshot.fingerprint,
        versions=snapshot.versions,
        interrupted=interrupted,
        tasks=snapshot.tasks,
        created_at=snapshot.created_at,
        status=snapshot.status,
        context=snapshot.context,
        checkpoint_id=snapshot.checkpoint_id,
    )


class JournalWriter:
    """Appends records; `sync()` makes everything appended so far durable."""

    def __init__(self, checkpoint: Path, checkpoint_id: str) -> None:
        self.path = journal_path(checkpoint)
        self.checkpoint_id = checkpoint_id
        self._fd: int | None = None

    def start(self) -> None:
        """Replace any journal with an empty one that extends `checkpoint_id`, durably."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, encode_header(self.checkpoint_id))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise SnapshotError(
                f"cannot write journal {self.path}: {describe_os_error(exc)}"
            ) from None

    def write(self, payload: bytes) -> None:
        if self._fd is None:
            raise SnapshotError(f"journal {self.path} is not open")
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fdatasync(self._fd)
        except OSError as exc:
            raise SnapshotError(
                f"cannot write journal {self.path}: {describe_os_error(exc)}"
            ) from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        fsync_dir(self.path.parent)
