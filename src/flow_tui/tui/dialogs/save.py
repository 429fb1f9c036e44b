"""Save a snapshot: a path (the suffix picks TOML or JSON), overwrite check, errors shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from flow_tui.core.errors import FlowError
from flow_tui.tui.dialogs.base import Dialog
from flow_tui.tui.dialogs.confirm import ConfirmDialog
from flow_tui.tui.dialogs.paths import SNAPSHOT_SUFFIXES, PathSuggester, display_path, user_path

SaveFunction = Callable[[Path], Awaitable[Path]]


class SaveDialog(Dialog[Path | None]):
    """Dismisses with the path written, or None when cancelled."""

    def __init__(self, default: str, save: SaveFunction, title: str = "Save snapshot") -> None:
        super().__init__()
        self.default = default
        self.save = save
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Static("Save the run's state to:", classes="dialog--text")
            yield Input(
                self.default,
                placeholder="path/to/snapshot.toml",
                suggester=PathSuggester(),
                id="save-path",
            )
            yield Static(
                "The suffix picks the format: .toml or .json.  → completes a path.",
                classes="dialog--hint",
            )
            yield Static(id="save-error", classes="dialog--error", markup=False)
            with Horizontal(classes="dialog--buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    def show_error(self, text: str | None) -> None:
        error = self.query_one("#save-error", Static)
        error.update(text or "")
        error.set_class(bool(text), "-shown")

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#save-path")
    def _submit(self, event: Button.Pressed | Input.Submitted) -> None:
        event.stop()
        self.submit(self.query_one("#save-path", Input).value)

    @work(exclusive=True, group="save")
    async def submit(self, text: str) -> None:
        self.show_error(None)
        if not text.strip():
            self.show_error("Type a file path ending in .toml or .json.")
            return
        path = user_path(text)
        if path.is_dir():
            self.show_error(f"{text.strip()} is a folder; name a file inside it.")
            return
        if path.suffix.lower() not in SNAPSHOT_SUFFIXES:
            self.show_error(
                f"{text.strip()} has no .toml or .json suffix: the suffix picks the format."
            )
            return
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
                self.show_error("Not saved: choose another path or confirm the overwrite.")
                return
        try:
            written = await self.save(path)
        except FlowError as exc:
            self.show_error(str(exc))
            return
        except OSError as exc:
            self.show_error(f"cannot write {path}: {exc.strerror or exc}")
            return
        self.dismiss(written)
