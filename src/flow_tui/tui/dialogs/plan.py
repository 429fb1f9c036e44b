"""The resume plan: what loading a snapshot keeps, re-runs, adds and drops, and the
interrupted non-idempotent tasks the operator must decide about before anything runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, RadioButton, RadioSet, Static

from flow_tui.core.snapshot import Snapshot
from flow_tui.core.state import ResumePlan
from flow_tui.tui.clock import Clock
from flow_tui.tui.dialogs.base import Dialog
from flow_tui.tui.dialogs.paths import display_path

MAX_LISTED = 40


@dataclass(slots=True)
class PlanDecision:
    """The operator's answer: re-run the interrupted tasks, or record some as done."""

    rerun_interrupted: bool = False
    mark_done: list[str] = field(default_factory=list)


def _listing(names: list[str]) -> Content:
    shown = names[:MAX_LISTED]
    text = ", ".join(shown)
    if len(names) > MAX_LISTED:
        text += f" and {len(names) - MAX_LISTED} more"
    return Content(text)


class PlanScreen(Dialog[PlanDecision | None]):
    DEFAULT_CSS = """
    PlanScreen > .dialog { width: 90; }
    PlanScreen #plan-body { height: auto; max-height: 20; }
    PlanScreen .plan--section { height: auto; width: 1fr; }
    PlanScreen .plan--consent { height: auto; width: 1fr; margin-top: 1; }
    PlanScreen RadioSet { width: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "apply", "Apply", id="plan_apply", tooltip="Apply this resume plan"),
    ]

    def __init__(
        self,
        plan: ResumePlan,
        path: Path,
        snapshot: Snapshot | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.plan = plan
        self.path = path
        self.snapshot = snapshot
        self.clock = clock or Clock()
        self.choices: dict[str, str | None] = dict.fromkeys(plan.needs_consent)

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog") as box:
            box.border_title = "Resume plan"
            yield Static(self._about(), classes="dialog--text")
            with VerticalScroll(id="plan-body"):
                if plan.graph_changed:
                    yield Static(
                        Content.styled(
                            "The workflow's tasks or dependencies changed since this "
                            "snapshot was saved.",
                            "$text-warning",
                        ),
                        classes="plan--section",
                    )
                yield self._section(
                    "kept",
                    "Kept",
                    plan.kept,
                    "succeeded before: they will not run again",
                )
                yield self._rerun_section()
                if plan.new:
                    yield self._section(
                        "new", "New", plan.new, "not in the snapshot: they will run"
                    )
                if plan.removed:
                    yield self._section(
                        "removed",
                        "Removed",
                        plan.removed,
                        "in the snapshot, no longer in the workflow: ignored",
                    )
                if plan.interrupted:
                    yield self._section(
                        "interrupted",
                        "Interrupted",
                        plan.interrupted,
                        "cut off while running: they run again",
                    )
                for index, name in enumerate(plan.needs_consent):
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
                        RadioButton("Run it again", id=f"rerun-{index}"),
                        RadioButton("It completed: mark it done", id=f"done-{index}"),
                        id=f"consent-{index}",
                        name=name,
                    )
            with Horizontal(classes="dialog--buttons"):
                yield Button("Apply (a)", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    def _about(self) -> Content:
        parts = [Content.styled(display_path(self.path), "bold")]
        snap = self.snapshot
        if snap is not None:
            saved = self.clock.local(snap.created_at).strftime("%Y-%m-%d %H:%M:%S %Z")
            parts.append(Content(f"workflow {snap.workflow or '?'}, {snap.status}, saved {saved}"))
        return Content("\n").join(parts)

    def _section(self, key: str, title: str, names: list[str], what: str) -> Static:
        head = Content.assemble((f"{title} ({len(names)})", "bold"), f" {what}")
        body = Content("\n").join([head, _listing(names)]) if names else head
        return Static(body, classes="plan--section", id=f"plan-{key}")

    def _rerun_section(self) -> Static:
        rerun = self.plan.rerun
        head = Content.assemble(
            (f"Re-run ({len(rerun)})", "bold"), " failed, cancelled, skipped or changed"
        )
        lines = [head]
        for name, why in list(rerun.items())[:MAX_LISTED]:
            lines.append(Content.assemble(name, (f"  {why}", "$text-muted")))
        if len(rerun) > MAX_LISTED:
            lines.append(Content(f"and {len(rerun) - MAX_LISTED} more"))
        return Static(Content("\n").join(lines), classes="plan--section", id="plan-rerun")

    def on_mount(self) -> None:
        self._update_apply()
        if self.choices:
            self.query_one("#consent-0", RadioSet).focus()
        else:
            self.query_one("#apply", Button).focus()

    @property
    def decided(self) -> bool:
        return all(choice is not None for choice in self.choices.values())

    def _update_apply(self) -> None:
        self.query_one("#apply", Button).disabled = not self.decided

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
        if action == "apply":
            return True if self.decided else None
        return True

    def decision(self) -> PlanDecision:
        return PlanDecision(
            rerun_interrupted=any(c == "rerun" for c in self.choices.values()),
            mark_done=[name for name, c in self.choices.items() if c == "done"],
        )

    def action_apply(self) -> None:
        if self.decided:
            self.dismiss(self.decision())

    @on(Button.Pressed, "#apply")
    def _apply(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
