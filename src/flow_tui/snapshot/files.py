"""Atomic, durable file replacement: temp file in the same folder, fsync, rename, fsync dir."""

from __future__ import annotations

import contextlib
import os
import tempfile
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


def atomic_write(path: Path, payload: bytes, what: str = "snapshot") -> Path:
    """Replace `path` with `payload` so that a crash leaves the old file or the new one.

    Raises SnapshotError naming the file; on any failure the old file is untouched and no
    temp file is left behind.
    """
    folder = path.parent
    if not folder.is_dir():
        raise SnapshotError(f"cannot write {what} {path}: folder {folder} does not exist")
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise SnapshotError(f"cannot write {what} {path}: {describe_os_error(exc)}") from None
    try:
        try:
            view = memoryview(payload)
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
