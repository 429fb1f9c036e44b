"""The `/` filter: one line above the tree, matching task name, status or tag.

It posts `FilterBar.QueryChanged` with the query to apply: on every keystroke in a small
workflow, after a pause in typing in a large one (rebuilding thousands of rows per
keystroke would lag the typing); enter applies a query still waiting at once.
"""

from __future__ import annotations

from textual import on
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

#: Up to this many tasks the filter applies on every keystroke.
FILTER_AT_ONCE = 1000
#: Above it, how long typing must pause before the filter applies (seconds).
FILTER_DELAY = 0.15


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar {
        display: none;
        height: 1;
        margin: 0 0 0 0;
    }
    FilterBar.-shown { display: block; }
    """

    class QueryChanged(Message):
        """The query the tree should show now (stripped; "" shows every task)."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    def __init__(self, *, tasks: int = 0, id: str | None = None) -> None:
        """`tasks`: how many tasks the filter runs over (it decides the delay)."""
        super().__init__(
            placeholder="filter: words in the name, a status or a tag (esc clears)",
            compact=True,
            id=id,
        )
        self.delay = 0.0 if tasks <= FILTER_AT_ONCE else FILTER_DELAY
        self._waiting: Timer | None = None

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def show(self) -> None:
        self.add_class("-shown")
        if isinstance(self.parent, FilterRow):
            self.parent.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")
        if isinstance(self.parent, FilterRow):
            self.parent.remove_class("-shown")

    def _stop_waiting(self) -> bool:
        """Drop a query still waiting for its delay; True if there was one."""
        if self._waiting is None:
            return False
        self._waiting.stop()
        self._waiting = None
        return True

    def _apply(self, value: str) -> None:
        self._waiting = None
        self.post_message(self.QueryChanged(value.strip()))

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self._stop_waiting()
        if self.delay <= 0:
            self._apply(event.value)
        else:
            value = event.value
            self._waiting = self.set_timer(self.delay, lambda: self._apply(value))

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        if self._stop_waiting():
            self._apply(event.value)


class FilterCount(Static):
    """Beside the filter: how many tasks it shows of how many ("12 of 5000")."""

    DEFAULT_CSS = """
    FilterCount { width: auto; height: 1; padding: 0 0 0 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.counted: tuple[int, int] | None = None

    def show_count(self, shown: int, total: int) -> None:
        if self.counted != (shown, total):
            self.counted = (shown, total)
            self.update(f"{shown} of {total}")


class FilterRow(Horizontal):
    """The filter and its count, one line above the tree (shown while filtering)."""

    DEFAULT_CSS = """
    FilterRow { height: 1; display: none; }
    FilterRow.-shown { display: block; }
    FilterRow > FilterBar { width: 1fr; }
    """
