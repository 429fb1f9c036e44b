"""The order of the writes and syncs that make a checkpoint crash-safe."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flow_tui import Snapshot
from flow_tui.checkpoint import Checkpointer
from flow_tui.snapshot import files
from flow_tui.snapshot.journal import journal_path


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the file operations that matter, in order (os is shared by every module)."""
    events: list[str] = []
    real = {name: getattr(os, name) for name in ("open", "fsync", "fdatasync", "replace")}
    real_truncate = os.ftruncate

    def kind(fd: int) -> str:
        return "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"

    def open_(path: str | Path, flags: int, *args: int) -> int:
        fd = int(real["open"](path, flags, *args))
        if str(path).endswith(".journal") and flags & os.O_CREAT:
            events.append("create journal")
        return fd

    def fsync(fd: int) -> None:
        events.append(f"fsync {kind(fd)}")
        real["fsync"](fd)

    def fdatasync(fd: int) -> None:
        events.append("fdatasync journal")
        real["fdatasync"](fd)

    def replace(src: str, dst: str) -> None:
        events.append(f"rename to {Path(dst).name}")
        real["replace"](src, dst)

    def ftruncate(fd: int, size: int) -> None:
        events.append(f"truncate to {size}")
        real_truncate(fd, size)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "ftruncate", ftruncate)
    return events


def test_a_save_syncs_the_file_then_renames_then_syncs_the_folder(
    tmp_path: Path, trace: list[str]
) -> None:
    files.atomic_write(tmp_path / "run.json", b"{}")
    assert trace == ["fsync file", "rename to run.json", "fsync folder"]


@pytest.mark.parametrize("existing_journal", [False, True])
def test_a_checkpoint_rewrite_names_its_journal_before_the_folder_sync_and_empties_it_after(
    tmp_path: Path, trace: list[str], existing_journal: bool
) -> None:
    ck = tmp_path / "ck.toml"
    if existing_journal:
        journal_path(ck).write_bytes(b"records of the previous checkpoint file\n")
    Checkpointer(ck, lambda: Snapshot(workflow="w", tasks=["a"])).open()
    # The journal's name exists before the folder fsync that makes the rename durable;
    # its old content stays until the new checkpoint file (with the new id) is in place.
    expected = [
        "fsync file",
        "rename to ck.toml",
        "fsync folder",
        "truncate to 0",
        "fdatasync journal",
    ]
    if not existing_journal:
        expected.insert(0, "create journal")
    assert trace == expected
    assert Snapshot.load(ck).workflow == "w"
