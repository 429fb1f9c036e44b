"""Atomic, durable file replacement: temp file in the same folder, fsync, rename, fsync dir.

Temp files are named `.<file>.<pid>.<random>.tmp`, so that one left by a process that died
mid-write can be told from one being written now, and removed (`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from flow_tui.core.errors import SnapshotError


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: Path, payload: bytes | Iterable[bytes], what: str = "snapshot") -> Path:
    """Replace `path` with `payload` so that a crash leaves the old file or the new one.

    `payload` may come in pieces (an iterable of bytes), written as they come, so that a
    large file is never whole in memory. Raises SnapshotError naming the file; on any
    failure (an exception from the pieces too) the old file is untouched and no temp file
    is left behind.
    """
    folder = path.parent
    if not folder.is_dir():
        raise SnapshotError(f"cannot write {what} {path}: folder {folder} does not exist")
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=folder
        )
    except OSError as exc:
        raise SnapshotError(f"cannot write {what} {path}: {describe_os_error(exc)}") from None
    try:
        try:
            for piece in (payload,) if isinstance(payload, bytes) else payload:
                view = memoryview(piece)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise SnapshotError(f"cannot write {what} {path}: {describe_os_error(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
    return path


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host is running (a zombie counts as gone)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != b"Z"


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temp files of `path` left by processes that died while writing it.

    Only temp files whose writer (the pid in the name) is gone are touched; returns them.
    """
    prefix = _temp_prefix(path)
    removed: list[Path] = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or pid_alive(int(pid_text)):
            continue
        stale = path.parent / name
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            removed.append(stale)
    return removed
