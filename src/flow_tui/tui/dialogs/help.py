"""All keys: generated from the live bindings, so a remapped key shows as remapped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.widgets import Button, Static

from flow_tui.tui.dialogs.base import Dialog


@dataclass(slots=True, frozen=True)
class KeyHelp:
    keys: str
    description: str
    tooltip: str
    binding_id: str | None


def describe_keys(app: App[Any], nodes: Iterable[DOMNode]) -> list[KeyHelp]:
    """Every remappable key of `nodes` (the app and its widgets), in declared order,
    showing the keys in force (a keymap applied)."""
    out: list[KeyHelp] = []
    for node in nodes:
        keys: dict[str, list[str]] = {}
        for _key, binding in node._bindings:  # Textual has no public view of keys in force
            if binding.id is not None:
                keys.setdefault(binding.id, []).append(app.get_key_display(binding))
        for declared in type(node).BINDINGS:
            if not isinstance(declared, Binding) or declared.id not in keys:
                continue
            shown = " / ".join(dict.fromkeys(keys[declared.id]))
            out.append(KeyHelp(shown, declared.description, declared.tooltip, declared.id))
    return out


class HelpScreen(Dialog[None]):
    DEFAULT_CSS = """
    HelpScreen > .dialog { width: 100; }
    HelpScreen #help-keys { height: auto; max-height: 20; }
    HelpScreen .dialog--buttons { margin-top: 0; }
    """

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column(no_wrap=True)
        table.add_column(style="dim")
        for key in self.keys:
            table.add_row(Text(key.keys), Text(key.description), Text(key.tooltip))
        table.add_row(Text("↑ ↓ space"), Text("Move, fold"), Text("Move in the tree; fold a group"))
        table.add_row(Text("ctrl+p"), Text("Commands"), Text("Every action by name"))
        with Vertical(classes="dialog") as box:
            box.border_title = "Keys"
            with VerticalScroll(id="help-keys"):
                yield Static(table, id="help-table")
            yield Static(
                "Letter keys do nothing while you type in an input. "
                "Select text with the mouse to copy it.",
                classes="dialog--hint",
            )
            with Horizontal(classes="dialog--buttons"):
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The key list scrolls so that Close stays on screen (80x24 included): the
        screen's height less the border, hint and button rows."""
        room = max(3, self.size.height - 9)
        self.query_one("#help-keys").styles.max_height = min(20, room)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
