"""The task tree: one row per task in declared order, grouped by depth or by tag."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text, TextType
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from flow_tui.core.model import TaskStep
from flow_tui.tui.status import GLYPH, RowStatus, format_duration, spinner_frame
from flow_tui.tui.view import RunView, Transition

MAX_NAME_WIDTH = 28


@dataclass(slots=True)
class TaskGroup:
    title: str
    names: list[str]


@dataclass(slots=True, frozen=True)
class TaskRef:
    name: str


@dataclass(slots=True, frozen=True)
class GroupRef:
    title: str


TreeItem = TaskRef | GroupRef


def group_tasks(steps: Sequence[TaskStep[Any]], depths: Sequence[int]) -> list[TaskGroup]:
    """Group by first tag when any task has tags, else by dependency depth (stage).

    Groups come in order of first appearance (tags) or depth; tasks keep declared order.
    """
    groups: dict[str, TaskGroup] = {}
    if any(step.tags for step in steps):
        for step in steps:
            title = step.tags[0] if step.tags else "untagged"
            groups.setdefault(title, TaskGroup(title, [])).names.append(step.name)
        return list(groups.values())
    for depth in sorted(set(depths)):
        title = f"stage {depth + 1}"
        groups[title] = TaskGroup(title, [])
    for step, depth in zip(steps, depths, strict=True):
        groups[f"stage {depth + 1}"].names.append(step.name)
    return list(groups.values())


def filter_tasks(steps: Sequence[TaskStep[Any]], view: RunView, query: str) -> set[str] | None:
    """Names matching every word of `query` by name (substring), status or tag.

    None when the query is empty (no filter).
    """
    words = query.lower().split()
    if not words:
        return None
    out = set()
    for step in steps:
        name = step.name.lower()
        status = view.status(step.name).value
        tags = {t.lower() for t in step.tags}
        if all(w in name or w == status or w in tags for w in words):
            out.add(step.name)
    return out


_STATUS_CLASSES = {status: f"task-tree--{status.value}" for status in RowStatus}
# Ends a group counts apart, so a failed group never reads like one done well.
_UNWELL = (RowStatus.FAILURE, RowStatus.SKIPPED, RowStatus.CANCELLED)


class TaskTree(Tree[TreeItem]):
    """Rows are `rich.text.Text` (task names shown as written), drawn when painted.

    A task row's text is built from the RunView when its line is rendered (only visible
    lines are), cached per row until its status, duration or attempts change. A flush only
    relabels the groups holding changed tasks: that invalidates and repaints exactly their
    visible rows, so thousands of task ends cost a few dozen label updates.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "open_detail",
            "Details",
            id="focus_detail",
            tooltip="Focus the detail pane of the highlighted task (on a group: fold it)",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *_STATUS_CLASSES.values(),
        "task-tree--muted",
        "task-tree--warning",
    }

    DEFAULT_CSS = """
    TaskTree {
        background: $surface;
        padding: 0 1;
    }
    TaskTree > .task-tree--pending { color: $text-muted; }
    TaskTree > .task-tree--running { color: $text-accent; text-style: bold; }
    TaskTree > .task-tree--success { color: $text-success; }
    TaskTree > .task-tree--failure { color: $text-error; text-style: bold; }
    TaskTree > .task-tree--skipped { color: $text-muted; }
    TaskTree > .task-tree--cancelled { color: $text-warning; }
    TaskTree > .task-tree--interrupted { color: $text-warning; text-style: bold; }
    TaskTree > .task-tree--muted { color: $text-muted; }
    TaskTree > .task-tree--warning { color: $text-warning; }
    """

    _populating = False  # a class default: refresh() runs inside Tree.__init__ already

    class DetailRequested(Message):
        """The operator asked for the detail pane of a task (enter)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, view: RunView, *, id: str | None = None) -> None:
        super().__init__("tasks", id=id)
        self.view = view
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False
        self._groups: dict[str, TaskGroup] = {}
        self._task_nodes: dict[str, TreeNode[TreeItem]] = {}
        self._group_nodes: dict[str, TreeNode[TreeItem]] = {}
        self._group_of: dict[str, str] = {}
        self._rows: dict[str, tuple[tuple[Any, ...], Text]] = {}
        self._tally: dict[str, Counter[RowStatus]] = {}
        self._styles: dict[str, Style] = {}
        self._name_width = 0

    # -- building ----------------------------------------------------------------------

    def populate(self, groups: list[TaskGroup], visible: Collection[str] | None = None) -> None:
        """(Re)build the rows; `visible` limits them to a filter's matches."""
        keep = self.highlighted_task
        self._groups = {g.title: g for g in groups}
        self._group_of = {name: g.title for g in groups for name in g.names}
        statuses = self.view.statuses
        self._tally = {
            g.title: Counter(statuses.get(n, RowStatus.PENDING) for n in g.names) for g in groups
        }
        widths = [cell_len(name) for g in groups for name in g.names]
        self._name_width = min(max(widths, default=0), MAX_NAME_WIDTH)
        self.clear()
        self._task_nodes = {}
        self._group_nodes = {}
        self._rows = {}
        root = self.root
        # Every added node asks for a refresh; thousands of them cost more than the
        # nodes themselves, so they are folded into one.
        self._populating = True
        try:
            for group in groups:
                names = [n for n in group.names if visible is None or n in visible]
                if not names:
                    continue
                label = self._group_label(group)
                group_node = root.add(label, data=GroupRef(group.title), expand=True)
                self._group_nodes[group.title] = group_node
                for name in names:
                    # The stored label is the bare name; render_label draws the row.
                    self._task_nodes[name] = group_node.add_leaf(Text(name), data=TaskRef(name))
        finally:
            self._populating = False
        self.refresh(layout=True)
        target = self._task_nodes.get(keep) if keep else None
        if target is None and self._task_nodes:
            target = next(iter(self._task_nodes.values()))
        _ = self.last_line  # lay the lines out now, so the node's line is known
        self.move_cursor(target)
        if keep is None or target is None or keep != self.highlighted_task:
            # Show the first group's heading too, once the cursor has scrolled to its row.
            self.call_after_refresh(self.scroll_home, animate=False)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if self._populating:
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    # -- updating ----------------------------------------------------------------------

    def update_rows(self, names: Iterable[str], changed: Iterable[Transition] = ()) -> int:
        """Repaint the rows of `names` (those shown); `changed` keeps the group counts.

        Returns how many rows were repainted.
        """
        shown = self._task_nodes
        group_of = self._group_of
        groups: set[str] = set()
        for name, old, new in changed:
            title = group_of.get(name)
            if title is not None:
                tally = self._tally[title]
                if old is not None:
                    tally[old] -= 1
                tally[new] += 1
                groups.add(title)
        count = 0
        for name in names:
            if name in shown:
                count += 1
                groups.add(group_of[name])
        for title in groups:
            self._update_group(title)
        return count

    def update_all(self, changed: Iterable[Transition] = ()) -> int:
        self.update_rows((), changed)
        for title in self._group_nodes:
            self._update_group(title)
        return len(self._task_nodes)

    def _update_group(self, title: str) -> None:
        node = self._group_nodes.get(title)
        if node is not None:
            # A new group label also invalidates the cached lines of its rows and
            # repaints those that are visible.
            node.set_label(self._group_label(self._groups[title]))

    def row_label(self, name: str) -> Text | None:
        """The row of `name` as shown (None when filtered out)."""
        if name not in self._task_nodes:
            return None
        return self._row_text(name).copy()

    @property
    def visible_tasks(self) -> list[str]:
        return list(self._task_nodes)

    @property
    def highlighted_task(self) -> str | None:
        node = self.cursor_node
        if node is not None and isinstance(node.data, TaskRef):
            return node.data.name
        return None

    def select_task(self, name: str) -> bool:
        node = self._task_nodes.get(name)
        if node is None:
            return False
        self.move_cursor(node)
        return True

    def action_open_detail(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if isinstance(node.data, TaskRef):
            self.post_message(self.DetailRequested(node.data.name))
        else:
            node.toggle()

    # -- labels ------------------------------------------------------------------------

    def process_label(self, label: TextType) -> Text:
        if isinstance(label, Text) and "\n" not in label.plain:
            return label  # already one line of Text: skip the copy and split
        return super().process_label(label)

    def render_label(self, node: TreeNode[TreeItem], base_style: Style, style: Style) -> Text:
        data = node.data
        if isinstance(data, TaskRef):
            label = self._row_text(data.name).copy()
            label.stylize(style)
            return label
        return super().render_label(node, base_style, style)

    def get_label_width(self, node: TreeNode[TreeItem]) -> int:
        # Called for every line when the tree is laid out: an estimate, not a render.
        data = node.data
        if isinstance(data, TaskRef):
            return max(self._name_width, cell_len(data.name)) + 14
        return cell_len(node.label.plain if isinstance(node.label, Text) else node.label) + 4

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._styles:
            self._styles = {}
            self._rows = {}
            self.update_all()

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component, partial=True)
        return style

    def _row_key(self, name: str) -> tuple[Any, ...]:
        view = self.view
        status = view.status(name)
        duration = view.duration(name)
        glyph = spinner_frame(view.now) if status is RowStatus.RUNNING else GLYPH[status]
        shown = "" if duration is None else format_duration(duration)
        return (status, glyph, shown, view.attempts(name))

    def _row_text(self, name: str) -> Text:
        key = self._row_key(name)
        cached = self._rows.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        text = self._task_label(name, key)
        self._rows[name] = (key, text)
        return text

    def _task_label(self, name: str, key: tuple[Any, ...]) -> Text:
        status, glyph, duration, attempts = key
        style = self._style(_STATUS_CLASSES[status])
        text = Text(no_wrap=True, end="")
        text.append(glyph, style)
        text.append(" ")
        muted = status in (RowStatus.SKIPPED, RowStatus.CANCELLED)
        text.append(name, self._style("task-tree--muted") if muted else Style())
        pad = self._name_width - cell_len(name)
        if pad > 0:
            text.append(" " * pad)
        if duration:
            text.append(f" {duration:>6}", self._style("task-tree--muted"))
        if attempts > 1:
            text.append(f" x{attempts}", self._style("task-tree--warning"))
        return text

    def _group_label(self, group: TaskGroup) -> Text:
        tally = self._tally.get(group.title) or Counter()
        total = len(group.names)
        done = sum(n for status, n in tally.items() if status.is_done)
        if tally[RowStatus.RUNNING]:
            summary = RowStatus.RUNNING
        elif tally[RowStatus.FAILURE]:
            summary = RowStatus.FAILURE
        elif tally[RowStatus.INTERRUPTED]:
            summary = RowStatus.INTERRUPTED
        elif done < total:
            summary = RowStatus.PENDING
        elif tally[RowStatus.SUCCESS] == total:
            summary = RowStatus.SUCCESS
        elif tally[RowStatus.CANCELLED]:
            summary = RowStatus.CANCELLED
        else:
            summary = RowStatus.SKIPPED
        text = Text(no_wrap=True, end="")
        text.append(GLYPH[summary], self._style(_STATUS_CLASSES[summary]))
        text.append(" ")
        text.append(group.title, Style(bold=True))
        unwell = [status for status in _UNWELL if tally[status]]
        if not unwell:
            text.append(f"  {done}/{total}", self._style("task-tree--muted"))
            return text
        # A bare done/total would read as done well: count each way of ending badly,
        # e.g. "stage 5  ✘1/1", "stage 2  ✔2/3 ✘1/3".
        gap = "  "
        for status in (RowStatus.SUCCESS, *unwell):
            if tally[status]:
                text.append(gap)
                text.append(
                    f"{GLYPH[status]}{tally[status]}/{total}",
                    self._style(_STATUS_CLASSES[status]),
                )
                gap = " "
        return text

    def group_label(self, title: str) -> Text | None:
        """The row of group `title` as shown (None when it has no row)."""
        node = self._group_nodes.get(title)
        if node is None or not isinstance(node.label, Text):
            return None
        return node.label.copy()
