"""Paths in dialogs: completion while typing, display relative to the working folder."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from textual.suggester import Suggester

SNAPSHOT_SUFFIXES = (".toml", ".json")


def display_path(path: Path) -> str:
    """`path` relative to the working folder when it lies inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def user_path(text: str) -> Path:
    return Path(text.strip()).expanduser()


class PathSuggester(Suggester):
    """Completes the last part of a path with a folder or a snapshot file (→ accepts)."""

    def __init__(self, suffixes: tuple[str, ...] = SNAPSHOT_SUFFIXES) -> None:
        # No cache: files appear while the dashboard runs; case matters in file names.
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = suffixes

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        typed = Path(value).expanduser()
        if value.endswith(os.sep):
            folder, prefix = typed, ""
        else:
            folder, prefix = typed.parent, typed.name
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return None
        for entry in entries:
            name = entry.name
            if not name.startswith(prefix) or name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if name == prefix and not is_dir:
                continue  # already complete
            if is_dir:
                return value + name[len(prefix) :] + os.sep
            if name.endswith(self.suffixes):
                return value + name[len(prefix) :]
        return None


def find_snapshots(folders: list[Path], limit: int = 12) -> list[Path]:
    """Snapshot files in `folders`, newest first (files that name the snapshot format)."""
    seen: set[Path] = set()
    found: list[tuple[float, Path]] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(SNAPSHOT_SUFFIXES) or entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                key = path.resolve()
                if key in seen or not entry.is_file():
                    continue
                seen.add(key)
                with open(path, "rb") as fh:
                    head = fh.read(1024)
                mtime = entry.stat().st_mtime
            except OSError:
                continue
            if b"flow-tui-snapshot" in head:
                found.append((mtime, path))
    found.sort(key=lambda item: (-item[0], str(item[1])))
    return [path for _, path in found[:limit]]


def snapshot_folders(source: Path | None) -> list[Path]:
    """Where snapshots are looked for: beside the workflow module, then the working folder."""
    folders = [] if source is None else [source.parent]
    folders.append(Path.cwd())
    return folders


def default_snapshot_path(folder: Path | None, workflow: str, now: datetime) -> str:
    """In `folder` (the checkpoint's; None: the working folder), timestamped, TOML.

    Not beside the workflow module: that is code, often read-only or under version
    control, and not where the run keeps its state.
    """
    folder = folder if folder is not None else Path.cwd()
    stamp = now.strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^\w.-]+", "-", workflow).strip("-") or "workflow"
    return display_path(folder / f"{name}-{stamp}.toml")
