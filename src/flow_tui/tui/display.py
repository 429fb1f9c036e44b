"""The dashboard's display of one session: its widgets kept up to date, the filter, focus
and help. It reads the session and never steers it; the layers above do (app.py).

Runner events land in PendingChanges and a 10 Hz timer applies them inside
`batch_update()`, so a burst of task events costs one repaint.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Tree

from flow_tui.session import Session
from flow_tui.tui.changes import ChangeBatch, PendingChanges
from flow_tui.tui.clock import Clock
from flow_tui.tui.detail import TaskDetail
from flow_tui.tui.dialogs import HelpScreen
from flow_tui.tui.dialogs.help import describe_keys
from flow_tui.tui.dialogs.paths import display_path
from flow_tui.tui.filter_bar import FilterBar, FilterCount, FilterRow
from flow_tui.tui.group_detail import GroupDetail
from flow_tui.tui.header import RunHeader
from flow_tui.tui.key_bar import KeyBar
from flow_tui.tui.messages import RunMessages
from flow_tui.tui.status import RowStatus
from flow_tui.tui.summary import run_summary, sentence
from flow_tui.tui.task_filter import make_filter, prepare_filters
from flow_tui.tui.task_tree import GroupRef, SortOrder, TaskRef, TaskTree, group_tasks
from flow_tui.tui.view import RunView, Transition

# The statuses a task can be retried from (`r`), once the run is not running.
_RETRIABLE = {
    RowStatus.FAILURE,
    RowStatus.CANCELLED,
    RowStatus.SKIPPED,
    RowStatus.INTERRUPTED,
}

# The keys whose offer changes with the run: the footer is refreshed when one changes.
_FOOTER_ACTIONS = ("pause", "resume", "load", "retry", "retry_failed")


class RunDisplay(App[int]):
    """The widgets of the dashboard over `session`, and their upkeep.

    Textual calls the `on_mount` (and `on_unmount`) of every class of an app's MRO: the
    layers define one each at most, and this one defines none (`show_first` is called
    from the app's).
    """

    # Absolute, so subclasses defined elsewhere (tests, benchmarks) find it too.
    CSS_PATH = Path(__file__).with_name("dashboard.tcss")
    TITLE = "flow-tui"
    # ctrl+p: every action by name (get_system_commands in app.py).
    ENABLE_COMMAND_PALETTE = True
    FLUSH_INTERVAL = 0.1  # seconds between repaints of pending changes
    #: The run's clock is read from the session (an attached view: the run says how long
    #: it has gone and been paused), not kept here from the events this view heard.
    CLOCK_FROM_SESSION = False
    #: While a run streams events faster than anyone reads them (more than STREAM_EVENTS
    #: since the last repaint and more still coming), a repaint waits, at most
    #: STREAM_DEFER seconds: a burst of short tasks then runs at full speed and the
    #: screen catches up right after it, instead of a repaint landing in its middle.
    STREAM_EVENTS = 500
    STREAM_DEFER = 0.3

    def __init__(self, session: Session, clock: Clock | None = None) -> None:
        super().__init__()
        self.session = session
        self.clock = clock or Clock()
        self.changes = PendingChanges(self.clock)
        self.view = RunView(session, self.changes, self.clock)
        self.groups = group_tasks(session.steps, session.graph.depths())
        self.filter_query = ""
        self.order = SortOrder.DECLARED
        self.following = False  # follow mode: the cursor stays on a running task
        self.flushes = 0
        self._deferred_at: float | None = None  # when a streaming repaint was first put off
        self._events_seen = 0  # pending events at the last put-off repaint
        self.repainted_rows = 0
        self.session_closed = False  # nothing is shown once the session is closed
        self._summarized = False
        self._retriable = False
        self._footer_signature: tuple[bool | None, ...] = ()

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield RunMessages(id="messages")
        with Horizontal(id="body"):
            with Vertical(id="tree-column"):
                with FilterRow(id="filter-row"):
                    yield FilterBar(tasks=len(self.session.steps), id="filter")
                    yield FilterCount(id="filter-count")
                yield TaskTree(self.view, id="tasks")
            yield TaskDetail(self.view, id="detail")
            yield GroupDetail(self.view, id="group-detail")
        yield KeyBar(id="keys")

    @property
    def task_tree(self) -> TaskTree:
        return self.query_one("#tasks", TaskTree)

    @property
    def detail_pane(self) -> TaskDetail:
        return self.query_one("#detail", TaskDetail)

    @property
    def group_pane(self) -> GroupDetail:
        return self.query_one("#group-detail", GroupDetail)

    @property
    def run_header(self) -> RunHeader:
        return self.query_one("#header", RunHeader)

    @property
    def run_messages(self) -> RunMessages:
        return self.query_one("#messages", RunMessages)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter", FilterBar)

    def show_first(self) -> None:
        """The first look, on mount: follow the session's events, fill the tree, say
        what a resume kept, and start the repaints."""
        # Deferred: a burst of task starts and ends is handed on at the next repaint (or
        # before any other event), not one call per event in the burst's way.
        self.session.subscribe(self.changes, deferred=True)
        # Attempts (retries, manual retries, logs by attempt) and the run's clock.
        self.session.subscribe(self.view.history, deferred=True)
        if not self.CLOCK_FROM_SESSION:
            self.clock.timer.watch(self.session)
            self.changes.run_listeners.append(self.clock.timer)  # no task event for it
        self.view.refresh()
        self.task_tree.populate(self.groups)
        self.set_focus(self.task_tree)
        self._show_run()
        self.show_highlighted()
        self._note_resume()
        self.set_interval(self.FLUSH_INTERVAL, self.flush_changes)

    def _note_resume(self) -> None:
        session = self.session
        plan = session.plan
        if session.resumed_from is None or plan is None:
            if session.start_notice:  # what --continue decided
                self.run_messages.set_note(sentence(session.start_notice))
            return
        self.run_messages.set_note(
            f"Resumed from {display_path(session.resumed_from)}: {plan.counts()}."
        )

    # -- repaint -----------------------------------------------------------------------

    def flush_changes(self, now: bool = False) -> None:
        """Apply pending changes: only changed rows, in one batch (one repaint). `now`:
        also while events stream (what the operator is about to be asked about)."""
        if self.session_closed or not self.is_running:
            return
        if not now and self._streaming():
            return
        self.session.deliver()
        batch = self.changes.take()
        animate = not self.clock.frozen and bool(self.view.running)
        live = self.session.is_running
        if batch.empty and not animate and not live:
            return
        self.flushes += 1
        whole = batch.all_rows or batch.rebuild
        names = batch.tasks
        if batch.run_started and not whole:
            names = [*names, *self.view.shown_finished()]
        if animate and not whole:
            names = [*names, *self.view.running]  # spinners and live durations
        changed = self.view.refresh(None if whole else names)
        with self.batch_update():
            self._apply(batch, names, changed)

    def _streaming(self) -> bool:
        """Whether to put this repaint off: the run is live, and more than STREAM_EVENTS
        events came since the last look, for less than STREAM_DEFER seconds."""
        pending = self.changes.pending_events + self.session.undelivered
        if not self.session.is_running or pending - self._events_seen < self.STREAM_EVENTS:
            self._deferred_at = None
            self._events_seen = 0
            return False
        now = time.monotonic()
        if self._deferred_at is None:
            self._deferred_at = now
        elif now - self._deferred_at >= self.STREAM_DEFER:
            self._deferred_at = None
            self._events_seen = 0
            return False
        self._events_seen = pending
        return True

    def _apply(self, batch: ChangeBatch, names: list[str], changed: list[Transition]) -> None:
        tree = self.task_tree
        if batch.rebuild:
            self.groups = group_tasks(self.session.steps, self.session.graph.depths())
            self._populate()
        elif names or changed:
            # After a look at every row (a run started or ended), only the groups whose
            # tasks changed status are relabelled.
            self.repainted_rows += tree.update_rows(names, changed)
        if batch.tasks or batch.all_rows or batch.rebuild or batch.run_changed:
            self._show_run()
        else:
            self.run_header.show_elapsed(self.view)
        for severity, text in batch.messages:
            if severity == "error":
                self.run_messages.add_error(text)
                self.notify(text, severity="error", timeout=10)
            else:
                self.run_messages.set_note(text)
        if self.filter_query:
            self._show_count()
        if self.following:
            self.follow()
        highlighted = tree.highlighted_task
        if highlighted is None:
            if tree.highlighted_group is not None and (
                batch.all_rows or batch.rebuild or changed or (names and self._live_due())
            ):
                self.show_highlighted()
        elif highlighted != self.detail_pane.task_name or (
            batch.all_rows
            or batch.rebuild
            or highlighted in batch.tasks
            or (highlighted in self.view.running and self._live_detail(highlighted))
        ):
            self.show_highlighted()
        if batch.run_changed:
            self._retriable = self.retry_target() is not None
            self.refresh_footer()

    def _show_run(self) -> None:
        counts = self.view.counts()
        self.run_header.show(self.view, counts)
        state = self.session.state
        if state.is_over and not self._summarized and not self.session.is_running:
            self._summarized = True
            summary = run_summary(
                state,
                counts,
                self.view.elapsed(),
                self.session.failed_tasks(),
                self.summary_hint(),
            )
            self.run_messages.set_summary(summary)

    def summary_hint(self) -> str | None:
        """What the banner of a run that is over says to press (None: the usual)."""
        return None

    def clear_summary(self) -> None:
        """A new run is on its way: the banner of the last one goes (and comes back when
        that one is over)."""
        self._summarized = False
        self.run_messages.set_summary(None)

    def _populate(self) -> None:
        task_filter = make_filter(self.session.steps, self.filter_query)
        self.task_tree.populate(self.groups, task_filter, self.order)
        self._show_count()
        self.show_highlighted()

    def _show_count(self) -> None:
        self.query_one("#filter-count", FilterCount).show_count(
            self.task_tree.shown_count, len(self.session.steps)
        )

    #: Seconds between updates of the pane while only a running time moves in it: each
    #: update of its text lays the screen out again, which costs more than a repaint.
    LIVE_DETAIL_INTERVAL = 1.0
    _live_shown_at = float("-inf")

    def _live_due(self) -> bool:
        now = self.clock.monotonic()
        if now - self._live_shown_at < self.LIVE_DETAIL_INTERVAL:
            return False
        self._live_shown_at = now
        return True

    def _live_detail(self, name: str) -> bool:
        """A running task's pane is due: a retry's countdown at every repaint, a running
        time once a LIVE_DETAIL_INTERVAL."""
        return self.view.retrying_in(name) is not None or self._live_due()

    def show_highlighted(self) -> None:
        """The detail pane of what the cursor is on: a task, or a group's summary."""
        tree = self.task_tree
        title = tree.highlighted_group
        group_pane = self.group_pane
        if title is None:
            if group_pane.display:
                group_pane.remove_class("-shown")
                self.detail_pane.display = True
            self.detail_pane.show_task(tree.highlighted_task)
            return
        group_pane.show_group(title, tree.group(title).names, len(tree.group_shown(title)))
        if not group_pane.has_class("-shown"):
            self.detail_pane.display = False
            group_pane.add_class("-shown")

    def follow(self) -> None:
        """Follow mode: keep the cursor on a running task (the highlighted one while it
        runs, else the first running task in the tree's order)."""
        tree = self.task_tree
        highlighted = tree.highlighted_task
        running = self.view.running
        if highlighted is not None and highlighted in running:
            return
        name = tree.next_task((RowStatus.RUNNING,))
        if name is not None and name != highlighted:
            tree.select_task(name)

    def state_changed(self) -> None:
        """The run's state changed by a key: show it now, not at the next repaint."""
        self.changes.mark_run_changed()
        self.flush_changes()

    # -- the footer --------------------------------------------------------------------

    def retry_target(self) -> str | None:
        """The highlighted task, if `r` can retry it now."""
        if self.session.is_running:
            return None
        name = self.task_tree.highlighted_task
        if name is None or self.view.status(name) not in _RETRIABLE:
            return None
        return name

    def _footer_state(self) -> tuple[bool | None, ...]:
        return tuple(self.check_action(a, ()) for a in _FOOTER_ACTIONS)

    def keep_footer(self) -> None:
        """Take the keys offered now as the ones the footer shows."""
        self._footer_signature = self._footer_state()

    def refresh_footer(self) -> None:
        """Refresh the keys only when one of them changed (every binding check runs
        again on a refresh)."""
        signature = self._footer_state()
        if signature != self._footer_signature:
            self._footer_signature = signature
            self.refresh_bindings()

    # -- focus, filter, help -----------------------------------------------------------

    @on(Tree.NodeHighlighted, "#tasks")
    def _highlighted(self, event: Tree.NodeHighlighted[TaskRef | GroupRef]) -> None:
        self.show_highlighted()
        retriable = self.retry_target() is not None
        if retriable != self._retriable:  # the footer's r comes and goes
            self._retriable = retriable
            self.refresh_bindings()

    @on(TaskTree.DetailRequested)
    def _detail_requested(self, event: TaskTree.DetailRequested) -> None:
        self.detail_pane.show_task(event.name)
        self.set_focus(self.detail_pane)

    def action_focus_detail(self) -> None:
        self.show_highlighted()
        if self.task_tree.highlighted_task is not None:
            self.set_focus(self.detail_pane)

    # set_focus (not widget.focus(), which is deferred) so keys typed right after
    # reach the newly focused widget, not the one losing focus.

    def action_focus_tree(self) -> None:
        self.set_focus(self.task_tree)

    def action_filter(self) -> None:
        bar = self.filter_bar
        bar.show()
        self.set_focus(bar)
        self.refresh_bindings()
        # What every filter reads (0.1-0.2 s at a million tasks, once), made in a thread
        # while the first word is typed rather than at the first screen.
        prepare_filters(self.session.steps)

    def action_clear_filter(self) -> None:
        bar = self.filter_bar
        bar.value = ""
        bar.hide()
        self._set_filter("")
        self.set_focus(self.task_tree)
        self.refresh_bindings()

    @on(FilterBar.QueryChanged)
    def _filter_changed(self, event: FilterBar.QueryChanged) -> None:
        self._set_filter(event.query)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.filter_bar.hide()
        self.set_focus(self.task_tree)

    def _set_filter(self, query: str) -> None:
        if query == self.filter_query:
            return
        self.filter_query = query
        self._populate()

    def action_help(self) -> None:
        keys = describe_keys(self, [self, self.task_tree, self.detail_pane])
        self.push_screen(HelpScreen(keys))
