"""Load a snapshot: a path with completion and a list of snapshots found nearby.

The dialog only reads and plans (`preview`); the resume plan screen asks before anything
is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from flow_tui.core.errors import FlowError
from flow_tui.session import LoadedSnapshot
from flow_tui.tui.dialogs.base import Dialog
from flow_tui.tui.dialogs.paths import PathSuggester, display_path, user_path

PreviewFunction = Callable[[Path], LoadedSnapshot]


class LoadDialog(Dialog[LoadedSnapshot | None]):
    DEFAULT_CSS = """
    LoadDialog OptionList { height: auto; max-height: 8; margin-top: 1; }
    """

    def __init__(self, start: str, candidates: list[Path], preview: PreviewFunction) -> None:
        super().__init__()
        self.start = start
        self.candidates = candidates
        self.preview = preview

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Load snapshot"
            yield Static("Resume from the snapshot file:", classes="dialog--text")
            yield Input(
                self.start,
                placeholder="path/to/snapshot.toml",
                suggester=PathSuggester(),
                id="load-path",
            )
            yield Static(
                "→ completes a path; nothing changes until you confirm the resume plan.",
                classes="dialog--hint",
            )
            if self.candidates:
                yield OptionList(
                    *(Option(display_path(p), id=str(p)) for p in self.candidates),
                    id="load-candidates",
                )
            yield Static(id="load-error", classes="dialog--error", markup=False)
            with Horizontal(classes="dialog--buttons"):
                yield Button("Load", variant="primary", id="load")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        path_input = self.query_one("#load-path", Input)
        path_input.focus()
        path_input.cursor_position = len(path_input.value)

    def show_error(self, text: str | None) -> None:
        error = self.query_one("#load-error", Static)
        error.update(text or "")
        error.set_class(bool(text), "-shown")

    @on(OptionList.OptionSelected, "#load-candidates")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        path_input = self.query_one("#load-path", Input)
        path_input.value = str(event.option.prompt)
        path_input.cursor_position = len(path_input.value)
        self.submit(path_input.value)

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    @on(Button.Pressed, "#load")
    @on(Input.Submitted, "#load-path")
    def _submit(self, event: Button.Pressed | Input.Submitted) -> None:
        event.stop()
        self.submit(self.query_one("#load-path", Input).value)

    def submit(self, text: str) -> None:
        self.show_error(None)
        if not text.strip():
            self.show_error("Type the path of a .toml or .json snapshot.")
            return
        path = user_path(text)
        if path.is_dir():
            self.show_error(f"{text.strip()} is a folder; name a snapshot file inside it.")
            return
        try:
            loaded = self.preview(path)
        except FlowError as exc:
            self.show_error(str(exc))
            return
        except OSError as exc:
            self.show_error(f"cannot read {path}: {exc.strerror or exc}")
            return
        self.dismiss(loaded)
