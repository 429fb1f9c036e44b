"""The header: workflow name, run state, elapsed time, counts per status, progress."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from flow_tui.session import RunState
from flow_tui.tui.status import GLYPH, ORDER, RowStatus, format_clock
from flow_tui.tui.view import RunView

_STATE_GLYPH = {
    RunState.PENDING: "○",
    RunState.RUNNING: "●",
    RunState.PAUSING: "◐",
    RunState.PAUSED: "‖",
    RunState.FINISHED: "✔",
    RunState.FAILED: "✘",
    RunState.CANCELLED: "⊘",
}

COUNT_STYLE = {
    RowStatus.PENDING: "$text-muted",
    RowStatus.RUNNING: "$text-accent",
    RowStatus.SUCCESS: "$text-success",
    RowStatus.FAILURE: "$text-error",
    RowStatus.SKIPPED: "$text-muted",
    RowStatus.CANCELLED: "$text-warning",
    RowStatus.INTERRUPTED: "$text-warning",
}


def state_label(state: RunState, running: int) -> str:
    if state is RunState.PAUSING:
        return f"{_STATE_GLYPH[state]} pausing ({running} running)"
    return f"{_STATE_GLYPH[state]} {state.value}"


def counts_content(counts: dict[RowStatus, int]) -> Content:
    total = sum(counts.values())
    parts = [Content(f"{total} tasks:")]
    for status in ORDER:
        n = counts.get(status, 0)
        if n or status in (RowStatus.SUCCESS, RowStatus.PENDING):
            parts.append(Content.styled(f"{GLYPH[status]} {n} {status.value}", COUNT_STYLE[status]))
    return Content("  ").join(parts)


class RunHeader(Widget):
    DEFAULT_CSS = """
    RunHeader {
        height: 2;
        padding: 0 1;
        background: $panel;
    }
    RunHeader > Horizontal { height: 1; }
    RunHeader #run-name { width: auto; text-style: bold; color: $text-primary; }
    RunHeader #run-state { width: auto; margin-left: 2; text-style: bold; }
    RunHeader #run-state.-running { color: $text-accent; }
    RunHeader #run-state.-pausing, RunHeader #run-state.-paused { color: $text-warning; }
    RunHeader #run-state.-finished { color: $text-success; }
    RunHeader #run-state.-failed { color: $text-error; }
    RunHeader #run-state.-cancelled { color: $text-warning; }
    RunHeader #run-elapsed { width: 1fr; margin-left: 2; color: $text-muted; }
    RunHeader ProgressBar { width: auto; }
    RunHeader ProgressBar Bar { width: 20; }
    RunHeader #run-counts { height: 1; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(id="run-name")
            yield Static(id="run-state")
            yield Static(id="run-elapsed")
            yield ProgressBar(show_eta=False, id="run-progress")
        yield Static(id="run-counts")

    def show(self, view: RunView, counts: dict[RowStatus, int]) -> None:
        state = view.state
        self.query_one("#run-name", Static).update(Content(view.workflow_name))
        label = self.query_one("#run-state", Static)
        label.update(state_label(state, counts.get(RowStatus.RUNNING, 0)))
        label.set_classes(f"-{state.value}")
        self.show_elapsed(view)
        self.query_one("#run-counts", Static).update(counts_content(counts))
        total = sum(counts.values())
        done = sum(n for status, n in counts.items() if status.is_done)
        self.query_one("#run-progress", ProgressBar).update(total=max(total, 1), progress=done)

    def show_elapsed(self, view: RunView) -> None:
        self.query_one("#run-elapsed", Static).update(f"⏱ {format_clock(view.elapsed())}")
