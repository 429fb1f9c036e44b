"""Interrupted non-idempotent tasks held before a run goes on: for each, run it again or
record it as done; nothing resumes until every one is decided (or the dialog is closed).

The resume plan screen is this dialog with the plan around it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Button, RadioButton, RadioSet, Static

from flow_tui.tui.dialogs.base import Dialog


@dataclass(slots=True)
class PlanDecision:
    """The operator's answer: re-run the interrupted tasks, or record some as done."""

    rerun_interrupted: bool = False
    mark_done: list[str] = field(default_factory=list)


class Choice(RadioButton):
    """A radio button whose dot is drawn only when it is chosen: the choice reads without
    colour (NO_COLOR), where Textual's shows a dot in both states."""

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        side_style = Style(
            foreground=button_style.background,
            background=self.background_colors[1],
        )
        return Content.assemble(
            (self.BUTTON_LEFT, side_style),
            (self.BUTTON_INNER if self.value else " ", button_style),
            (self.BUTTON_RIGHT, side_style),
        )


class ConsentScreen(Dialog[PlanDecision | None]):
    """Dismisses with the decision about every held task, or None (cancel)."""

    DEFAULT_CSS = """
    ConsentScreen > .dialog { width: 90; }
    ConsentScreen #plan-body { height: auto; max-height: 20; }
    ConsentScreen .plan--consent { height: auto; width: 1fr; margin-top: 1; }
    ConsentScreen RadioSet { width: 1fr; }
    ConsentScreen #consent-summary.-refused { color: $text-warning; text-style: bold; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply", id="plan_apply", tooltip="Apply the decision"),
    ]

    APPLY_LABEL = "Resume (a)"

    def __init__(self, held: list[str]) -> None:
        super().__init__()
        self.choices: dict[str, str | None] = dict.fromkeys(held)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Resume?"
            yield Static(
                "The interrupting pause cut these tasks off while they ran. The run "
                "resumes once you decide about each.",
                classes="dialog--text",
            )
            with VerticalScroll(id="plan-body"):
                yield from self.consent_rows()
            yield from self.buttons()

    def consent_rows(self) -> Iterator[Widget]:
        for index, name in enumerate(self.choices):
            yield Static(
                Content.assemble(
                    ("⚠ ", "$text-warning"),
                    (name, "bold"),
                    " is not idempotent and was interrupted: it may have partly "
                    "run. Run it again, or record it as done?",
                ),
                classes="plan--consent",
            )
            yield RadioSet(
                Choice("Run it again", id=f"rerun-{index}"),
                Choice("It completed: mark it done", id=f"done-{index}"),
                id=f"consent-{index}",
                name=name,
            )

    def buttons(self) -> Iterator[Widget]:
        if self.choices:
            yield Static(self._summary(), id="consent-summary", classes="dialog--hint")
        with Horizontal(classes="dialog--buttons"):
            yield Button(self.APPLY_LABEL, variant="primary", id="apply")
            yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._update_apply()
        if self.choices:
            self.query_one("#consent-0", RadioSet).focus()
        else:
            self.query_one("#apply", Button).focus()

    @property
    def decided(self) -> bool:
        return all(choice is not None for choice in self.choices.values())

    def _summary(self) -> str:
        """What applying does, in words, so the choice is visible before `a`."""
        if not self.decided:
            left = [n for n, c in self.choices.items() if c is None]
            label = self.APPLY_LABEL.split(" (")[0]
            return (
                f"{label} is off until you choose for every task above: "
                f"{len(left)} of {len(self.choices)} still open ({', '.join(left[:3])}"
                f"{' ...' if len(left) > 3 else ''}). "
                "↑ ↓ picks an answer, enter or space chooses it."
            )
        again = [n for n, c in self.choices.items() if c == "rerun"]
        done = [n for n, c in self.choices.items() if c == "done"]
        parts = []
        if again:
            parts.append(f"{', '.join(again)} will run again")
        if done:
            parts.append(f"{', '.join(done)} will be recorded as done")
        return "On a: " + "; ".join(parts) + "."

    def _update_apply(self) -> None:
        self.query_one("#apply", Button).disabled = not self.decided
        if self.choices:
            self.query_one("#consent-summary", Static).update(self._summary())

    @on(RadioSet.Changed)
    def _chosen(self, event: RadioSet.Changed) -> None:
        event.stop()
        name = event.radio_set.name
        if name is not None and name in self.choices:
            pressed = event.pressed.id or ""
            self.choices[name] = "rerun" if pressed.startswith("rerun-") else "done"
        self._update_apply()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True  # `a` before every task is decided says what is missing

    def decision(self) -> PlanDecision:
        return PlanDecision(
            rerun_interrupted=any(c == "rerun" for c in self.choices.values()),
            mark_done=[name for name, c in self.choices.items() if c == "done"],
        )

    def action_apply(self) -> None:
        if self.decided:
            self.dismiss(self.decision())
        elif self.choices:
            summary = self.query_one("#consent-summary", Static)
            summary.add_class("-refused")
            self.app.bell()

    @on(Button.Pressed, "#apply")
    def _apply(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
