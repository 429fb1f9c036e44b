"""The task tree: one row per task in declared order, grouped by depth or by tag.

Over 400 lines on purpose, for now: one widget whose row cache, folding, live filter,
sort and follow mode all act on the same table of nodes and rows, and whose speed at
1M tasks depends on changing them together (rows made only for open groups, sorted when
they open, labels made when drawn). The filter lives in task_filter.py; grouping and the
sort keys are the next pure parts to move out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, repeat
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text, TextType
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from flow_tui.core.collector import collector_paused
from flow_tui.core.graph import str_table
from flow_tui.core.model import TaskStep
from flow_tui.tui.status import GLYPH, RowStatus, format_duration, spinner_frame
from flow_tui.tui.task_filter import TaskFilter
from flow_tui.tui.view import RunView, Transition

MAX_NAME_WIDTH = 28
#: From this many tasks, the tree opens with its groups folded (their rows are made when
#: a group opens).
FOLDED_FROM = 20_000
#: In such a run, "unfold all" unfolds the groups from the cursor's on until about this
#: many rows are shown: a million rows cannot be made in a key press (8 s), nor read.
UNFOLD_ROWS = 5_000

# The stored label of every task row: render_label draws rows from the view.
_NO_LABEL = Text(no_wrap=True, end="")
#: Where a row shows its duration, a task kept from a snapshot shows this.
KEPT_MARK = "⤓kept"


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


@dataclass(slots=True)
class _Unfiltered:
    """The tree without a filter, put aside while one is set: clearing the filter puts
    it back rather than making its rows again (10k group rows at a million tasks). Only
    its order and labels can go stale meanwhile (no filter: every task has a row), and
    both are mended when it comes back."""

    groups: list[TaskGroup]
    order: SortOrder
    root: TreeNode[TreeItem]
    next_id: int
    task_nodes: dict[str, TreeNode[TreeItem]]
    group_nodes: dict[str, TreeNode[TreeItem]]
    shown: dict[str, list[str]]
    keys: dict[str, list[Any]]
    key_of: dict[str, Any]
    materialized: set[str]
    unsorted: set[str]


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
    lists: dict[int, list[str]] = {}
    for depth in sorted(set(depths)):
        title = f"stage {depth + 1}"
        groups[title] = TaskGroup(title, lists.setdefault(depth, []))
    for step, depth in zip(steps, depths, strict=True):
        lists[depth].append(step.name)
    return list(groups.values())


class SortOrder(StrEnum):
    """How tasks are ordered inside their group."""

    DECLARED = "declared"
    STATUS = "status"  # what needs a look first: failed, interrupted, running, ...
    DURATION = "duration"  # longest first

    def next(self) -> SortOrder:
        members = list(SortOrder)
        return members[(members.index(self) + 1) % len(members)]


_STATUS_RANK = {
    status: rank
    for rank, status in enumerate(
        (
            RowStatus.FAILURE,
            RowStatus.INTERRUPTED,
            RowStatus.RUNNING,
            RowStatus.RETRYING,
            RowStatus.CANCELLED,
            RowStatus.SKIPPED,
            RowStatus.PENDING,
            RowStatus.SUCCESS,
        )
    )
}


_STATUS_CLASSES = {status: f"task-tree--{status.value}" for status in RowStatus}
# Ends a group counts apart, so a failed group never reads like one done well.
_UNWELL = (RowStatus.FAILURE, RowStatus.SKIPPED, RowStatus.CANCELLED)


class TaskTree(Tree[TreeItem]):
    """Rows are `rich.text.Text` (task names shown as written), drawn when painted.

    A task row's text is built from the RunView when its line is rendered (only visible
    lines are), cached per row until its status, duration or attempts change. A flush only
    relabels the groups holding changed tasks: that invalidates and repaints exactly their
    visible rows, so thousands of task ends cost a few dozen label updates.

    The filter and the order are live: a task whose status changes is placed again (it
    enters or leaves the filtered view, or moves in a status order), one node at a time,
    so a filter over a large run never rebuilds the tree while it moves.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "open_detail",
            "Details",
            id="focus_detail",
            tooltip="Focus the detail pane of the highlighted task (on a group: fold it)",
        ),
        Binding("j", "cursor_down", "Down", show=False, id="tree_down", tooltip="Next row"),
        Binding("k", "cursor_up", "Up", show=False, id="tree_up", tooltip="Previous row"),
        Binding("g", "first_row", "First", show=False, id="tree_first", tooltip="First row"),
        Binding("G,shift+g", "last_row", "Last", show=False, id="tree_last", tooltip="Last row"),
        Binding(
            "h,left",
            "fold",
            "Fold",
            show=False,
            id="tree_fold",
            tooltip="Fold the group (on a task: go to its group)",
        ),
        Binding(
            "l,right",
            "unfold",
            "Unfold",
            show=False,
            id="tree_unfold",
            tooltip="Unfold the group (on a task, l opens its log)",
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
    TaskTree > .task-tree--retrying { color: $text-warning; }
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
        self.task_filter: TaskFilter | None = None
        self.order = SortOrder.DECLARED
        self._groups: dict[str, TaskGroup] = {}
        self._group_rank: dict[str, int] = {}
        self._position: dict[str, int] = {}  # declared position inside its group
        self._task_nodes: dict[str, TreeNode[TreeItem]] = {}
        self._group_nodes: dict[str, TreeNode[TreeItem]] = {}
        self._group_of: dict[str, str] = {}
        self._shown: dict[str, list[str]] = {}  # group -> tasks shown, in order
        # Their order keys, sorted: the declared position (an int) in declared order, a
        # tuple ending with it in the others.
        self._keys: dict[str, list[Any]] = {}
        self._key_of: dict[str, Any] = {}
        self._collapsed: set[str] = set()
        self._rows: dict[str, tuple[tuple[Any, ...], Text]] = {}
        self._tally: dict[str, Counter[RowStatus]] = {}
        self._styles: dict[str, Style] = {}
        self._name_width = 0
        self._task_width = 0
        self._materialized: set[str] = set()  # groups whose task rows exist
        # Groups whose label is out of date: it is made again when its line is drawn (or
        # asked for), so a run of 10k groups relabels the few on screen, not all of them.
        self._stale: set[str] = set()
        # Groups whose rows are not in the current order yet (set_order): sorted when
        # they open or when the whole order is asked for. Only while no filter is set.
        self._unsorted: set[str] = set()
        self._sized = False  # the first populate decides whether groups start folded
        self._indexed: list[TaskGroup] | None = None  # the groups the tables were made of
        self._unfiltered: _Unfiltered | None = None
        self._widest = 0

    # -- building ----------------------------------------------------------------------

    def populate(
        self,
        groups: list[TaskGroup],
        task_filter: TaskFilter | None = None,
        order: SortOrder | None = None,
    ) -> None:
        """(Re)build the rows: those `task_filter` matches (None: all), in `order`."""
        keep = self.cursor_node.data if self.cursor_node is not None else None
        was_filtered = self.task_filter is not None
        self.task_filter = task_filter
        if order is not None:
            self.order = order
        for title, node in self._group_nodes.items():
            self._remember_fold(title, node)
        if task_filter is not None:
            if not was_filtered and groups is self._indexed:
                self._put_aside(groups)
        elif self._take_back(groups):
            self._settle_after_build(keep)
            return
        self._groups = {g.title: g for g in groups}
        self._group_rank = {g.title: i for i, g in enumerate(groups)}
        if groups is not self._indexed:
            self._index(groups)
        self._name_width = min(self._widest, MAX_NAME_WIDTH)
        self._task_width = self._widest + 14
        if not self._sized:
            # A very large run opens with its groups folded: rows are made when a group
            # opens, so the first screen costs its groups, not its tasks.
            self._sized = True
            if len(self._group_of) > FOLDED_FROM:
                self._collapsed = set(self._groups)
        self.clear()
        self._task_nodes = {}
        self._group_nodes = {}
        self._materialized = set()
        self._stale = set()
        self._unsorted = set()
        self._shown = {}
        self._keys = {}
        self._key_of = {}
        self._rows = {}
        root = self.root
        declared = self.order is SortOrder.DECLARED
        # Without a filter every task shows: the keys start as the declared positions
        # (one dict copy), and in another order a folded group is sorted when it opens
        # (set_order), so a million rows are not sorted for the few groups on screen.
        every_row = task_filter is None
        if every_row:
            self._key_of = dict(self._position)
        # What the filter shows, found for all tasks at once.
        matched = (
            task_filter.select(self.view.statuses, self.view.kept_now())
            if task_filter is not None
            else None
        )
        # A filter showing few tasks: its tasks put in their groups (declared order),
        # rather than every task of every group looked up in it.
        by_group: dict[str, list[str]] | None = None
        if matched is not None and len(matched) * 8 < len(self._group_of):
            by_group = {}
            group_of = self._group_of
            for name in matched:
                home = group_of.get(name)
                if home is not None:
                    by_group.setdefault(home, []).append(name)
            position = self._position.__getitem__
            for names in by_group.values():
                names.sort(key=position)
        # Every added node asks for a refresh; thousands of them cost more than the
        # nodes themselves, so they are folded into one.
        add_node = self._add_node
        group_nodes = root._children
        collapsed = self._collapsed
        self._populating = True
        # Rows, lists and dicts only allocated: a full collection midway (walking every
        # object of a large run) would cost more than they do.
        with collector_paused():
            try:
                for group in groups:
                    title = group.title
                    if by_group is not None:
                        few = by_group.get(title)
                        if few is None:
                            self._shown[title] = []
                            self._keys[title] = []
                            continue
                        keys: list[Any]
                        if declared:
                            shown = few
                            keys = list(map(self._position.__getitem__, shown))
                        else:
                            keyed = sorted((self._order_key(n), n) for n in few)
                            shown = [n for _, n in keyed]
                            keys = [k for k, _ in keyed]
                    elif every_row:
                        shown = list(group.names)
                        keys = list(range(len(shown)))
                        if not declared:
                            self._unsorted.add(title)
                    elif declared:
                        assert matched is not None
                        shown = [n for n in group.names if n in matched]
                        keys = list(map(self._position.__getitem__, shown))
                    else:
                        assert matched is not None
                        keyed = sorted((self._order_key(n), n) for n in group.names if n in matched)
                        shown = [n for _, n in keyed]
                        keys = [k for k, _ in keyed]
                    self._shown[title] = shown
                    self._keys[title] = keys
                    if not every_row:
                        self._key_of.update(zip(shown, keys, strict=True))
                    if not shown:
                        continue
                    # Appended as `root.add` would, without clearing the caches per group;
                    # no label yet: it is made when its line is first drawn (_relabel).
                    group_node = add_node(root, _NO_LABEL, GroupRef(title), title not in collapsed)
                    group_nodes.append(group_node)
                    self._stale.add(title)
                    self._group_nodes[title] = group_node
                    if group_node._expanded:
                        self._materialize(title, invalidate=False)  # sorted first if it waits
            finally:
                self._populating = False
        root._updates += 1
        self._invalidate()
        self._settle_after_build(keep)

    def _settle_after_build(self, keep: object) -> None:
        """The cursor back on `keep` after the rows were made (or on the first row)."""
        target = self._node_of(keep)
        if target is None and self._task_nodes:
            target = next(iter(self._task_nodes.values()))
            node_parent = target.parent
            if node_parent is not None and not node_parent.is_expanded:
                target = node_parent
        if target is None and self._group_nodes:
            target = next(iter(self._group_nodes.values()))
        _ = self.last_line  # lay the lines out now, so the node's line is known
        self.move_cursor(target)
        if keep is None or target is None or target.data != keep:
            # Show the first group's heading too, once the cursor has scrolled to its row.
            self.call_after_refresh(self.scroll_home, animate=False)

    def set_order(self, order: SortOrder) -> None:
        """Show the rows in `order` without building the tree again: the groups open now
        are sorted at once (their rows moved, not made again), the folded ones when they
        open, so `v` on a run of a million tasks sorts the rows on screen. With a filter
        set, the tree is built again (`populate`)."""
        if order is self.order:
            return
        keep = self.cursor_node
        self.order = order
        self._resort()
        self._invalidate()
        _ = self.last_line
        if keep is not None:
            self.move_cursor(keep)

    def _resort(self) -> None:
        """The open groups' rows in the current order (moved, not made again); the
        folded ones sorted when they open."""
        task_nodes = self._task_nodes
        for title in self._shown:
            if title in self._materialized:
                self._sort_group(title)
                node = self._group_nodes.get(title)
                if node is not None:
                    node._children[:] = [task_nodes[name] for name in self._shown[title]]
                    node._updates += 1
            else:
                self._unsorted.add(title)

    def _put_aside(self, groups: list[TaskGroup]) -> None:
        self._unfiltered = _Unfiltered(
            groups,
            self.order,
            self.root,
            self._current_id,
            self._task_nodes,
            self._group_nodes,
            self._shown,
            self._keys,
            self._key_of,
            self._materialized,
            self._unsorted,
        )

    def _take_back(self, groups: list[TaskGroup]) -> bool:
        """The tree put aside when a filter was set, back as it is now: its groups
        folded as the operator left them, relabelled when drawn, and in the current
        order. False when there is none, or it is of other groups."""
        kept, self._unfiltered = self._unfiltered, None
        if kept is None or kept.groups is not groups or groups is not self._indexed:
            return False
        self.root = kept.root
        self._current_id = kept.next_id
        # Tree.clear() starts the ids again: the rows' own are theirs again.
        tree_nodes = self._tree_nodes
        tree_nodes.update((node._id, node) for node in kept.group_nodes.values())
        tree_nodes.update((node._id, node) for node in kept.task_nodes.values())
        self._task_nodes = kept.task_nodes
        self._group_nodes = kept.group_nodes
        self._shown = kept.shown
        self._keys = kept.keys
        self._key_of = kept.key_of
        self._materialized = kept.materialized
        self._unsorted = kept.unsorted
        self._stale = set(kept.group_nodes)
        self._rows = {}
        collapsed = self._collapsed
        if kept.order is not self.order or self.order is not SortOrder.DECLARED:
            self._resort()  # statuses moved meanwhile: a sorted view's places did too
        with collector_paused():
            for title, node in kept.group_nodes.items():
                node._expanded = title not in collapsed
                if node._expanded:
                    self._materialize(title, invalidate=False)  # opened while filtered
        self.root._updates += 1
        self._invalidate()
        return True

    def _sort_group(self, title: str) -> None:
        """The rows of group `title` in the current order, and their keys."""
        self._unsorted.discard(title)
        keyed = sorted((self._order_key(n), n) for n in self._shown[title])
        shown = self._shown[title] = [n for _, n in keyed]
        keys = self._keys[title] = [k for k, _ in keyed]
        self._key_of.update(zip(shown, keys, strict=True))

    def _sort_all(self) -> None:
        """Every group in the current order (what a walk over all rows needs)."""
        for title in list(self._unsorted):
            self._sort_group(title)

    def _materialize(self, title: str, invalidate: bool = True) -> None:
        """Make the task rows of group `title` (once; a folded group has none), appended
        as `TreeNode.add_leaf` would but without clearing the tree's caches per row."""
        group_node = self._group_nodes.get(title)
        if group_node is None or title in self._materialized:
            return
        if title in self._unsorted:
            self._sort_group(title)
        self._materialized.add(title)
        task_nodes = self._task_nodes
        children = group_node._children
        add_node = self._add_node
        for name in self._shown[title]:
            # The label is never drawn (render_label draws the row from the view).
            node = add_node(group_node, _NO_LABEL, TaskRef(name))
            node._allow_expand = False
            children.append(node)
            task_nodes[name] = node
        group_node._updates += 1
        if invalidate:
            self._invalidate()

    def _build(self) -> None:
        # A group opened by any path (a key, a click, expand_all) gets its rows before
        # its lines are laid out.
        # Rows and lines are only allocated here: with a large run alive, a full
        # collection triggered midway (walking every object of the run) cost more than
        # the rows themselves.
        groups: dict[str, TreeNode[TreeItem]] = getattr(self, "_group_nodes", {})  # in __init__
        with collector_paused():
            for title, node in groups.items():
                if node._expanded and title not in self._materialized:
                    self._materialize(title, invalidate=False)
            super()._build()

    def _node_of(self, item: object) -> TreeNode[TreeItem] | None:
        if isinstance(item, TaskRef):
            return self._task_nodes.get(item.name)
        if isinstance(item, GroupRef):
            return self._group_nodes.get(item.title)
        return None

    def _remember_fold(self, title: str, node: TreeNode[TreeItem]) -> None:
        if node.is_expanded:
            self._collapsed.discard(title)
        else:
            self._collapsed.add(title)

    def _matches(self, name: str) -> bool:
        task_filter = self.task_filter
        if task_filter is None:
            return True
        view = self.view
        return task_filter.matches(
            name, view.statuses.get(name, RowStatus.PENDING), view.is_kept(name)
        )

    def _index(self, groups: list[TaskGroup]) -> None:
        """Task -> group, position in it, the group counts and the widest name, made once
        per list of groups (a filter or an order typed later builds the rows again, not
        these): by C loops over all the groups at once (chain, zip, map), where a dict or
        a Counter made per group cost a second at a million tasks. The counts are then
        kept up to date by `update_rows`."""
        self._indexed = groups
        # Tables that keep their keys' hashes (str_table): growing, they read no name
        # again (at 1M tasks both in 0.45 s instead of 0.72 s).
        per_group = [g.names for g in groups]
        self._group_of = str_table(
            zip(
                chain.from_iterable(per_group),
                chain.from_iterable([repeat(g.title, len(g.names)) for g in groups]),
                strict=True,
            )
        )
        self._position = str_table(
            zip(
                chain.from_iterable(per_group),
                chain.from_iterable([range(len(g.names)) for g in groups]),
                strict=True,
            )
        )
        self._tally = self._count(groups)
        width = 0
        for g in groups:
            names = g.names
            if names:
                if "".join(names).isascii():
                    width = max(width, max(map(len, names)))
                else:
                    width = max(width, max(map(cell_len, names)))
        self._widest = width

    def _count(self, groups: list[TaskGroup]) -> dict[str, Counter[RowStatus]]:
        """The statuses of each group's tasks: all pending, then a pass over the tasks
        that are not (none when a run opens)."""
        pending = RowStatus.PENDING
        tally = {g.title: Counter({pending: len(g.names)}) for g in groups}
        group_of = self._group_of
        for name, status in self.view.statuses.items():
            if status is not pending:
                title = group_of.get(name)
                if title is not None:
                    counts = tally[title]
                    counts[pending] -= 1
                    counts[status] += 1
        return tally

    def _order_key(self, name: str) -> Any:
        position = self._position[name]
        order = self.order
        if order is SortOrder.STATUS:
            return (_STATUS_RANK[self.view.statuses.get(name, RowStatus.PENDING)], position)
        if order is SortOrder.DURATION:
            duration = self.view.duration(name)
            if duration is None:
                return (1, 0.0, position)
            return (0, -duration, position)
        return position

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
        """Repaint the rows of `names` (those shown); `changed` keeps the group counts,
        and places again the tasks whose status changed (the filter and order are live).

        Returns how many rows were repainted.
        """
        group_of = self._group_of
        groups: set[str] = set()
        moved = False
        live = self.task_filter is not None or self.order is not SortOrder.DECLARED
        for name, old, new in changed:
            title = group_of.get(name)
            if title is not None:
                tally = self._tally[title]
                if old is not None:
                    tally[old] -= 1
                tally[new] += 1
                groups.add(title)
                if live:
                    moved = self._place(name) or moved
        shown = self._task_nodes
        count = 0
        for name in names:
            if name in shown:
                count += 1
                groups.add(group_of[name])
        self._update_groups(groups)
        if moved:
            self._settle_cursor()
        return count

    def _place(self, name: str) -> bool:
        """Show, hide or move the row of `name` after its status changed; True when the
        tree's lines changed."""
        title = self._group_of[name]
        if title in self._unsorted:
            return False  # sorted, with this row in its place, when the group opens
        wanted = self._matches(name)
        shown = name in self._key_of
        key = self._order_key(name) if wanted else None
        if shown and key == self._key_of[name]:
            return False  # shown, and in its place
        if not shown and not wanted:
            return False
        node = self._task_nodes.get(name)  # None in a folded group not opened yet
        self._populating = True
        try:
            if shown:
                self._remove_row(title, name, node)
            if key is not None:
                self._insert_row(title, name, key)
        finally:
            self._populating = False
        if node is not None and node is self.cursor_node:
            # The cursor's row moved (a new node) or left: it follows, or goes to the
            # row's group (or the first group when that one left too).
            self._cursor_target = (
                self._task_nodes.get(name)
                or self._group_nodes.get(title)
                or next(iter(self._group_nodes.values()), None)
            )
        self._invalidate()
        return True

    _cursor_target: TreeNode[TreeItem] | None = None

    def _remove_row(self, title: str, name: str, node: TreeNode[TreeItem] | None) -> None:
        shown = self._shown[title]
        index = bisect_left(self._keys[title], self._key_of[name])
        if index >= len(shown) or shown[index] != name:
            index = shown.index(name)
        del shown[index]
        del self._keys[title][index]
        del self._key_of[name]
        if node is not None:
            del self._task_nodes[name]
            node.remove()
        if not shown:
            group_node = self._group_nodes.pop(title)
            self._materialized.discard(title)
            self._remember_fold(title, group_node)
            group_node.remove()

    def _insert_row(self, title: str, name: str, key: Any) -> None:
        group_node = self._group_nodes.get(title)
        if group_node is None:
            rank = self._group_rank[title]
            before = sum(1 for t in self._group_nodes if self._group_rank[t] < rank)
            group_node = self.root.add(
                self._group_label(self._groups[title]),
                data=GroupRef(title),
                expand=title not in self._collapsed,
                before=before if before < len(self.root.children) else None,
            )
            self._group_nodes[title] = group_node
        keys = self._keys[title]
        index = bisect_left(keys, key)
        keys.insert(index, key)
        self._shown[title].insert(index, name)
        self._key_of[name] = key
        if title in self._materialized:
            at = index if index < len(group_node.children) else None
            node = group_node.add_leaf(_NO_LABEL, data=TaskRef(name), before=at)
            self._task_nodes[name] = node
        elif group_node.is_expanded:
            self._materialize(title)

    def _settle_cursor(self) -> None:
        """Keep the cursor on its row after rows came and went above it (or on a
        neighbour when its own row left the view)."""
        target, self._cursor_target = self._cursor_target, None
        node = target or self.cursor_node
        if node is None:
            return
        _ = self.last_line
        if node._line != self.cursor_line or target is not None:
            self.move_cursor(node)

    def update_all(self, changed: Iterable[Transition] = ()) -> int:
        self.update_rows((), changed)
        self._update_groups(self._group_nodes)
        return len(self._task_nodes)

    def _update_groups(self, titles: Iterable[str]) -> None:
        """New labels of the groups `titles`, and one repaint of the tree's visible lines.

        A new group label also invalidates the cached lines of its rows (a line's cache
        key holds the `_updates` of the nodes on its path). Not `TreeNode.set_label`,
        which asks for a repaint of the node's lines by a message each: after a burst of
        events, one for every group. Only the visible lines of those groups are repainted,
        as set_label does (a repaint of the whole tree at every flush costs far more)."""
        nodes = self._group_nodes
        changed: set[TreeNode[TreeItem]] = set()
        stale = self._stale
        for title in titles:
            node = nodes.get(title)
            if node is not None:
                stale.add(title)  # relabelled when drawn (render_label)
                node._updates += 1
                changed.add(node)
        if not changed:
            return
        top = self.scroll_offset.y
        for line_no, line in enumerate(self._tree_lines[top : top + self.size.height], top):
            if not changed.isdisjoint(line.path):
                self._refresh_line(line_no)

    def _relabel(self, title: str, node: TreeNode[TreeItem]) -> None:
        self._stale.discard(title)
        group = self._groups.get(title)
        if group is not None:
            node._label = self.process_label(self._group_label(group))

    def row_label(self, name: str) -> Text | None:
        """The row of `name` as shown (None when filtered out)."""
        if name not in self._task_nodes:
            return None
        return self._row_text(name).copy()

    @property
    def visible_tasks(self) -> list[str]:
        """The tasks shown (folded groups included), in the tree's order."""
        self._sort_all()
        return [name for title in self._group_nodes for name in self._shown[title]]

    @property
    def shown_count(self) -> int:
        return len(self._key_of)

    @property
    def highlighted_task(self) -> str | None:
        node = self.cursor_node
        if node is not None and isinstance(node.data, TaskRef):
            return node.data.name
        return None

    @property
    def highlighted_group(self) -> str | None:
        """The group whose header the cursor is on (None on a task row)."""
        node = self.cursor_node
        if node is not None and isinstance(node.data, GroupRef):
            return node.data.title
        return None

    def group(self, title: str) -> TaskGroup:
        return self._groups[title]

    def group_shown(self, title: str) -> list[str]:
        """The tasks of group `title` the filter shows, in order."""
        if title in self._unsorted:
            self._sort_group(title)
        return list(self._shown.get(title, ()))

    def select_task(self, name: str) -> bool:
        if name not in self._key_of:
            return False  # not shown
        title = self._group_of[name]
        self._materialize(title)
        node = self._task_nodes[name]
        parent = node.parent
        if parent is not None and not parent.is_expanded:
            parent.expand()
            self._collapsed.discard(title)
        _ = self.last_line
        self.move_cursor(node, animate=False)
        return True

    def next_task(self, statuses: Collection[RowStatus], *, forward: bool = True) -> str | None:
        """The next shown task after the cursor (wrapping) whose status is one of
        `statuses`, in the tree's order; None when there is none."""
        order = self.visible_tasks
        if not order:
            return None
        current = self.highlighted_task
        if current is not None and current in self._key_of:
            start = order.index(current)
        else:
            title = self.highlighted_group
            first = self._shown.get(title, [None])[0] if title is not None else None
            start = order.index(first) - 1 if first is not None else -1
        count = len(order)
        status = self.view.statuses
        step = 1 if forward else -1
        for offset in range(1, count + 1):
            name = order[(start + step * offset) % count]
            if status.get(name, RowStatus.PENDING) in statuses:
                return name
        return None

    # -- folding and moving ------------------------------------------------------------

    def collapse_groups(self) -> None:
        """Fold every group; the cursor goes to the group it was in."""
        task = self.highlighted_task
        self._collapsed = set(self._groups)
        # Folded by hand, not by TreeNode.collapse(): that posts a NodeCollapsed message
        # per group (nothing here listens), 10k messages for a run of a million tasks.
        for node in self._group_nodes.values():
            if node._expanded:
                node._expanded = False
                node._updates += 1
        self._invalidate()
        _ = self.last_line
        target = self._group_nodes.get(self._group_of[task]) if task is not None else None
        self.move_cursor(target or self.cursor_node)

    def expand_groups(self) -> int:
        """Unfold every group; the cursor stays on its row. In a run that opened folded
        (over FOLDED_FROM tasks), the groups from the cursor's on (then those before it)
        until UNFOLD_ROWS rows are shown: returns how many groups stay folded."""
        keep = self.cursor_node
        nodes = self._group_nodes
        titles = list(nodes)
        if len(self._group_of) > FOLDED_FROM:
            here = self._group_at(keep)
            start = titles.index(here) if here in nodes else 0
            titles = titles[start:] + titles[:start]
            budget = UNFOLD_ROWS
            chosen = []
            for title in titles:
                if budget <= 0:
                    break
                if nodes[title].is_expanded:
                    continue
                chosen.append(title)
                budget -= len(self._shown[title])
            titles = chosen
        for title in titles:  # as collapse_groups: no NodeExpanded message per group
            self._collapsed.discard(title)
            node = nodes[title]
            if not node._expanded:
                node._expanded = True
                node._updates += 1
        self._invalidate()
        _ = self.last_line
        self.move_cursor(keep)
        return sum(1 for node in nodes.values() if not node.is_expanded)

    def _group_at(self, node: TreeNode[TreeItem] | None) -> str | None:
        """The group of the row `node` (a group's header or one of its tasks)."""
        if node is None:
            return None
        if isinstance(node.data, GroupRef):
            return node.data.title
        if isinstance(node.data, TaskRef):
            return self._group_of.get(node.data.name)
        return None

    def action_first_row(self) -> None:
        if self.last_line >= 0:
            self.move_cursor_to_line(0)

    def action_last_row(self) -> None:
        if self.last_line >= 0:
            self.move_cursor_to_line(self.last_line)

    def action_fold(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if isinstance(node.data, TaskRef):
            if node.parent is not None and node.parent is not self.root:
                self.move_cursor(node.parent)
        elif node.is_expanded:
            node.collapse()
            self._collapsed.add(node.data.title if isinstance(node.data, GroupRef) else "")

    def action_unfold(self) -> None:
        node = self.cursor_node
        if node is None or not isinstance(node.data, GroupRef):
            return
        if not node.is_expanded:
            node.expand()
            self._collapsed.discard(node.data.title)
        elif node.children:
            self.move_cursor(node.children[0])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "unfold":
            # On a task row, `l` is the app's (the log view of the task).
            return isinstance(self.cursor_node.data if self.cursor_node else None, GroupRef)
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
        if isinstance(data, GroupRef) and data.title in self._stale:
            self._relabel(data.title, node)
        return super().render_label(node, base_style, style)

    def get_label_width(self, node: TreeNode[TreeItem]) -> int:
        # Called for every line when the tree is laid out: an estimate, not a render.
        # Task rows: the widest (a row's width only counts as the widest of all).
        data = node.data
        if isinstance(data, TaskRef):
            return self._task_width
        if isinstance(data, GroupRef) and data.title in self._stale:
            return cell_len(data.title) + 4  # not labelled yet: its title, at least
        return cell_len(node.label.plain if isinstance(node.label, Text) else node.label) + 4

    def notify_style_update(self) -> None:
        # Not Tree's: it rebuilds the lines of every node, which styles do not change
        # (only their rendering, cached per line).
        super(Tree, self).notify_style_update()
        self._line_cache.clear()
        self.refresh()
        if self._styles:
            self._styles = {}
            self._rows = {}
            self.update_all()

    def _on_resize(self, event: events.Resize) -> None:
        # Not Tree's, which rebuilds the lines of every node: a size changes none of them.
        event.prevent_default()
        self._line_cache.grow(event.size.height)
        self._line_cache.clear()
        self.refresh()

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
        if status is RowStatus.RETRYING:  # the backoff's countdown (attempts.py)
            left = view.retrying_in(name)
            shown = "" if left is None else f"retry in {left:.1f}s"
        return (status, glyph, shown, view.attempts(name), view.is_kept(name))

    def _row_text(self, name: str) -> Text:
        key = self._row_key(name)
        cached = self._rows.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        text = self._task_label(name, key)
        self._rows[name] = (key, text)
        return text

    def _task_label(self, name: str, key: tuple[Any, ...]) -> Text:
        status, glyph, duration, attempts, kept = key
        style = self._style(_STATUS_CLASSES[status])
        text = Text(no_wrap=True, end="")
        text.append(glyph, style)
        text.append(" ")
        muted = status in (RowStatus.SKIPPED, RowStatus.CANCELLED)
        text.append(name, self._style("task-tree--muted") if muted else Style())
        pad = self._name_width - cell_len(name)
        if pad > 0:
            text.append(" " * pad)
        if kept:
            # Ran in an earlier run: its time is that run's (the detail pane says when).
            text.append(f" {KEPT_MARK:>6}", self._style("task-tree--muted"))
        elif duration:
            text.append(f" {duration:>6}", self._style("task-tree--muted"))
        if attempts > 1:
            text.append(f" x{attempts}", self._style("task-tree--warning"))
        return text

    def _group_label(self, group: TaskGroup) -> Text:
        if self.task_filter is None:
            tally = self._tally.get(group.title) or Counter()
            total = len(group.names)
        else:  # what the filter shows of the group
            statuses = self.view.statuses
            names = self._shown.get(group.title, ())
            tally = Counter(statuses.get(n, RowStatus.PENDING) for n in names)
            total = len(names)
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
            return self._of_all(text, group, total)
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
        return self._of_all(text, group, total)

    def _of_all(self, text: Text, group: TaskGroup, shown: int) -> Text:
        """A filtered group says how many tasks it has in all."""
        if self.task_filter is not None and shown < len(group.names):
            text.append(f" (of {len(group.names)})", self._style("task-tree--muted"))
        return text

    def group_label(self, title: str) -> Text | None:
        """The row of group `title` as shown (None when it has no row)."""
        node = self._group_nodes.get(title)
        if node is not None and title in self._stale:
            self._relabel(title, node)
        if node is None or not isinstance(node.label, Text):
            return None
        return node.label.copy()
