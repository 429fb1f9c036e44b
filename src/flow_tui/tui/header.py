"""The header: workflow name, run state, elapsed time, counts per status, progress.

One widget that renders two lines: updating it repaints two lines and never asks for a
layout, which matters at ten updates a second.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from flow_tui.session import RunState
from flow_tui.tui.status import (
    GLYPH,
    ORDER,
    STATUS_STYLE,
    RowStatus,
    progress_done,
)
from flow_tui.tui.summary import run_time
from flow_tui.tui.view import RunView

BAR_WIDTH = 20

_STATE_GLYPH = {
    RunState.PENDING: "○",
    RunState.RUNNING: "●",
    RunState.PAUSING: "◐",
    RunState.PAUSED: "‖",
    RunState.FINISHED: "✔",
    RunState.FAILED: "✘",
    RunState.CANCELLED: "⊘",
}

_STATE_STYLE = {
    RunState.PENDING: "bold $text-muted",
    RunState.RUNNING: "bold $text-accent",
    RunState.PAUSING: "bold $text-warning",
    RunState.PAUSED: "bold $text-warning",
    RunState.FINISHED: "bold $text-success",
    RunState.FAILED: "bold $text-error",
    RunState.CANCELLED: "bold $text-warning",
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
            label = f"{GLYPH[status]} {n} {status.value}"
            parts.append(Content.styled(label, STATUS_STYLE[status]))
    return Content("  ").join(parts)


def progress_content(done: int, total: int) -> Content:
    fraction = done / total if total else 0.0
    filled = round(fraction * BAR_WIDTH)
    return Content.assemble(
        ("━" * filled, "$success" if done == total and total else "$accent"),
        ("─" * (BAR_WIDTH - filled), "$foreground 30%"),
        f" {fraction:4.0%}",
    )


def executor_label(info: dict[str, object]) -> str:
    """Where the bodies run, when not in this process: "⚙ dask LocalCluster · 2 workers ·
    tcp://127.0.0.1:8786"; "" for the local executor."""
    if info.get("executor", "local") == "local":
        return ""
    parts = [f"⚙ {info.get('executor')}"]
    if info.get("cluster"):
        parts[0] += f" {info['cluster']}"
    if info.get("workers") is not None:
        parts.append(f"{info['workers']} workers")
    if info.get("address"):
        parts.append(str(info["address"]))
    return " · ".join(parts)


class RunHeader(Widget):
    DEFAULT_CSS = """
    RunHeader {
        height: 2;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.workflow_name = ""
        self.state = RunState.PENDING
        self.counts: dict[RowStatus, int] = {}
        self.elapsed = 0.0
        self.time = "⏱ 0:00"  # running time, paused time, ETA (summary.run_time)
        self.attached = ""  # "attached to RUN (pid N)" on a dashboard of another process
        self.executor = ""  # where the bodies run, when not here (executor_label)

    def show(self, view: RunView, counts: dict[RowStatus, int]) -> None:
        self.workflow_name = view.workflow_name
        self.state = view.state
        self.counts = counts
        self.elapsed = view.elapsed()
        self.time = run_time(view)
        self.executor = executor_label(view.session.executor_info)
        self.refresh()

    def show_elapsed(self, view: RunView) -> None:
        shown = run_time(view)
        if shown != self.time:
            self.elapsed = view.elapsed()
            self.time = shown
            self.refresh()

    @property
    def state_text(self) -> str:
        return state_label(self.state, self.counts.get(RowStatus.RUNNING, 0))

    def render(self) -> Content:
        counts = self.counts
        total = sum(counts.values())
        done = progress_done(counts)
        left = Content.assemble(
            (self.workflow_name, "bold $text-primary"),
            "  ",
            (self.state_text, _STATE_STYLE[self.state]),
            "  ",
            (self.time, "$text-muted"),
        )
        if self.attached:
            left += Content.styled(f"  ⇄ {self.attached}", "bold $text-secondary")
        bar = progress_content(done, total)
        room = self.content_size.width - left.cell_length - bar.cell_length
        first = left + Content(" " * room) + bar if room >= 2 else left
        second = counts_content(counts)
        if self.executor:
            where = Content.styled(self.executor, "$text-muted")
            gap = self.content_size.width - second.cell_length - where.cell_length
            if gap >= 2:
                second = second + Content(" " * gap) + where
        return Content("\n").join([first, second])
