"""Save a snapshot: a path (the suffix picks TOML or JSON), overwrite check, errors shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from flow_tui.tui.dialogs.base import PathDialog, PathRefused
from flow_tui.tui.dialogs.confirm import ConfirmDialog
from flow_tui.tui.dialogs.paths import SNAPSHOT_SUFFIXES, display_path

SaveFunction = Callable[[Path], Awaitable[Path]]


class SaveDialog(PathDialog[Path]):
    """Dismisses with the path written, or None when cancelled."""

    KEY = "save"
    PROMPT = "Save the run's state to:"
    HINT = "The suffix picks the format: .toml or .json.  → completes a path."
    ACTION = "Save"
    VERB = "write"
    SELECT_PATH = True  # a default name: typing replaces it

    def __init__(self, default: str, save: SaveFunction, title: str = "Save snapshot") -> None:
        super().__init__(default, title)
        self.save = save

    async def accept(self, path: Path, typed: str) -> Path:
        if path.suffix.lower() not in SNAPSHOT_SUFFIXES:
            raise PathRefused(f"{typed} has no .toml or .json suffix: the suffix picks the format.")
        if path.exists():
            overwrite = await self.app.push_screen_wait(
                ConfirmDialog(
                    "Overwrite?",
                    f"{display_path(path)} exists. Replace it with a snapshot of the run now?",
                    yes="Overwrite",
                    no="Keep it",
                )
            )
            if not overwrite:
                raise PathRefused("Not saved: choose another path or confirm the overwrite.")
        return await self.save(path)
