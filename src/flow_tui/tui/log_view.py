"""The log view (`l`): the log of one task, full screen, by attempt, followed and searched.

A Textual `Log` (lines never wrap: a traceback stays as written; scroll sideways) fed
from the session's capture of the task's output, with a header line before each attempt
(number, start, outcome). It follows new lines while scrolled to the end (End follows
again); `/` searches, n / N go to the next / previous line that matches, all matches are
highlighted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.highlighter import Highlighter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, Log, Static

from flow_tui.tui.attempts import Attempt, AttemptLog, Outcome
from flow_tui.tui.clock import Clock
from flow_tui.tui.status import format_duration

HEADER_MARK = "── "


def attempt_header(attempt: Attempt | None, history: AttemptLog, clock: Clock, now: float) -> str:
    """The line before an attempt's log lines."""
    if attempt is None:
        return f"{HEADER_MARK}earlier output ──"
    when = clock.local(history.started(attempt)).strftime("%H:%M:%S")
    kind = " (manual retry)" if attempt.manual else ""
    if attempt.outcome is Outcome.WAITING:
        state = "waiting for its retry"
    elif attempt.outcome is Outcome.RUNNING:
        state = f"running {format_duration(attempt.duration(now))}"
    else:
        state = f"{attempt.outcome.value} after {format_duration(attempt.duration(now))}"
    return f"{HEADER_MARK}attempt {attempt.number}{kind} · {when} · {state} ──"


class SearchHighlighter(Highlighter):
    """Attempt headers in bold; every match of the search in reverse."""

    def __init__(self) -> None:
        self.pattern: re.Pattern[str] | None = None

    def highlight(self, text: Text) -> None:
        if text.plain.startswith(HEADER_MARK):
            text.stylize("bold")
        if self.pattern is not None:
            for match in self.pattern.finditer(text.plain):
                text.stylize("reverse", match.start(), match.end())


class TaskLogView(Log):
    """A Log whose lines are highlighted by `SearchHighlighter`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(highlight=True, auto_scroll=True, id=id)
        self.search = SearchHighlighter()
        self.highlighter = self.search

    def set_pattern(self, pattern: re.Pattern[str] | None) -> None:
        self.search.pattern = pattern
        self._render_line_cache.clear()
        self.refresh()


class LogScreen(Screen[None]):
    """The log of `task`, full screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,l", "close", "Back", id="log_close"),
        Binding("slash", "search", "Search", id="log_search"),
        Binding("n", "next_match(1)", "Next match", id="log_next"),
        Binding("N,shift+n", "next_match(-1)", "Previous match", id="log_previous"),
        Binding("end,G", "follow", "Follow", id="log_follow", tooltip="Go to the end, follow"),
        Binding("home,g", "top", "Top", show=False),
    ]

    DEFAULT_CSS = """
    LogScreen { layout: vertical; }
    LogScreen > #log-title { height: 1; padding: 0 1; background: $panel; }
    LogScreen > TaskLogView { height: 1fr; background: $surface; }
    LogScreen > #log-search { display: none; }
    LogScreen > #log-search.-shown { display: block; }
    LogScreen > #log-keys { height: 1; padding: 0 1; background: $panel; }
    """

    REFRESH_INTERVAL = 0.2

    def __init__(
        self,
        task: str,
        lines: Callable[[str], Sequence[str]],
        history: AttemptLog,
        clock: Clock,
    ) -> None:
        super().__init__()
        self.task_name = task
        self.read_lines = lines
        self.history = history
        self.clock = clock
        self.matches: list[int] = []
        self.match = -1
        self.search_text = ""
        # What was written: attempts (by identity), how many of their lines, and the
        # outcome their header said.
        self._written: list[tuple[Attempt | None, int, Outcome | None]] = []
        self._version = -1
        self._total = -1
        self._empty = True

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield TaskLogView(id="log")
        yield Input(placeholder="search the log, enter: go", id="log-search")
        yield Static("/ search  n/N next/previous  End follow  ←→ scroll  esc back", id="log-keys")

    @property
    def log_widget(self) -> TaskLogView:
        return self.query_one("#log", TaskLogView)

    def on_mount(self) -> None:
        self.load()
        self.set_focus(self.log_widget)
        self.set_interval(self.REFRESH_INTERVAL, self.update_lines)

    # -- lines -------------------------------------------------------------------------

    def load(self) -> None:
        """Write the whole log again (headers included)."""
        log = self.log_widget
        log.clear()
        self._written = []
        now = self.clock.monotonic()
        lines = self.read_lines(self.task_name)
        out: list[str] = []
        for attempt, part in self.history.split_log(self.task_name, lines):
            if attempt is not None or part:
                out.append(attempt_header(attempt, self.history, self.clock, now))
            out.extend(part)
            if attempt is None:
                self._written.append((None, len(part), None))
            else:
                self._written.append((attempt, attempt.lines, attempt.outcome))
        self._empty = not out
        if not out:
            out.append("(no log lines yet)")
        log.write_lines(out)
        self._version = self.history.version
        self._total = len(lines)
        self._title()

    def update_lines(self) -> None:
        """New lines and attempts since the last look: appended (followed at the end).
        A header's state changed (an attempt ended): written again, in place."""
        lines = self.read_lines(self.task_name)
        attempts = list(self.history.of(self.task_name))
        written = [a for a, _, _ in self._written if a is not None]
        if self.history.version == self._version and len(lines) == self._total:
            return
        if self._empty:
            self._reload_keeping_place()
            return
        if written != attempts[: len(written)] or any(
            a is not None and a.outcome is not shown for a, _, shown in self._written
        ):
            # An attempt dropped out, or one ended: its header says so now.
            self._reload_keeping_place()
            return
        parts = list(self.history.split_log(self.task_name, lines))
        by_attempt = {id(a): part for a, part in parts if a is not None}
        out: list[str] = []
        now = self.clock.monotonic()
        new_written: list[tuple[Attempt | None, int, Outcome | None]] = []
        for attempt, count, shown in self._written:
            if attempt is not None:
                fresh = attempt.lines - count
                if fresh > 0:
                    out.extend(by_attempt.get(id(attempt), [])[-fresh:])
                count = attempt.lines
            new_written.append((attempt, count, shown))
        for attempt in attempts[len(written) :]:
            out.append(attempt_header(attempt, self.history, self.clock, now))
            out.extend(by_attempt.get(id(attempt), []))
            new_written.append((attempt, attempt.lines, attempt.outcome))
        self._written = new_written
        self._version = self.history.version
        self._total = len(lines)
        if out:
            self.log_widget.write_lines(out)
            self._find()
        self._title()

    def _reload_keeping_place(self) -> None:
        log = self.log_widget
        at_end = log.is_vertical_scroll_end
        y = log.scroll_y
        self.load()
        self._find()
        if at_end:
            log.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            log.scroll_to(y=y, animate=False, immediate=True)

    def _title(self) -> None:
        log = self.log_widget
        attempts = self.history.total(self.task_name)
        parts = [f"Log of {self.task_name}", f"{attempts} attempt(s)"]
        parts.append("following" if log.is_vertical_scroll_end else "scrolled (End follows)")
        if self.search_text:
            if self.matches:
                parts.append(f"/{self.search_text}: match {self.match + 1} of {len(self.matches)}")
            else:
                parts.append(f"/{self.search_text}: no match")
        self.query_one("#log-title", Static).update(Text("  ·  ".join(parts)), layout=False)

    # -- search ------------------------------------------------------------------------

    def action_search(self) -> None:
        field = self.query_one("#log-search", Input)
        field.add_class("-shown")
        self.set_focus(field)

    @on(Input.Submitted, "#log-search")
    def _searched(self, event: Input.Submitted) -> None:
        field = event.input
        field.remove_class("-shown")
        self.set_focus(self.log_widget)
        self.search(event.value)

    def search(self, query: str) -> None:
        """Highlight `query` (case-insensitive) and go to its first match at or below the
        top of the view."""
        self.search_text = query.strip()
        pattern = (
            re.compile(re.escape(self.search_text), re.IGNORECASE) if self.search_text else None
        )
        self.log_widget.set_pattern(pattern)
        self._find()
        if self.matches:
            top = int(self.log_widget.scroll_y)
            self.match = next((i for i, y in enumerate(self.matches) if y >= top), 0)
            self._go()
        self._title()

    def _find(self) -> None:
        query = self.search_text.lower()
        if not query:
            self.matches = []
            self.match = -1
            return
        self.matches = [y for y, line in enumerate(self.log_widget.lines) if query in line.lower()]
        if self.match >= len(self.matches):
            self.match = len(self.matches) - 1

    def action_next_match(self, step: int) -> None:
        if not self.matches:
            self._title()
            return
        self.match = (self.match + step) % len(self.matches)
        self._go()
        self._title()

    def _go(self) -> None:
        log = self.log_widget
        y = self.matches[self.match]
        log.scroll_to(y=max(0, y - log.size.height // 2), animate=False, immediate=True)

    @property
    def match_line(self) -> int | None:
        """The line of the current match (None without one)."""
        return self.matches[self.match] if self.matches and self.match >= 0 else None

    def action_follow(self) -> None:
        self.log_widget.scroll_end(animate=False, immediate=True, x_axis=False)
        self._title()

    def action_top(self) -> None:
        self.log_widget.scroll_home(animate=False, immediate=True)
        self._title()

    def action_close(self) -> None:
        self.dismiss(None)
