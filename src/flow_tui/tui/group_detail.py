"""The detail pane of a group header: what the group's tasks did, counted, and its time.

Shown in place of the task detail while the cursor is on a group's row, so the pane never
shows a task that is not highlighted any more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from flow_tui.tui.status import GLYPH, ORDER, STATUS_STYLE, RowStatus, format_duration
from flow_tui.tui.view import RunView


def group_content(view: RunView, title: str, names: Sequence[str], shown: int) -> Content:
    """What the pane says about group `title` (`names`: all its tasks; `shown`: how many
    the filter shows)."""
    statuses = view.statuses
    tally = Counter(statuses.get(n, RowStatus.PENDING) for n in names)
    kept = sum(1 for n in names if view.is_kept(n))
    lines: list[Content] = [Content.styled(title, "bold"), Content("")]
    total = len(names)
    what = f"{total} task{'s' if total != 1 else ''}"
    if shown != total:
        what += f", {shown} shown by the filter"
    rows: list[tuple[str, Content]] = [("Tasks", Content(what))]
    for status in ORDER:
        if tally[status]:
            text = f"{GLYPH[status]} {tally[status]} {status.value}"
            if status is RowStatus.SUCCESS and kept:
                text += f" ({kept} kept from the snapshot)"
            rows.append(("", Content.styled(text, STATUS_STYLE[status])))
    starts: list[datetime] = []
    ends: list[datetime] = []
    busy = 0.0
    slowest: tuple[float, str] | None = None
    for name in names:
        if view.is_kept(name):
            continue  # ran in an earlier run: not this run's time
        duration = view.duration(name)
        if duration is not None:
            busy += duration
            if slowest is None or duration > slowest[0]:
                slowest = (duration, name)
        result = view.result(name)
        metrics = result.metrics if result is not None else None
        if metrics is not None and metrics.started_at is not None:
            starts.append(metrics.started_at)
            if metrics.finished_at is not None:
                ends.append(metrics.finished_at)
    if starts:
        first = view.clock.local(min(starts))
        rows.append(("First start", Content(first.strftime("%H:%M:%S"))))
    if ends and not tally[RowStatus.RUNNING] and len(ends) == len(starts):
        last = max(ends)
        rows.append(("Last end", Content(view.clock.local(last).strftime("%H:%M:%S"))))
        rows.append(("Span", Content(format_duration((last - min(starts)).total_seconds()))))
    if busy:
        rows.append(("Task time", Content(f"{format_duration(busy)} (sum of its tasks)")))
    if slowest is not None:
        rows.append(("Slowest", Content(f"{slowest[1]} ({format_duration(slowest[0])})")))
    width = max(len(label) for label, _ in rows) + 2
    lines.extend(Content.styled(label.ljust(width), "bold") + value for label, value in rows)
    lines.append(Content(""))
    lines.append(
        Content.styled("enter or h/l folds it; j/k or ↑/↓ moves to its tasks.", "$text-muted")
    )
    return Content("\n").join(lines)


class GroupDetail(Static):
    """The pane of the highlighted group header (hidden on a task row)."""

    DEFAULT_CSS = """
    GroupDetail {
        width: 1fr;
        height: 1fr;
        padding: 0 1;
        background: $surface;
        border-left: vkey $panel-lighten-2;
        display: none;
    }
    GroupDetail.-shown { display: block; }
    """

    def __init__(self, view: RunView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.group_title: str | None = None
        self._shown: Content | None = None

    def show_group(self, title: str, names: Sequence[str], shown: int) -> None:
        self.group_title = title
        content = group_content(self.view, title, names, shown)
        if content != self._shown:
            self._shown = content
            self.update(content)

    @property
    def text(self) -> str:
        """What the pane says, as plain text."""
        return self._shown.plain if self._shown is not None else ""
