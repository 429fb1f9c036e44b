"""The `/` filter: one line above the tree, matching task name, status or tag."""

from __future__ import annotations

from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar {
        display: none;
        height: 1;
        margin: 0 0 0 0;
    }
    FilterBar.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="filter: words in the name, a status or a tag (esc clears)",
            compact=True,
            id=id,
        )

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def show(self) -> None:
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")
