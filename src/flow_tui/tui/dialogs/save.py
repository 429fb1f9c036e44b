"""Save a snapshot: a path (the suffix picks TOML or JSON), overwrite check, errors shown.

The overwrite question is asked inside the dialog (a warning line, the button becomes
Overwrite): a second box drawn over this one would hide the path it asks about.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual import on
from textual.widgets import Button, Input

from flow_tui.tui.dialogs.base import PathDialog, PathRefused
from flow_tui.tui.dialogs.paths import SNAPSHOT_SUFFIXES, display_path

SaveFunction = Callable[[Path], Awaitable[Path]]


class SaveDialog(PathDialog[Path]):
    """Dismisses with the path written, or None when cancelled."""

    DEFAULT_CSS = """
    SaveDialog #save { min-width: 13; }
    """

    KEY = "save"
    PROMPT = "Save the run's state to:"
    HINT = "The suffix picks the format: .toml or .json.  → completes a path."
    ACTION = "Save"
    VERB = "write"
    SELECT_PATH = True  # a default name: typing replaces it

    def __init__(self, default: str, save: SaveFunction, title: str = "Save snapshot") -> None:
        super().__init__(default, title)
        self.save = save
        self.confirming: Path | None = None  # the existing file a second Save replaces

    async def accept(self, path: Path, typed: str) -> Path:
        if path.suffix.lower() not in SNAPSHOT_SUFFIXES:
            raise PathRefused(f"{typed} has no .toml or .json suffix: the suffix picks the format.")
        if path.exists() and self.confirming != path.resolve():
            self._confirm(path.resolve())
            raise PathRefused(
                f"{display_path(path)} exists. Press Overwrite (enter) to replace it with a "
                "snapshot of the run now, or type another path."
            )
        return await self.save(path)

    def _confirm(self, path: Path | None) -> None:
        self.confirming = path
        button = self.query_one(f"#{self.KEY}", Button)
        button.label = "Overwrite" if path is not None else self.ACTION
        button.variant = "warning" if path is not None else "primary"

    @on(Input.Changed)
    def _path_changed(self, event: Input.Changed) -> None:
        if self.confirming is not None:
            self._confirm(None)  # another path: ask again if it exists too
            self.show_error(None)
