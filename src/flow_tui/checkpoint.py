"""Auto-checkpointing: a subscriber of task events that keeps a checkpoint file durable.

Every task start and end is appended to a journal beside the checkpoint; the runner's
commit barrier makes each batch durable (one fdatasync per batch) before the ended tasks'
slots and dependents are released, and before a non-idempotent body runs. The journal is
compacted into the TOML/JSON checkpoint when it has grown past the size of the results,
so the cost per task stays constant, and at the end of a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flow_tui.core.errors import SnapshotError
from flow_tui.core.events import TaskEnd, TaskStart
from flow_tui.core.runner import TaskRunner
from flow_tui.core.snapshot import Snapshot
from flow_tui.snapshot.codec import codec_suffix, encode
from flow_tui.snapshot.files import atomic_write, describe_os_error
from flow_tui.snapshot.journal import JournalWriter, encode_end, encode_start

MIN_COMPACT_RECORDS = 2000


class CheckpointLockError(SnapshotError):
    """Another live process holds the checkpoint."""


class CheckpointLock:
    """`<checkpoint>.lock`: one process at a time runs from a checkpoint.

    A lock left by a dead process on this host is taken over.
    """

    def __init__(self, checkpoint: Path) -> None:
        self.path = checkpoint.with_name(checkpoint.name + ".lock")
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        payload = json.dumps(me).encode()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and self._alive(holder):
                    raise CheckpointLockError(
                        f"checkpoint {self.path.with_suffix('')} is in use by pid "
                        f"{holder.get('pid')} on host {holder.get('host')}; wait for that run "
                        f"to end (or delete {self.path} if that process is gone)"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # stale: its process is gone
                continue
            except OSError as exc:
                raise SnapshotError(
                    f"cannot lock checkpoint: {self.path}: {describe_os_error(exc)}"
                ) from None
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
            self.held = True
            return
        raise CheckpointLockError(f"could not take the lock {self.path}; try again")

    def _holder(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _alive(holder: dict[str, Any]) -> bool:
        pid = holder.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            return False
        if holder.get("host") != socket.gethostname():
            return True  # cannot check another host's processes: assume it is live
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _not_zombie(pid)

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.held = False


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != b"Z"


class Checkpointer:
    """Keeps `path` (a .json or .toml checkpoint) and its journal in step with a runner."""

    def __init__(
        self,
        path: Path,
        snapshot_source: Callable[[], Snapshot],
        on_error: Callable[[SnapshotError], None] | None = None,
    ) -> None:
        self.path = path
        self.suffix = codec_suffix(path)
        self._snapshot_source = snapshot_source
        self._on_error = on_error
        self._buffer: list[bytes] = []
        self._names: dict[str, str] = {}
        self._journal: JournalWriter | None = None
        self._records = 0
        self._results = 0
        self._lock = asyncio.Lock()
        self.error: SnapshotError | None = None
        self.writes = 0

    # -- wiring ------------------------------------------------------------------------

    def attach(self, runner: TaskRunner[Any]) -> None:
        runner.events.on("task_start", self._on_start)
        runner.events.on("task_end", self._on_end)

    def _name(self, name: str) -> str:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = json.dumps(name, ensure_ascii=False)
        return encoded

    def _on_start(self, event: TaskStart) -> None:
        self._buffer.append(encode_start(self._name(event.step.name)))

    def _on_end(self, event: TaskEnd) -> None:
        name = event.step.name
        self._buffer.append(encode_end(name, self._name(name), event.result))

    # -- writing -----------------------------------------------------------------------

    def open(self) -> None:
        """Write the checkpoint as it stands and start an empty journal (synchronous)."""
        self._compact_now()

    async def commit(self) -> None:
        """The runner's barrier: make every record received so far durable."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch or self.error is not None:
                return
            payload = b"".join(batch)
            try:
                await asyncio.to_thread(self._write, payload)
            except SnapshotError as exc:
                self._fail(exc)
                return
            self._records += len(batch)
            if self._records > max(MIN_COMPACT_RECORDS, 2 * self._results):
                await self._compact()

    def _write(self, payload: bytes) -> None:
        if self._journal is None:
            raise SnapshotError(f"checkpoint {self.path} is not open")
        self._journal.write(payload)

    async def compact(self) -> None:
        """Fold the journal into the checkpoint file now (at the end of a run)."""
        async with self._lock:
            self._buffer = []  # the snapshot taken now includes everything they record
            await self._compact()

    async def _compact(self) -> None:
        # Called with the lock held: no journal write can slip between the snapshot and
        # the fresh journal that extends it.
        snapshot = self._snapshot_source()
        try:
            await asyncio.to_thread(self._replace, snapshot)
        except SnapshotError as exc:
            self._fail(exc)

    def _compact_now(self) -> None:
        self._replace(self._snapshot_source())

    def _replace(self, snapshot: Snapshot) -> None:
        snapshot.checkpoint_id = secrets.token_hex(8)
        payload = encode(snapshot, self.suffix)
        atomic_write(self.path, payload, what="checkpoint")
        journal = JournalWriter(self.path, snapshot.checkpoint_id)
        journal.start()
        if self._journal is not None:
            self._journal.close()
        self._journal = journal
        self._records = 0
        self._results = len(snapshot.results)
        self.writes += 1

    def _fail(self, exc: SnapshotError) -> None:
        if self.error is None:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)

    async def close(self) -> None:
        """Fold everything into the checkpoint file and remove the journal."""
        async with self._lock:
            self._buffer = []  # superseded by the snapshot written now
            if self._journal is None:
                return
            try:
                await asyncio.to_thread(self._finish)
            except SnapshotError as exc:
                self._fail(exc)

    def close_now(self) -> None:
        """Synchronous close, for exits that cannot wait for the loop."""
        if self._journal is None:
            return
        try:
            self._finish()
        except SnapshotError as exc:
            self._fail(exc)

    def _finish(self) -> None:
        snapshot = self._snapshot_source()
        snapshot.checkpoint_id = None
        atomic_write(self.path, encode(snapshot, self.suffix), what="checkpoint")
        assert self._journal is not None
        self._journal.remove()
        self._journal = None
        self.writes += 1
