"""Load a snapshot: a path with completion and a list of snapshots found nearby.

The dialog only reads and plans (`preview`); the resume plan screen asks before anything
is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from flow_tui.session import LoadedSnapshot
from flow_tui.tui.dialogs.base import PathDialog
from flow_tui.tui.dialogs.paths import display_path, find_snapshots, snapshot_folders

PreviewFunction = Callable[[Path], LoadedSnapshot]


class LoadDialog(PathDialog[LoadedSnapshot]):
    """Dismisses with the snapshot read and planned, or None when cancelled."""

    DEFAULT_CSS = """
    LoadDialog OptionList { height: auto; max-height: 8; margin-top: 1; }
    """

    KEY = "load"
    PROMPT = "Resume from the snapshot file:"
    HINT = "→ completes a path; nothing changes until you confirm the resume plan."
    ACTION = "Load"
    VERB = "read"

    def __init__(self, start: str, candidates: list[Path], preview: PreviewFunction) -> None:
        super().__init__(start, "Load snapshot")
        self.candidates = candidates
        self.preview = preview

    @classmethod
    def near(
        cls, source: Path | None, preview: PreviewFunction, last: Path | None = None
    ) -> LoadDialog:
        """Prefilled with `last` (the snapshot last saved or resumed) when it is still
        there, offering the snapshots beside the workflow module `source`, in the working
        folder and beside `last`, newest first (else the module's folder to type in)."""
        folders = snapshot_folders(source)
        if last is not None:
            folders.append(last.parent)
        candidates = find_snapshots(folders)
        if last is not None and last.is_file():
            start = display_path(last)
        else:
            start = display_path(candidates[0]) if candidates else ""
        if not start and source is not None:
            start = display_path(source.parent) + "/"
        return cls(start, candidates, preview)

    def compose_more(self) -> ComposeResult:
        if self.candidates:
            yield OptionList(
                *(Option(display_path(p), id=str(p)) for p in self.candidates),
                id="load-candidates",
            )

    async def accept(self, path: Path, typed: str) -> LoadedSnapshot:
        return self.preview(path)

    @on(OptionList.OptionSelected, "#load-candidates")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        path_input = self.path_input
        path_input.value = str(event.option.prompt)
        path_input.cursor_position = len(path_input.value)
        self.submit(path_input.value)
