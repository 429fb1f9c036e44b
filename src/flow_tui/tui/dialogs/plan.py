"""The resume plan: what loading a snapshot keeps, re-runs, leaves pending, adds and drops,
and the interrupted non-idempotent tasks the operator must decide about before anything
runs. The same words (kept / re-run / pending / new) name the counts in the banners."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from flow_tui.core.resume import ResumePlan
from flow_tui.core.snapshot import Snapshot
from flow_tui.tui.clock import Clock
from flow_tui.tui.dialogs.consent import ConsentScreen, PlanDecision
from flow_tui.tui.dialogs.paths import display_path

__all__ = ["PlanDecision", "PlanScreen"]

MAX_LISTED = 40


def _listing(names: list[str]) -> Content:
    shown = names[:MAX_LISTED]
    text = ", ".join(shown)
    if len(names) > MAX_LISTED:
        text += f" and {len(names) - MAX_LISTED} more"
    return Content(text)


class PlanScreen(ConsentScreen):
    """The plan of a resume, with the consent questions of its interrupted tasks."""

    DEFAULT_CSS = """
    PlanScreen .plan--section { height: auto; width: 1fr; }
    """

    APPLY_LABEL = "Apply (a)"

    def __init__(
        self,
        plan: ResumePlan,
        path: Path,
        snapshot: Snapshot | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(plan.needs_consent)
        self.plan = plan
        self.path = path
        self.snapshot = snapshot
        self.clock = clock or Clock()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Resume plan"
            yield Static(self._about(), classes="dialog--text")
            with VerticalScroll(id="plan-body"):
                yield from self._sections()
                yield from self.consent_rows()
            yield from self.buttons()

    def _sections(self) -> Iterator[Widget]:
        plan = self.plan
        if plan.graph_changed:
            yield Static(
                Content.styled(
                    "The workflow's tasks or dependencies changed since this snapshot was saved.",
                    "$text-warning",
                ),
                classes="plan--section",
            )
        yield self._section("kept", "Kept", plan.kept, "succeeded before: they will not run again")
        yield self._rerun_section()
        if plan.pending:
            yield self._section(
                "pending", "Pending", plan.pending, "in the snapshot, never ran: they run now"
            )
        if plan.new:
            yield self._section("new", "New", plan.new, "not in the snapshot: they will run")
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
