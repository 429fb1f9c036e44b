"""The message bar under the header: an alert (a stop signal and its grace period), the
run's summary when it ends, a note, and errors.

Errors stay until the operator dismisses them (or newer ones push them out); nothing
that went wrong disappears on a timer.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

MAX_ERRORS = 3


class RunMessages(Static):
    DEFAULT_CSS = """
    RunMessages {
        height: auto;
        max-height: 5;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    RunMessages.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.alert: Content | None = None
        self.summary: Content | None = None
        self.note: Content | None = None
        self.note_ends_with_run = False
        self.errors: list[str] = []
        self.dropped = 0
        self._shown: Content = Content("")

    def set_alert(self, text: str | None) -> None:
        """What the dashboard is doing on its own (stopping on a signal), shown first."""
        self.alert = Content.styled(f"⚠ {text}", "bold $text-warning") if text else None
        self._render_lines()

    def set_summary(self, summary: Content | None) -> None:
        """The banner of a run that is over (None: a new run is on its way). The end of
        a run also ends a note that was about it ("Retrying ...")."""
        if summary is not None and self.note_ends_with_run:
            self.note = None
            self.note_ends_with_run = False
        self.summary = summary
        self._render_lines()

    def set_note(self, text: str | None, *, until_run_ends: bool = False) -> None:
        """A one-line hint (what a loaded snapshot will do, what to press next);
        `until_run_ends`: the run's summary replaces it."""
        self.note = Content(text) if text else None
        self.note_ends_with_run = bool(text) and until_run_ends
        self._render_lines()

    def add_error(self, text: str) -> None:
        self.errors.append(text)
        if len(self.errors) > MAX_ERRORS:
            self.dropped += len(self.errors) - MAX_ERRORS
            del self.errors[:-MAX_ERRORS]
        self._render_lines()

    def clear_errors(self) -> None:
        self.errors = []
        self.dropped = 0
        self._render_lines()

    def _render_lines(self) -> None:
        lines: list[Content] = []
        if self.alert is not None:
            lines.append(self.alert)
        if self.summary is not None:
            lines.append(self.summary)
        if self.note is not None:
            lines.append(self.note)
        if self.dropped:
            lines.append(Content.styled(f"({self.dropped} earlier errors)", "$text-muted"))
        lines.extend(Content.styled(f"✘ {text}", "$text-error") for text in self.errors)
        content = Content("\n").join(lines)
        if content == self._shown:
            return  # unchanged: spare the layout an update costs
        self._shown = content
        self.update(content)
        self.set_class(bool(lines), "-shown")
