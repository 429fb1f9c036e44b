"""The frame every dialog shares: a centred box with a title, a body and buttons."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

T = TypeVar("T")


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
