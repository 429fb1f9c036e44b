"""All keys: generated from the live bindings, so a remapped key shows as remapped."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from flow_tui.tui.dialogs.base import Dialog


@dataclass(slots=True, frozen=True)
class KeyHelp:
    keys: str
    description: str
    tooltip: str
    binding_id: str | None


class HelpScreen(Dialog[None]):
    DEFAULT_CSS = """
    HelpScreen #help-keys { height: auto; max-height: 18; }
    """

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(k.keys) for k in self.keys), default=4) + 2
        lines = []
        for key in self.keys:
            lines.append(
                Content.assemble(
                    (key.keys.ljust(width), "bold $text-accent"),
                    (key.description, "bold"),
                    (f"  {key.tooltip}" if key.tooltip else "", "$text-muted"),
                )
            )
        with Vertical(classes="dialog") as box:
            box.border_title = "Keys"
            with VerticalScroll(id="help-keys"):
                yield Static(Content("\n").join(lines), id="help-table")
            yield Static(
                "Letter keys do nothing while you type in an input. "
                "Select text with the mouse to copy it.",
                classes="dialog--hint",
            )
            with Horizontal(classes="dialog--buttons"):
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
