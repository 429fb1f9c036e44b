"""Leaving an attached dashboard while the run goes on: detach (d), stop the run (s, its
graceful stop, like SIGTERM), or stay (n, escape)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from flow_tui.tui.dialogs.base import Dialog


class DetachChoice(StrEnum):
    DETACH = "detach"  # this view goes, the run goes on
    STOP = "stop"  # the run stops (grace, checkpoint, exit 143)
    STAY = "stay"


class DetachOrStop(Dialog[DetachChoice]):
    CANCEL = DetachChoice.STAY

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "choose('detach')",
            "Detach",
            id="detach_confirm",
            tooltip="Leave this view; the run goes on",
        ),
        Binding(
            "s",
            "choose('stop')",
            "Stop the run",
            id="detach_stop",
            tooltip="Stop the run like SIGTERM: running tasks get their grace period",
        ),
        Binding("n", "choose('stay')", "Stay", id="detach_stay", tooltip="Back to the dashboard"),
    ]

    def __init__(self, situation: str, checkpoint: str | None = None) -> None:
        super().__init__()
        self.situation = situation
        self.checkpoint = checkpoint

    def hint(self) -> str:
        where = f"; the checkpoint {self.checkpoint} keeps what finished" if self.checkpoint else ""
        return (
            "Detach: the run goes on and `flow-tui attach` comes back to it. Stop: running "
            f"tasks get their grace period, then the run ends (exit 143){where}."
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Detach or stop the run?"
            yield Static(self.situation, classes="dialog--text", markup=False)
            yield Static(self.hint(), classes="dialog--hint", markup=False)
            with Horizontal(classes="dialog--buttons"):
                yield Button("Detach (d)", variant="primary", id="detach")
                yield Button("Stop the run (s)", variant="error", id="stop")
                yield Button("Stay (n)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#detach", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(DetachChoice(event.button.id or "stay"))

    def action_choose(self, choice: str) -> None:
        self.dismiss(DetachChoice(choice))
