"""The dashboard's full-screen views of the highlighted task and of the run: the timeline
(`t`) and the log view (`l`), and the wide detail pane (`w`). The `t` and `l` keys are
bound in app.py; this layer says what they do.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from flow_tui.tui.display import RunDisplay
from flow_tui.tui.log_view import LogScreen
from flow_tui.tui.timeline_view import TimelineScreen


class CockpitViews(RunDisplay):
    """A layer of the dashboard app (below its keys): `action_timeline`,
    `action_log_view`, `action_wide_detail`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "w",
            "wide_detail",
            "Wide detail",
            show=False,
            id="wide_detail",
            tooltip="Widen the detail pane to the whole width (w again: back)",
        ),
    ]

    wide_detail = False

    def action_timeline(self) -> None:
        """The timeline of the run: one bar per task attempt, in sync with the tree."""
        if isinstance(self.screen, TimelineScreen):
            return
        plan = self.session.plan
        screen = TimelineScreen(
            self.view.history,
            self.clock.monotonic,
            self.task_tree.highlighted_task,
            kept=len(plan.kept) if plan is not None else 0,
            on_select=self._timeline_selected,
            on_log=self.show_log,
            live=lambda: self.session.is_running and not self.clock.frozen,
        )
        self.push_screen(screen, self._timeline_closed)

    def _timeline_selected(self, name: str) -> None:
        self.task_tree.select_task(name)

    def _timeline_closed(self, name: str | None) -> None:
        if name is not None:
            self.task_tree.select_task(name)

    def action_log_view(self) -> None:
        """The log of the highlighted task, full screen: followed, scrolled, searched."""
        name = self.task_tree.highlighted_task
        if name is None:
            self.notify("Highlight a task to see its log.", timeout=4)
            return
        self.show_log(name)

    def show_log(self, name: str) -> None:
        if isinstance(self.screen, LogScreen):
            return
        self.push_screen(LogScreen(name, self.session.task_logs, self.view.history, self.clock))

    def action_wide_detail(self) -> None:
        """The detail pane over the whole width (the tree hidden), or back."""
        self.wide_detail = not self.wide_detail
        self.query_one("#tree-column").display = not self.wide_detail
        if self.wide_detail:
            self.set_focus(self.detail_pane)
        else:
            self.set_focus(self.task_tree)
