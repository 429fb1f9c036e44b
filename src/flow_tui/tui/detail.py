"""The detail pane: everything known about the highlighted task, and its log lines."""

from __future__ import annotations

from typing import ClassVar

from rich.pretty import Pretty
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from flow_tui.tui.status import GLYPH, STATUS_STYLE, RowStatus, format_duration
from flow_tui.tui.view import RunView


def _names(names: list[str]) -> Content:
    return Content(", ".join(names)) if names else Content.styled("none", "$text-muted")


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
        scrollbar-size-vertical: 1;
    }
    TaskDetail:focus { background-tint: $foreground 4%; }
    TaskDetail > Static { width: 1fr; height: auto; }
    TaskDetail > .detail--heading { text-style: bold; margin-top: 1; }
    TaskDetail > #detail-title { text-style: bold; }
    TaskDetail > #detail-error { color: $text-error; }
    TaskDetail > #detail-traceback { color: $text-muted; }
    TaskDetail > #detail-log { color: $text; }
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
            title.update("No task highlighted")
            fields.update(Content.styled("Move in the task tree to see a task here.", "dim"))
            self._section("error", None)
            self._section("data", None)
            self._section("log", None)
            self.query_one("#detail-traceback", Static).display = False
            return
        view = self.view
        step = view.step(name)
        result = view.result(name)
        status = view.status(name)
        title.update(Text(name))
        rows: list[tuple[str, Content]] = []
        status_text = Content.styled(f"{GLYPH[status]} {status.value}", STATUS_STYLE[status])
        rows.append(("Status", status_text))
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
        fields.update(Content("\n").join(lines))

        error = result.error if result is not None else None
        self._section("error", Text(error) if error else None)
        traceback = self.query_one("#detail-traceback", Static)
        if result is not None and result.traceback:
            traceback.update(Text(result.traceback.rstrip()))
            traceback.display = True
        else:
            traceback.display = False
        data = None
        if result is not None and result.data is not None:
            data = Pretty(result.data) if not result.data_is_repr else Text(str(result.data))
        self._section("data", data)
        logs = view.logs(name)
        log = Text("\n".join(logs)) if logs else None
        self._section("log", log, empty="no log lines")

    def _signature(self, name: str | None) -> tuple[object, ...]:
        if name is None:
            return ()
        view = self.view
        duration = view.duration(name)
        return (
            view.status(name),
            id(view.result(name)),
            view.attempts(name),
            None if duration is None else round(duration, 1),
            len(view.logs(name)),
            view.rerun_reason(name),
        )

    def _section(self, key: str, body: object, empty: str | None = None) -> None:
        heading = self.query_one(f"#detail-{key}-heading", Static)
        widget = self.query_one(f"#detail-{key}", Static)
        if body is None and empty is None:
            heading.display = widget.display = False
            return
        heading.display = widget.display = True
        if body is None:
            widget.update(Content.styled(empty or "", "$text-muted"))
        else:
            widget.update(body)  # type: ignore[arg-type]
