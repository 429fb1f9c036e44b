"""The detail pane: everything known about the highlighted task, its attempts in this
session, and its log lines by attempt.

Tracebacks and log lines never wrap (a wrapped path or a cut word reads wrong): the pane
scrolls sideways, and `w` widens it to the whole width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.pretty import Pretty
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Static

from flow_tui.tui.attempts import OUTCOME_GLYPH, Attempt, Outcome, retry_countdown
from flow_tui.tui.dialogs.paths import display_path
from flow_tui.tui.log_view import attempt_header
from flow_tui.tui.status import GLYPH, STATUS_STYLE, RowStatus, format_duration
from flow_tui.tui.view import RunView

# How an attempt ended: its style in the attempt list (its glyph: OUTCOME_GLYPH).
_OUTCOME_STYLE: dict[Outcome, str] = {
    Outcome.SUCCESS: "$text-success",
    Outcome.FAILURE: "$text-error",
    Outcome.CANCELLED: "$text-warning",
    Outcome.INTERRUPTED: "$text-warning",
    Outcome.RUNNING: "$text-accent",
    Outcome.WAITING: "$text-warning",
}


def _names(names: list[str]) -> Content:
    return Content(", ".join(names)) if names else Content.styled("none", "$text-muted")


def _update(widget: Static, body: VisualType) -> None:
    """`Static.update` that lays the screen out only when the widget's size changes.

    A layout of the screen repaints all of it (the task tree's rows included: ~25 ms at
    120x40 with thousands of tasks), while a new text of the same size repaints only the
    widget; the pane is updated at every repaint of a task that runs or just changed."""
    parent = widget.parent
    size = widget.content_size
    if not widget.display or not size or not isinstance(parent, Widget):
        widget.update(body)  # not laid out yet (or hidden): the layout places it
        return
    container = parent.scrollable_content_region.size
    viewport = widget.screen.size
    width_rule = widget.styles.width
    auto_width = width_rule is not None and width_rule.is_auto
    before = widget.get_content_width(container, viewport) if auto_width else 0
    widget.update(body, layout=False)  # forgets the cached dimensions of the old text
    if auto_width:
        after = widget.get_content_width(container, viewport)
        # At its min-width (the pane's width) both before and after, or as wide as it is.
        if not (after == size.width or (after < size.width and before < size.width)):
            widget.refresh(layout=True)
            return
    if widget.get_content_height(container, viewport, size.width) != size.height:
        widget.refresh(layout=True)


def _show(widget: Widget, shown: bool) -> None:
    """Set `display` only when it changes (each set lays the screen out again)."""
    if widget.display != shown:
        widget.display = shown


class TaskDetail(VerticalScroll):
    """Focusable and scrollable; text can be selected with the mouse and copied."""

    can_focus = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "app.focus_tree",
            "Back",
            id="detail_back",
            tooltip="Back to the task tree",
        ),
    ]

    DEFAULT_CSS = """
    TaskDetail {
        background: $surface;
        padding: 0 1;
        scrollbar-size: 1 1;
        overflow-x: auto;
    }
    TaskDetail:focus { background-tint: $foreground 4%; }
    TaskDetail > Static { width: 1fr; height: auto; }
    TaskDetail > .detail--heading { text-style: bold; margin-top: 1; }
    TaskDetail > #detail-title { text-style: bold; }
    TaskDetail > #detail-error { color: $text-error; }
    TaskDetail > #detail-traceback { color: $text-muted; width: auto; min-width: 100%; }
    TaskDetail > #detail-log { color: $text; width: auto; min-width: 100%; }
    TaskDetail > #detail-attempts { width: auto; min-width: 100%; }
    """

    def __init__(self, view: RunView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.task_name: str | None = None
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="detail-fields")
        yield Static("Error", classes="detail--heading", id="detail-error-heading")
        yield Static(id="detail-error")
        yield Static(id="detail-traceback")
        yield Static("Attempts", classes="detail--heading", id="detail-attempts-heading")
        yield Static(id="detail-attempts")
        yield Static("Data", classes="detail--heading", id="detail-data-heading")
        yield Static(id="detail-data")
        yield Static("Log", classes="detail--heading", id="detail-log-heading")
        yield Static(id="detail-log")

    def show_task(self, name: str | None) -> None:
        """Show `name` (None: nothing highlighted); call again when the task changed."""
        signature = self._signature(name)
        if name == self.task_name and signature == self._shown:
            return  # nothing new: no relayout
        if name != self.task_name:
            self.scroll_home(animate=False)
        self.task_name = name
        self._shown = signature
        title = self.query_one("#detail-title", Static)
        fields = self.query_one("#detail-fields", Static)
        if name is None:
            _update(title, "No task highlighted")
            _update(fields, Content.styled("Move in the task tree to see a task here.", "dim"))
            self._section("error", None)
            self._section("attempts", None)
            self._section("data", None)
            self._section("log", None)
            _show(self.query_one("#detail-traceback", Static), False)
            return
        view = self.view
        step = view.step(name)
        result = view.result(name)
        status = view.status(name)
        _update(title, Text(name))
        rows: list[tuple[str, Content]] = []
        shown = status.value
        left = view.retrying_in(name) if status is RowStatus.RETRYING else None
        if left is not None:
            shown = retry_countdown(left)
        status_text = Content.styled(f"{GLYPH[status]} {shown}", STATUS_STYLE[status])
        rows.append(("Status", status_text))
        kept = self._kept(name)
        if kept is not None:
            rows.append(("Kept", Content(kept)))
        if result is not None and result.message:
            rows.append(("Message", Content(result.message)))
        reason = view.rerun_reason(name)
        if reason and status is not RowStatus.SUCCESS:
            rows.append(("Re-runs", Content(f"because it was {reason}")))
        attempts = view.attempts(name)
        if attempts:
            rows.append(("Attempts", Content(str(attempts))))
        metrics = result.metrics if result is not None else None
        if metrics is not None and metrics.started_at is not None:
            when = view.clock.local(metrics.started_at)
            rows.append(("Started", Content(when.strftime("%Y-%m-%d %H:%M:%S %Z"))))
        if metrics is not None and metrics.finished_at is not None:
            when = view.clock.local(metrics.finished_at)
            rows.append(("Finished", Content(when.strftime("%Y-%m-%d %H:%M:%S %Z"))))
        duration = view.duration(name)
        if duration is not None:
            rows.append(("Duration", Content(format_duration(duration))))
        rows.append(("Depends on", _names(view.dependencies(name))))
        rows.append(("Needed by", _names(view.dependents(name))))
        if step.tags:
            rows.append(("Tags", Content(", ".join(step.tags))))
        traits = []
        if not step.idempotent:
            traits.append("not idempotent")
        if step.version is not None:
            traits.append(f"version {step.version}")
        if step.retry is not None and step.retry.attempts:
            traits.append(f"retries {step.retry.attempts}")
        if step.timeout is not None:
            traits.append(f"timeout {step.timeout:g}s")
        if traits:
            rows.append(("Kind", Content(", ".join(traits))))
        width = max(len(label) for label, _ in rows) + 2
        lines = [Content.styled(label.ljust(width), "bold") + value for label, value in rows]
        _update(fields, Content("\n").join(lines))

        history = view.history.of(name)
        error = result.error if result is not None else None
        trace = result.traceback if result is not None else None
        if error is None and trace is None and status is not RowStatus.SUCCESS:
            # Running again (a retry): the last error stays in view until it ends.
            failed = next((a for a in reversed(history) if a.error or a.traceback), None)
            if failed is not None:
                error = f"attempt {failed.number}: {failed.error or 'failed'}"
                trace = failed.traceback
        self._section("error", Text(error) if error else None)
        traceback = self.query_one("#detail-traceback", Static)
        if trace:
            _show(traceback, True)
            _update(traceback, Text(trace.rstrip(), no_wrap=True))
        else:
            _show(traceback, False)
        self._section("attempts", self._attempts(history) if history else None)
        data = None
        if result is not None and result.data is not None:
            data = Pretty(result.data) if not result.data_is_repr else Text(str(result.data))
        self._section("data", data)
        self._section("log", self._log(name), empty="no log lines")

    def _kept(self, name: str) -> str | None:
        """ "kept from FILE (ran at TIME)" for a success a resume kept, else None."""
        view = self.view
        source = view.session.resumed_from
        if source is None or not view.is_kept(name):
            return None
        result = view.result(name)
        metrics = result.metrics if result is not None else None
        when = None
        if metrics is not None:
            when = metrics.finished_at or metrics.started_at
        ran = (
            f" (ran at {view.clock.local(when).strftime('%Y-%m-%d %H:%M:%S %Z')})"
            if when is not None
            else ""
        )
        return f"kept from {display_path(source)}{ran}"

    def _attempts(self, attempts: Sequence[Attempt]) -> Content:
        """One line per attempt: number, start, duration, outcome, error."""
        view = self.view
        now = view.clock.monotonic()
        lines = []
        for attempt in attempts:
            glyph, style = OUTCOME_GLYPH[attempt.outcome], _OUTCOME_STYLE[attempt.outcome]
            when = view.clock.local(view.history.started(attempt)).strftime("%H:%M:%S")
            if attempt.outcome is Outcome.WAITING:
                took = "-"
                outcome = retry_countdown(max(0.0, attempt.start - now))
            else:
                took = format_duration(attempt.duration(now))
                outcome = attempt.outcome.value
            line = Content.assemble(
                (f"#{attempt.number:<3}", "bold"),
                f" {when} {took:>7} ",
                (f"{glyph} {outcome}", style),
            )
            if attempt.manual:
                line += Content.styled("  (manual retry)", "$text-muted")
            lines.append(line)
            if attempt.error:  # on a line of its own: readable in a narrow pane
                error = attempt.error.splitlines()[0]
                lines.append(Content.styled(f"     {error}", "$text-error"))
        return Content("\n").join(lines)

    def _log(self, name: str) -> Text | None:
        """The log lines, with a header before each attempt's (when it had more than
        one)."""
        view = self.view
        logs = view.logs(name)
        if not logs:
            return None
        history = view.history
        if history.total(name) <= 1:
            return Text("\n".join(logs), no_wrap=True)
        now = view.clock.monotonic()
        out = Text(no_wrap=True)
        for attempt, part in history.split_log(name, logs):
            if attempt is None and not part:
                continue
            if out:
                out.append("\n")
            out.append(attempt_header(attempt, history, view.clock, now), "bold")
            for line in part:
                out.append("\n" + line)
        return out

    def _signature(self, name: str | None) -> tuple[object, ...]:
        if name is None:
            return ()
        view = self.view
        duration = view.duration(name)
        left = view.retrying_in(name)
        return (
            view.status(name),
            id(view.result(name)),
            view.attempts(name),
            None if duration is None else round(duration, 1),
            None if left is None else round(left, 1),
            self._history_signature(name),
            len(view.logs(name)),
            view.rerun_reason(name),
        )

    def _history_signature(self, name: str) -> tuple[object, ...]:
        attempts = self.view.history.of(name)
        if not attempts:
            return ()
        last = attempts[-1]
        return (self.view.history.total(name), last.outcome, last.lines)

    def _section(self, key: str, body: object, empty: str | None = None) -> None:
        heading = self.query_one(f"#detail-{key}-heading", Static)
        widget = self.query_one(f"#detail-{key}", Static)
        if body is None and empty is None:
            _show(heading, False)
            _show(widget, False)
            return
        _show(heading, True)
        _show(widget, True)
        if body is None:
            _update(widget, Content.styled(empty or "", "$text-muted"))
        else:
            _update(widget, body)  # type: ignore[arg-type]
