"""Auto-checkpointing: a subscriber of task events that keeps a checkpoint file durable.

Every task start and end is appended to a journal beside the checkpoint; the runner's
commit barrier makes each batch durable (one fdatasync per batch) before the ended tasks'
slots and dependents are released, and before a non-idempotent body runs. The journal is
compacted into the TOML/JSON checkpoint when it has grown well past the size of the
checkpoint file, so the cost per task stays constant, and at close.

When a write fails (disk full, permission denied) the checkpoint on disk stays as it was
(the file plus the journal up to the last durable batch), `on_error` is told once, and
`commit()` raises until a full rewrite of the checkpoint succeeds again.

Over 400 lines on purpose: the lock, the journal writer's thread hand-off and the
compaction share one durability rule (what is on disk is always a loadable state), and
splitting them would spread that rule over modules that must change together.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flow_tui.core.errors import SnapshotError
from flow_tui.core.events import TaskEnd, TaskStart
from flow_tui.core.runner import TaskRunner
from flow_tui.core.snapshot import Snapshot
from flow_tui.snapshot.codec import codec_suffix
from flow_tui.snapshot.files import (
    atomic_write,
    describe_os_error,
    pid_alive,
    remove_stale_temps,
)
from flow_tui.snapshot.journal import (
    JournalWriter,
    encode_plain_ends,
    encode_starts,
    journal_path,
)
from flow_tui.snapshot.plain import plain_clock
from flow_tui.snapshot.render import CheckpointRenderer

T = TypeVar("T")

# The journal is folded into the checkpoint file once it holds more than this many bytes
# and more than COMPACT_RATIO times the size of the file: loading stays proportional to
# the results, and the total bytes rewritten stay a small multiple of the final file.
MIN_COMPACT_BYTES = 4 << 20
COMPACT_RATIO = 4

# A journal batch is written and synced on the event loop's own thread while syncs are
# fast: handing a 0.1-0.3 ms fdatasync to a worker thread and back cost about as much
# again, once per batch. After FAST_SYNCS_BEFORE_INLINE syncs in a row under
# INLINE_SYNC_SECONDS; a slower one sends the next ones back to a thread, so a slow disk
# holds the loop (and a dashboard on it) for one sync at a time.
# A sync timed in a thread also counts the thread's wait for the GIL, which the loop
# holds while it has work (about 2 ms a batch in a 1M-task run): fast syncs seldom look
# fast there. So after a slow sync on the loop's thread, PROBE_FIRST batches go to
# threads and the next one is tried on the loop's thread again, then twice as many each
# time a try is slow again (at most PROBE_MAX): a sync that was slow once (a burst of
# writeback, the process preempted) costs one batch in a thread, and a slow disk holds
# the loop for one sync ever more rarely.
INLINE_SYNC_SECONDS = 0.002
FAST_SYNCS_BEFORE_INLINE = 4
PROBE_FIRST = 1
PROBE_MAX = 1024


class CheckpointLockError(SnapshotError):
    """Another live process holds the checkpoint."""


class CheckpointLock:
    """`<checkpoint>.lock`: one process at a time runs from a checkpoint.

    The lock is an exclusive `flock` on the file, which the kernel drops when its process
    dies, so the lock of a killed run is taken over at once; the file names the holder's
    pid and host for the message. Where the filesystem has no flock, a lock whose pid is
    gone on this host counts as stale. A lock written on another host is respected (its
    process cannot be checked from here).
    """

    def __init__(self, checkpoint: Path) -> None:
        self.path = checkpoint.with_name(checkpoint.name + ".lock")
        self.checkpoint = checkpoint
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        payload = json.dumps(me).encode()
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise self._cannot(exc) from None
            try:
                flocked = self._try_lock(fd)
                if flocked is not False and not self._still_linked(fd):
                    os.close(fd)  # its holder removed it as we locked it: try the new one
                    continue
                holder = _read_holder(fd)
                if flocked is False or self._foreign(holder):
                    raise self._busy(holder)
                try:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, payload, 0)
                except OSError as exc:
                    # Under flock the holder's name is only for messages (a full disk
                    # cannot hold it); without flock it is the lock itself.
                    if flocked is None:
                        raise self._cannot(exc) from None
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            self._fd = fd
            return
        raise CheckpointLockError(f"could not take the lock {self.path}; try again")

    def _cannot(self, exc: OSError) -> SnapshotError:
        return SnapshotError(
            f"cannot lock checkpoint {self.checkpoint}: {self.path}: {describe_os_error(exc)}"
        )

    def _try_lock(self, fd: int) -> bool | None:
        """True: flocked; False: held by another; None: free, by the pid check alone."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise self._cannot(exc) from None
            # No flock on this filesystem: the pid in the file decides.
            holder = _read_holder(fd)
            return None if holder is None or not _holder_alive(holder) else False
        return True

    def _still_linked(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    @staticmethod
    def _foreign(holder: dict[str, Any] | None) -> bool:
        # A lock file written on another host: flock may not reach across hosts (NFS), so
        # whoever wrote it may still be running.
        return holder is not None and holder.get("host") not in (None, socket.gethostname())

    def _busy(self, holder: dict[str, Any] | None) -> CheckpointLockError:
        pid = holder.get("pid", "?") if holder else "?"
        host = holder.get("host", "?") if holder else "?"
        return CheckpointLockError(
            f"checkpoint {self.checkpoint} is in use by pid {pid} on host {host}; wait for "
            f"that run to end (or delete {self.path} if that process is gone)"
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Unlink while still locked: a process that opened the old file sees it is no
        # longer linked and retries on a fresh one.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(fd)


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _holder_alive(holder: dict[str, Any]) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True  # cannot check another host's processes: assume it is live
    if pid == os.getpid():
        return False
    return pid_alive(pid)


class Checkpointer:
    """Keeps `path` (a .json or .toml checkpoint) and its journal in step with a runner.

    `snapshot_source()` returns the run's state at any moment; every record received
    through the events is also reflected in it (state changes before its event), so a
    snapshot written now supersedes every record not yet written.
    """

    def __init__(
        self,
        path: Path,
        snapshot_source: Callable[[], Snapshot],
        on_error: Callable[[SnapshotError], None] | None = None,
    ) -> None:
        self.path = path
        self.suffix = codec_suffix(path)
        self._render = CheckpointRenderer(self.suffix)
        self._snapshot_source = snapshot_source
        self._on_error = on_error
        self._buffer: list[bytes] = []  # end records not yet written
        # then the plain successes ended since the last of those (see `_on_end`)
        self._plain: list[str | float | int] = []  # flat: name, 3 clock values, ...
        self._started: list[str] = []  # names of the tasks started since then
        self._journal: JournalWriter | None = None
        self._journal_bytes = 0
        self._file_bytes = 0
        self._open = False
        self._lock = asyncio.Lock()  # one commit, compaction or close at a time
        self._io = threading.Lock()  # and their file operations, which run in threads
        self.error: SnapshotError | None = None
        self.writes = 0  # checkpoint files written (open, compactions, close)
        self.commits = 0  # journal batches made durable
        self._fast_syncs = 0  # syncs in threads in a row that took under INLINE_SYNC_SECONDS
        # Batches synced in threads before one is tried on the loop's thread; 0: they
        # are synced there.
        self._threaded_left = FAST_SYNCS_BEFORE_INLINE
        self._probe_gap = PROBE_FIRST  # that number, after a slow try
        self.commit_seconds = 0.0  # spent appending and syncing those batches
        self.write_seconds = 0.0  # spent rendering and replacing checkpoint files

    # -- wiring ------------------------------------------------------------------------

    def attach(self, runner: TaskRunner[Any]) -> None:
        runner.events.on("task_start", self._on_start)
        runner.events.on("task_end", self._on_end)

    def _on_start(self, event: TaskStart) -> None:
        self._started.append(event.step.name)

    def _on_end(self, event: TaskEnd) -> None:
        # Nearly every end is a plain success with the executor's clock readings: its
        # record is those readings, and the times are formatted only when a checkpoint
        # file is written (compaction, close), off the path of each task.
        result = event.result
        clock = plain_clock(result)
        if clock is not None:
            self._plain += (event.step.name, *clock)
            return
        self._flush_plain()  # the records stay in the order the tasks ended
        self._buffer.append(self._render.end_record(event.step.name, result))

    def _flush_plain(self) -> None:
        if self._plain:
            self._buffer.append(encode_plain_ends(self._plain))
            self._plain = []

    # -- writing -----------------------------------------------------------------------

    def open(self) -> None:
        """Write the checkpoint as it stands and start an empty journal (synchronous)."""
        for path in (self.path, journal_path(self.path)):
            remove_stale_temps(path)
        self._replace(self._snapshot_source())
        self._open = True

    async def commit(self) -> None:
        """The runner's barrier: make every record received so far durable.

        Raises SnapshotError when that cannot be done (`on_error` was told).
        """
        async with self._lock:
            if not self._open:
                return
            if self.error is not None:
                await self._recover()
                return
            if not self._buffer and not self._started and not self._plain:
                return
            if self._threaded_left <= 0:
                try:
                    self._append(self._take(), True)
                except SnapshotError as exc:
                    self._fail(exc)
                    raise
            else:
                self._threaded_left -= 1
                await self._in_thread(self._append, self._take(), False)
            if self._journal_bytes > max(MIN_COMPACT_BYTES, COMPACT_RATIO * self._file_bytes):
                await self._rewrite()

    async def compact(self) -> None:
        """Fold the journal into the checkpoint file now."""
        async with self._lock:
            if self._open:
                with contextlib.suppress(SnapshotError):  # reported through on_error
                    await (self._recover() if self.error is not None else self._rewrite())

    async def close(self) -> None:
        """Fold everything into the checkpoint file and remove the journal."""
        async with self._lock:
            if not self._open:
                return
            self._open = False
            self._forget()  # superseded by the snapshot written now
            snapshot = self._snapshot_source()
            with contextlib.suppress(SnapshotError):  # reported through on_error
                await self._in_thread(self._finish, snapshot)

    def close_now(self) -> None:
        """Synchronous close, for exits that cannot wait for the loop."""
        if not self._open:
            return
        self._open = False
        self._forget()
        try:
            self._finish(self._snapshot_source())
        except SnapshotError as exc:
            self._fail(exc)

    def _take(self) -> bytes:
        # One record names every task started since the last batch; it comes first, so
        # a task that started and ended within the batch reads as ended.
        head = encode_starts(self._started) if self._started else b""
        self._flush_plain()
        payload = head + b"".join(self._buffer)
        self._started = []
        self._buffer = []
        return payload

    def _forget(self) -> None:
        self._started = []
        self._buffer = []
        self._plain = []

    # -- the steps, each reporting its own failure -------------------------------------

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except SnapshotError as exc:
            self._fail(exc)
            raise

    async def _rewrite(self) -> None:
        # With the lock held: no record can slip between the snapshot and the fresh
        # journal that extends it. The records still buffered are part of the snapshot.
        self._forget()
        await self._in_thread(self._replace, self._snapshot_source())

    async def _recover(self) -> None:
        # After a failure the journal may lack records: only a whole new checkpoint makes
        # the state durable again.
        await self._rewrite()
        self.error = None

    def _append(self, payload: bytes, inline: bool) -> None:
        with self._io:
            if self._journal is None:
                raise SnapshotError(f"checkpoint {self.path}: the journal is not open")
            start = time.perf_counter()
            self._journal.write(payload)
            took = time.perf_counter() - start
            self.commit_seconds += took
            self._timed_sync(took, inline)
            self._journal_bytes += len(payload)
            self.commits += 1

    def _replace(self, snapshot: Snapshot) -> None:
        with self._io:
            start = time.perf_counter()
            snapshot.checkpoint_id = secrets.token_hex(8)
            payload = self._render.render_pieces(snapshot)
            journal = JournalWriter(self.path, snapshot.checkpoint_id)
            journal.open()  # named in the folder before the folder fsync of the rename
            try:
                atomic_write(self.path, payload, what="checkpoint")
            except BaseException:
                journal.abandon()  # the old checkpoint and its journal stay as they were
                raise
            # From here on the old journal extends a file that is gone: it is void.
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            try:
                journal.start(folder_synced=True)
            except BaseException:
                journal.close()
                raise
            self._journal = journal
            self._journal_bytes = 0
            self._file_bytes = sum(map(len, payload))
            self.writes += 1
            self.write_seconds += time.perf_counter() - start

    def _finish(self, snapshot: Snapshot) -> None:
        with self._io:
            start = time.perf_counter()
            snapshot.checkpoint_id = None
            atomic_write(self.path, self._render.render_pieces(snapshot), what="checkpoint")
            self.writes += 1
            self.write_seconds += time.perf_counter() - start
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            # The file no longer names a journal, so one left behind would be ignored:
            # removing it keeps the folder clean, and needs no folder fsync.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(journal_path(self.path))

    def _timed_sync(self, took: float, inline: bool) -> None:
        """Where the next batches are synced, after one that took `took` seconds."""
        if took >= INLINE_SYNC_SECONDS:
            self._fast_syncs = 0
            if inline:  # slow on the loop's thread: threads for a while
                self._threaded_left = self._probe_gap
                self._probe_gap = min(2 * self._probe_gap, PROBE_MAX)
        elif inline:
            self._probe_gap = PROBE_FIRST  # a slow sync from now on is a first one
        else:
            self._fast_syncs += 1
            if self._fast_syncs >= FAST_SYNCS_BEFORE_INLINE:
                self._threaded_left = 0
                self._fast_syncs = 0

    def _fail(self, exc: SnapshotError) -> None:
        # The next writes go to a thread until syncs are fast again.
        self._fast_syncs = 0
        self._threaded_left = max(self._threaded_left, PROBE_FIRST)
        if self.error is None:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
