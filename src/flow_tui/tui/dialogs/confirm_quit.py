"""Quit with unfinished work, or after a run that failed: quit (y), save a snapshot
first (s), or stay (n, escape)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from flow_tui.session import RunState
from flow_tui.tui.dialogs.base import Dialog

# How the tasks of a run that is over can have ended badly: Session.counts() keys, words.
_BAD_ENDS = (("failure", "failed"), ("skipped", "skipped"), ("cancelled", "cancelled"))


def ended_badly(state: RunState, tally: Mapping[str, int]) -> str:
    """The question after a run where not every task succeeded (`tally`: its counts)."""
    ends = [f"{tally[key]} {word}" for key, word in _BAD_ENDS if tally[key]]
    verb = {RunState.FAILED: "failed", RunState.CANCELLED: "was cancelled"}
    return (
        f"The run {verb.get(state, 'ended')}: "
        f"{', '.join(ends) or 'not every task succeeded'}. "
        "Quitting exits with code 1. Quit?"
    )


class QuitChoice(StrEnum):
    QUIT = "quit"
    SAVE = "save"  # save a snapshot, then quit
    STAY = "stay"


class ConfirmQuit(Dialog[QuitChoice]):
    CANCEL = QuitChoice.STAY

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose('quit')", "Quit", id="quit_confirm", tooltip="Quit now"),
        Binding(
            "s",
            "choose('save')",
            "Save & quit",
            id="quit_save",
            tooltip="Save a snapshot, then quit",
        ),
        Binding("n", "choose('stay')", "Stay", id="quit_stay", tooltip="Back to the dashboard"),
    ]

    def __init__(self, situation: str, checkpoint: str | None = None, over: bool = False) -> None:
        super().__init__()
        self.situation = situation
        self.checkpoint = checkpoint
        self.over = over  # the run is over (with failures): nothing is cancelled

    @classmethod
    def after_run(
        cls, state: RunState, tally: Mapping[str, int], checkpoint: str | None
    ) -> ConfirmQuit:
        """The run is over, not every task succeeded: `tally` as `Session.counts()`."""
        return cls(ended_badly(state, tally), checkpoint, over=True)

    @classmethod
    def during_run(
        cls, state: RunState, running: int, left: int, checkpoint: str | None
    ) -> ConfirmQuit:
        """The run is not over: `running` tasks would be cancelled, `left` never run."""
        situation = (
            f"The run is {state.value}: {running} task(s) running, {left} not run yet. Quit anyway?"
        )
        return cls(situation, checkpoint)

    def restate(self, situation: str, hint: str | None = None) -> None:
        """The run ended while the question was up: say how, nothing is cancelled now."""
        self.situation = situation
        self.over = True
        self._hint = hint
        if self.is_mounted:
            self.query_one("#quit-situation", Static).update(situation)
            self.query_one("#quit-hint", Static).update(self.hint())

    _hint: str | None = None

    def hint(self) -> str:
        if self._hint is not None:
            return self._hint
        if self.over:
            if self.checkpoint is not None:
                return f"The checkpoint {self.checkpoint} keeps every result."
            return "Save a snapshot to retry the failed tasks later (launch --resume FILE)."
        if self.checkpoint is None:
            return "Running tasks are cancelled; they run again when you resume."
        return (
            f"Running tasks are cancelled; the checkpoint {self.checkpoint} keeps "
            "everything that finished."
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Quit?"
            yield Static(self.situation, classes="dialog--text", markup=False, id="quit-situation")
            yield Static(self.hint(), classes="dialog--hint", markup=False, id="quit-hint")
            with Horizontal(classes="dialog--buttons"):
                yield Button("Quit (y)", variant="error", id="quit")
                yield Button("Save snapshot & quit (s)", variant="primary", id="save")
                yield Button("Stay (n)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(QuitChoice(event.button.id or "stay"))

    def action_choose(self, choice: str) -> None:
        self.dismiss(QuitChoice(choice))
