"""The frames dialogs share: a centred box with a title, a body and buttons (`Dialog`),
and that box asking for a snapshot path (`PathDialog`, the save and load dialogs)."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import ClassVar, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from flow_tui.core.errors import FlowError
from flow_tui.tui.dialogs.paths import PathSuggester, user_path

T = TypeVar("T")
R = TypeVar("R")


class Dialog(ModalScreen[T]):
    """A modal screen that dismisses with a value; escape dismisses with `CANCEL`."""

    CANCEL: object = None

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog_cancel", tooltip="Close this dialog"),
    ]

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
        background: $background 60%;
    }
    Dialog > .dialog {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary 80%;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    Dialog .dialog--text { width: 1fr; height: auto; margin-bottom: 1; }
    Dialog .dialog--hint { width: 1fr; height: auto; color: $text-muted; }
    Dialog .dialog--error { width: 1fr; height: auto; color: $text-error; display: none; }
    Dialog .dialog--error.-shown { display: block; }
    Dialog .dialog--buttons { width: 1fr; height: auto; align-horizontal: right; margin-top: 1; }
    Dialog .dialog--buttons Button { margin-left: 1; min-width: 10; }
    """

    def action_cancel(self) -> None:
        self.dismiss(self.CANCEL)  # type: ignore[arg-type]


class PathRefused(Exception):
    """A path the dialog cannot take; the message says why, in the dialog's error line."""


class PathDialog(Dialog[R | None]):
    """Asks for a snapshot path (with completion); dismisses with what `accept` made of
    it, or None when cancelled. A refused path shows an error and the dialog stays.

    A subclass names its widgets with `KEY` (`#KEY-path`, `#KEY-error`, the `#KEY`
    button), words the prompt, hint and action, and says what to do with a path.
    """

    KEY: ClassVar[str]
    PROMPT: ClassVar[str]
    HINT: ClassVar[str]
    ACTION: ClassVar[str]
    VERB: ClassVar[str]  # "cannot VERB path" when the file system refuses
    #: On opening, the path is selected (typing replaces it) rather than the cursor put at
    #: its end (typing completes it, e.g. a folder to name a file in).
    SELECT_PATH: ClassVar[bool] = False

    def __init__(self, initial_path: str, title: str) -> None:
        super().__init__()
        self.initial_path = initial_path
        self.title_text = title

    @abstractmethod
    async def accept(self, path: Path, typed: str) -> R:
        """What the dialog dismisses with, for `path` (`typed`: as the operator typed it,
        stripped); raises PathRefused, FlowError or OSError."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Static(self.PROMPT, classes="dialog--text")
            yield Input(
                self.initial_path,
                placeholder="path/to/snapshot.toml",
                suggester=PathSuggester(),
                id=f"{self.KEY}-path",
            )
            yield Static(self.HINT, classes="dialog--hint")
            yield from self.compose_more()
            yield Static(id=f"{self.KEY}-error", classes="dialog--error", markup=False)
            with Horizontal(classes="dialog--buttons"):
                yield Button(self.ACTION, variant="primary", id=self.KEY)
                yield Button("Cancel", id="cancel")

    def compose_more(self) -> ComposeResult:
        """Widgets between the hint and the error line (none here)."""
        yield from ()

    @property
    def path_input(self) -> Input:
        return self.query_one(f"#{self.KEY}-path", Input)

    def on_mount(self) -> None:
        path_input = self.path_input
        path_input.focus()  # the Input selects its value when focused
        if not self.SELECT_PATH:
            path_input.cursor_position = len(path_input.value)

    def show_error(self, text: str | None) -> None:
        error = self.query_one(f"#{self.KEY}-error", Static)
        error.update(text or "")
        error.set_class(bool(text), "-shown")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.submit(self.path_input.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit(event.value)

    @work(exclusive=True, group="path-dialog")
    async def submit(self, text: str) -> None:
        self.show_error(None)
        typed = text.strip()
        path = user_path(typed)
        try:
            if not typed:
                raise PathRefused("Type a file path ending in .toml or .json.")
            if path.is_dir():
                raise PathRefused(f"{typed} is a folder; name a snapshot file inside it.")
            value = await self.accept(path, typed)
        except (PathRefused, FlowError) as exc:
            self.show_error(str(exc))
            return
        except OSError as exc:
            self.show_error(f"cannot {self.VERB} {path}: {exc.strerror or exc}")
            return
        self.dismiss(value)
