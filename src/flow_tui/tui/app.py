"""The dashboard app: one Session shown live, steered with keys.

The app is the only place that steers the session (pause, resume, save, load, retry,
quit); widgets read a RunView. Runner events land in PendingChanges and a 10 Hz timer
applies them inside `batch_update()`, so a burst of task events costs one repaint.

Stop signals (SIGTERM, SIGHUP, SIGINT) go through the shared SignalGuard: running tasks
get the grace period (counted down on screen), then the session is closed and the app
exits with 128 + the signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Tree
from textual.worker import Worker

from flow_tui.core.errors import FlowError
from flow_tui.core.resume import InterruptedTaskError
from flow_tui.exit_codes import EXIT_OK
from flow_tui.session import LoadedSnapshot, RunState, Session
from flow_tui.shutdown import SignalGuard
from flow_tui.tui.changes import ChangeBatch, PendingChanges
from flow_tui.tui.clock import Clock
from flow_tui.tui.detail import TaskDetail
from flow_tui.tui.dialogs import (
    ConfirmInterrupt,
    ConfirmQuit,
    ConsentScreen,
    HelpScreen,
    KeyHelp,
    LoadDialog,
    PlanDecision,
    PlanScreen,
    QuitChoice,
    SaveDialog,
)
from flow_tui.tui.dialogs.paths import display_path, find_snapshots
from flow_tui.tui.dialogs.plan import plan_counts
from flow_tui.tui.filter_bar import FilterBar
from flow_tui.tui.header import RunHeader
from flow_tui.tui.key_bar import KeyBar
from flow_tui.tui.messages import RunMessages
from flow_tui.tui.status import RowStatus, format_clock
from flow_tui.tui.task_tree import TaskRef, TaskTree, filter_tasks, group_tasks
from flow_tui.tui.view import RunView, Transition

FILTER_AT_ONCE = 1000  # up to this many tasks the filter applies on every keystroke

# How a finished run's tasks can have ended badly: Session.counts() keys, words.
_BAD_ENDS = (("failure", "failed"), ("skipped", "skipped"), ("cancelled", "cancelled"))

_RETRIABLE = {
    RowStatus.FAILURE,
    RowStatus.CANCELLED,
    RowStatus.SKIPPED,
    RowStatus.INTERRUPTED,
}


def _sentence(text: str) -> str:
    """A lower-case notice (shared with headless output) as a sentence on screen."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class DashboardApp(App[int]):
    """`flow-tui launch` without --headless: a live view of one Session."""

    # Absolute, so subclasses defined elsewhere (tests, benchmarks) find it too.
    CSS_PATH = Path(__file__).with_name("dashboard.tcss")
    TITLE = "flow-tui"
    ENABLE_COMMAND_PALETTE = False
    FLUSH_INTERVAL = 0.1  # seconds between repaints of pending changes

    BINDINGS: ClassVar[list[BindingType]] = [
        # Two bindings share `p`; check_action shows the one that applies, so the footer
        # reads Pause while running and Resume while paused.
        Binding(
            "p",
            "pause",
            "Pause",
            id="pause",
            tooltip="Pause: no new task starts, running tasks finish",
        ),
        Binding(
            "p",
            "resume",
            "Resume",
            id="resume",
            tooltip="Resume the run (or start a loaded one)",
        ),
        Binding(
            "P,shift+p",
            "pause_interrupt",
            "Interrupt",
            show=False,
            id="pause_interrupt",
            tooltip="Pause now: running tasks are cancelled and run again on resume",
        ),
        Binding(
            "s,ctrl+s",
            "save",
            "Save",
            id="save_snapshot",
            tooltip="Save a snapshot of the run (TOML or JSON)",
        ),
        Binding(
            "o,ctrl+o",
            "load",
            "Load",
            id="load_snapshot",
            tooltip="Load a snapshot to resume from (when paused or ended)",
        ),
        Binding(
            "r",
            "retry",
            "Retry",
            id="retry_task",
            tooltip="Retry the highlighted task and what was skipped because of it",
        ),
        Binding(
            "R,shift+r",
            "retry_failed",
            "Retry failed",
            id="retry_failed",
            tooltip="Retry every failed task",
        ),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter by name, status or tag"),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            id="clear_filter",
            tooltip="Clear the filter",
        ),
        Binding("question_mark", "help", "Help", id="help", tooltip="Show every key"),
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="Quit (asks first if work is unfinished or failed)",
        ),
        # ctrl+c too: the terminal is raw, so it arrives as a key, and the operator who
        # presses it means "quit", not Textual's "press ctrl+q" hint.
        Binding(
            "ctrl+q,ctrl+c",
            "quit",
            "Quit",
            show=False,
            priority=True,
            id="quit_now",
            tooltip="Quit (asks first if work is unfinished or failed)",
        ),
    ]

    def __init__(
        self,
        session: Session,
        *,
        clock: Clock | None = None,
        autostart: bool = True,
        grace: float = 10.0,
    ) -> None:
        super().__init__()
        self.session = session
        self.clock = clock or Clock()
        self.autostart = autostart
        self.changes = PendingChanges(self.clock)
        self.view = RunView(session, self.changes, self.clock)
        self.groups = group_tasks(session.steps, session.graph.depths())
        self.filter_query = ""
        self._filter_timer: Timer | None = None
        self.run_task_worker: Worker[None] | None = None
        self.flushes = 0
        self.repainted_rows = 0
        self._summarized = False
        self._start_pending = False
        self._retriable = False
        self._footer_signature: tuple[bool | None, ...] = ()
        self._closed = False
        self._quitting = False
        self.close_error: str | None = None
        self.guard = SignalGuard(
            session,
            self._signal_notice,
            grace,
            force_exit=self._force_exit,
            when_idle=self._signalled_when_idle,
            ctrl_c_signals=False,  # the terminal is raw: ctrl+c is the quit key here
        )
        self._remove_signal_handlers: Callable[[], None] | None = None
        self._shutdown_text: str | None = None
        self._shutdown_timer: Timer | None = None

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield RunMessages(id="messages")
        with Horizontal(id="body"):
            with Vertical(id="tree-column"):
                yield FilterBar(id="filter")
                yield TaskTree(self.view, id="tasks")
            yield TaskDetail(self.view, id="detail")
        yield KeyBar(id="keys")

    @property
    def task_tree(self) -> TaskTree:
        return self.query_one("#tasks", TaskTree)

    @property
    def detail_pane(self) -> TaskDetail:
        return self.query_one("#detail", TaskDetail)

    @property
    def run_header(self) -> RunHeader:
        return self.query_one("#header", RunHeader)

    @property
    def run_messages(self) -> RunMessages:
        return self.query_one("#messages", RunMessages)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#filter", FilterBar)

    def on_mount(self) -> None:
        self._remove_signal_handlers = self.guard.install(asyncio.get_running_loop())
        self.session.subscribe(self.changes)
        self.view.refresh()
        self.task_tree.populate(self.groups)
        self.set_focus(self.task_tree)
        self._show_run()
        self.detail_pane.show_task(self.task_tree.highlighted_task)
        self._note_resume()
        self.set_interval(self.FLUSH_INTERVAL, self.flush_changes)
        if self.session.needs_consent:
            self._ask_consent()
        elif self.autostart:
            # After the first paint: the operator sees the tree before events flood in,
            # and laying out thousands of rows does not stall the first tasks.
            self._start_pending = True
            self.call_after_refresh(self.start_run)
        self._footer_signature = self._footer_state()

    async def on_unmount(self) -> None:
        self.guard.cancel_timers()
        if self._remove_signal_handlers is not None:
            self._remove_signal_handlers()
            self._remove_signal_handlers = None
        await self._close_session()

    # -- the run -----------------------------------------------------------------------

    def start_run(self) -> None:
        """Start the prepared run in an async worker on this loop."""
        self._start_pending = False
        if self.session.is_running or self._quitting or self.guard.received is not None:
            return
        self._summarized = False
        self.run_messages.set_summary(None)
        self.run_task_worker = self.run_worker(
            self._execute(), name="run", group="run", exit_on_error=False
        )

    async def _execute(self) -> None:
        try:
            await self.session.run()
        except FlowError as exc:
            self.changes.error(str(exc))
        except Exception as exc:  # the dashboard must show it, never crash
            self.changes.error(f"the run stopped on an unexpected {type(exc).__name__}: {exc}")
        finally:
            self.changes.mark_all_rows()
        self.flush_changes()
        if self.guard.received is not None:
            # Not from inside this worker: the runner's cancel may still be pending on
            # its task, and closing the session must not be cut short by it.
            self.call_later(self._exit_after_signal)

    async def wait_for_run(self) -> None:
        """Wait for the run worker to end (tests, quitting), once it has started."""
        while self._start_pending:
            await asyncio.sleep(0.001)  # the start waits for the first paint
        worker = self.run_task_worker
        if worker is not None:
            with contextlib.suppress(Exception):
                await worker.wait()

    # -- repaint -----------------------------------------------------------------------

    def flush_changes(self) -> None:
        """Apply pending changes: only changed rows, in one batch (one repaint)."""
        if self._closed or not self.is_running:
            return
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
        highlighted = tree.highlighted_task
        if highlighted is not None and (
            batch.all_rows
            or batch.rebuild
            or highlighted in batch.tasks
            or highlighted in self.view.running
        ):
            self.detail_pane.show_task(highlighted)
        if batch.run_changed:
            if self.filter_query:
                self._populate()
            self._retriable = self._retry_target() is not None
            self._refresh_footer()

    def _show_run(self) -> None:
        counts = self.view.counts()
        self.run_header.show(self.view, counts)
        state = self.session.state
        if state.is_over and not self._summarized and not self.session.is_running:
            self._summarized = True
            self.run_messages.set_summary(self._summary(state, counts))

    def _summary(self, state: RunState, counts: dict[RowStatus, int]) -> Content:
        elapsed = format_clock(self.view.elapsed())
        if state is RunState.FINISHED:
            return Content.styled(
                f"✔ Run finished: {counts[RowStatus.SUCCESS]} tasks succeeded in {elapsed}. "
                "q quits.",
                "$text-success",
            )
        parts = [f"{counts[RowStatus.SUCCESS]} succeeded"]
        for status, word in (
            (RowStatus.FAILURE, "failed"),
            (RowStatus.SKIPPED, "skipped"),
            (RowStatus.CANCELLED, "cancelled"),
            (RowStatus.INTERRUPTED, "interrupted"),
        ):
            if counts[status]:
                parts.append(f"{counts[status]} {word}")
        failed = self.session.failed_tasks()
        if failed:
            shown = ", ".join(failed[:3]) + (" ..." if len(failed) > 3 else "")
            parts[1] = f"{parts[1]} ({shown})"
        verb = "failed" if state is RunState.FAILED else "was cancelled"
        hint = "r retries the highlighted task, R every failed one" if failed else "o loads"
        return Content.styled(
            f"✘ Run {verb} after {elapsed}: {', '.join(parts)}. {hint}; s saves a snapshot.",
            "$text-error" if state is RunState.FAILED else "$text-warning",
        )

    def _populate(self) -> None:
        visible = filter_tasks(self.session.steps, self.view, self.filter_query)
        self.task_tree.populate(self.groups, visible)
        self.detail_pane.show_task(self.task_tree.highlighted_task)

    # -- bindings ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.session
        state = session.state
        if state is RunState.PENDING and self._start_pending:
            # About to start on its own: offer what a running run offers, so the start
            # does not rebuild the footer.
            state = RunState.RUNNING
        if action == "pause":
            return state is RunState.RUNNING
        if action == "resume":
            return state in (RunState.PAUSING, RunState.PAUSED)
        if action == "pause_interrupt":
            return state in (RunState.RUNNING, RunState.PAUSING)
        if action == "load":
            # Loading replaces the run: only when nothing is running.
            return None if state in (RunState.RUNNING, RunState.PAUSING) else True
        if action == "retry":
            return self._retry_target() is not None
        if action == "retry_failed":
            return not session.is_running and bool(session.failed_tasks())
        if action == "clear_filter":
            return bool(self.filter_query) or self.filter_bar.shown
        return True

    _FOOTER_ACTIONS = ("pause", "resume", "load", "retry", "retry_failed")

    def _footer_state(self) -> tuple[bool | None, ...]:
        return tuple(self.check_action(a, ()) for a in self._FOOTER_ACTIONS)

    def _refresh_footer(self) -> None:
        """Refresh the keys only when one of them changed (every binding check runs
        again on a refresh)."""
        signature = self._footer_state()
        if signature != self._footer_signature:
            self._footer_signature = signature
            self.refresh_bindings()

    def _state_changed(self) -> None:
        self.changes.mark_run_changed()
        self.flush_changes()

    def action_pause(self) -> None:
        if self.session.state is RunState.RUNNING:
            self.session.pause()
            self._state_changed()

    def action_resume(self) -> None:
        session = self.session
        if session.state not in (RunState.PAUSING, RunState.PAUSED):
            return
        if session.needs_consent:
            self._ask_resume_consent(session.needs_consent)
            return
        try:
            session.resume()
        except InterruptedTaskError as exc:
            self._ask_resume_consent(exc.names)  # never resume past a held task silently
            return
        if not session.is_running:
            self.run_messages.set_note(None)
            self.start_run()
        self._state_changed()

    def _ask_resume_consent(self, held: list[str]) -> None:
        """An interrupting pause cut off non-idempotent tasks: the run resumes only once
        the operator said, for each, run it again or it completed."""
        if isinstance(self.screen, ConsentScreen):
            return
        self.push_screen(ConsentScreen(list(held)), self._resume_consented)

    def _resume_consented(self, decision: PlanDecision | None) -> None:
        session = self.session
        if decision is None:
            self.run_messages.set_note(
                f"Still paused: {', '.join(session.needs_consent) or 'a task'} was "
                "interrupted and is not idempotent. Press p to decide and resume."
            )
            return
        if session.state not in (RunState.PAUSING, RunState.PAUSED):
            return  # the run ended (or was stopped) while the question was open
        try:
            session.consent(decision.rerun_interrupted, decision.mark_done, by="operator")
        except FlowError as exc:
            self.changes.error(str(exc))
            self.flush_changes()
            return
        self.run_messages.set_note(None)
        self.action_resume()

    def action_pause_interrupt(self) -> None:
        session = self.session
        if session.state not in (RunState.RUNNING, RunState.PAUSING):
            return
        if isinstance(self.screen, ConfirmInterrupt):
            return
        index = session.graph.index
        fragile = [n for n in session.running if not session.steps[index[n]].idempotent]
        if fragile:
            self.push_screen(ConfirmInterrupt(fragile), self._interrupt_confirmed)
            return
        self._interrupt()

    def _interrupt_confirmed(self, interrupt: bool | None) -> None:
        if interrupt:
            self._interrupt()

    def _interrupt(self) -> None:
        if self.session.state in (RunState.RUNNING, RunState.PAUSING):
            self.session.pause(interrupt=True)
            self._state_changed()

    # -- save and load -----------------------------------------------------------------

    def default_snapshot_path(self) -> str:
        """Next to the workflow module (else the working folder), timestamped, TOML."""
        source = self.session.source
        folder = source.parent if source is not None else Path.cwd()
        stamp = self.clock.now().strftime("%Y%m%d-%H%M%S")
        name = re.sub(r"[^\w.-]+", "-", self.session.workflow.name).strip("-") or "workflow"
        return display_path(folder / f"{name}-{stamp}.toml")

    async def save_snapshot(self, path: Path) -> Path:
        """Take the snapshot on the loop (consistent), write it off the loop."""
        snapshot = self.session.snapshot()
        return await asyncio.to_thread(snapshot.save, path)

    def action_save(self, then_quit: bool = False) -> None:
        title = "Save snapshot, then quit" if then_quit else "Save snapshot"
        dialog = SaveDialog(self.default_snapshot_path(), self.save_snapshot, title=title)
        self.push_screen(dialog, partial(self._saved, then_quit))

    async def _saved(self, then_quit: bool, path: Path | None) -> None:
        if path is None:
            return
        self.run_messages.set_note(f"Snapshot saved to {display_path(path)}")
        if then_quit:
            await self._close_and_exit()

    def _snapshot_folders(self) -> list[Path]:
        folders = []
        if self.session.source is not None:
            folders.append(self.session.source.parent)
        folders.append(Path.cwd())
        return folders

    def action_load(self) -> None:
        if self.check_action("load", ()) is not True:
            return
        candidates = find_snapshots(self._snapshot_folders())
        start = display_path(candidates[0]) if candidates else ""
        if not start and self.session.source is not None:
            start = display_path(self.session.source.parent) + "/"
        dialog = LoadDialog(start, candidates, self._preview)
        self.push_screen(dialog, self._loaded)

    def _preview(self, path: Path | str) -> LoadedSnapshot:
        return self.session.preview(
            path,
            force_hint="the dashboard resumes only this workflow's snapshots "
            "(flow-tui launch --resume FILE --force overrides)",
        )

    def _loaded(self, loaded: LoadedSnapshot | None) -> None:
        if loaded is None:
            return
        screen = PlanScreen(loaded.plan, loaded.path, loaded.snapshot, self.clock)
        self.push_screen(screen, partial(self._apply_plan, loaded))

    async def _apply_plan(self, loaded: LoadedSnapshot, decision: PlanDecision | None) -> None:
        if decision is None:
            return
        try:
            await self.session.apply(
                loaded,
                rerun_interrupted=decision.rerun_interrupted,
                mark_done=decision.mark_done,
            )
        except FlowError as exc:
            self.changes.error(f"could not load {display_path(loaded.path)}: {exc}")
            self.flush_changes()
            return
        self._summarized = False
        self.run_messages.set_summary(None)
        plan = self.session.plan
        counts = f": {plan_counts(plan)}" if plan is not None else ""
        self.changes.info(f"Loaded {display_path(loaded.path)}{counts}. Press p to run it.")
        self.flush_changes()

    def _note_resume(self) -> None:
        session = self.session
        plan = session.plan
        if session.resumed_from is None or plan is None:
            if session.start_notice:  # what --continue decided
                self.run_messages.set_note(_sentence(session.start_notice))
            return
        self.run_messages.set_note(
            f"Resumed from {display_path(session.resumed_from)}: {plan_counts(plan)}."
        )

    def _ask_consent(self) -> None:
        """Launched with --resume over interrupted non-idempotent tasks: ask before running."""
        session = self.session
        assert session.plan is not None and session.resumed_from is not None
        screen = PlanScreen(session.plan, session.resumed_from, None, self.clock)
        self.push_screen(screen, self._consented)

    def _consented(self, decision: PlanDecision | None) -> None:
        if decision is None:
            self.run_messages.set_note(
                "Not started: interrupted non-idempotent tasks need a decision. "
                "Press o to load a snapshot, or q to quit."
            )
            return
        self.session.consent(decision.rerun_interrupted, decision.mark_done, by="operator")
        if self.autostart:
            self.start_run()
        self._state_changed()

    # -- retry -------------------------------------------------------------------------

    def _retry_target(self) -> str | None:
        if self.session.is_running:
            return None
        name = self.task_tree.highlighted_task
        if name is None or self.view.status(name) not in _RETRIABLE:
            return None
        return name

    def action_retry(self) -> None:
        name = self._retry_target()
        if name is not None:
            self._retry([name])

    def action_retry_failed(self) -> None:
        if not self.session.is_running:
            failed = self.session.failed_tasks()
            if failed:
                self._retry(failed)

    def _retry(self, names: list[str]) -> None:
        try:
            targets = self.session.retry(names)
        except FlowError as exc:
            self.changes.error(str(exc))
            self.flush_changes()
            return
        extra = len(targets) - len(names)
        self.run_messages.set_note(
            f"Retrying {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            + (f" and {extra} task(s) that depend on it" if extra > 0 else "")
        )
        self.start_run()
        self._state_changed()

    # -- focus, filter, help -----------------------------------------------------------

    @on(Tree.NodeHighlighted, "#tasks")
    def _highlighted(self, event: Tree.NodeHighlighted[TaskRef]) -> None:
        data = event.node.data
        if isinstance(data, TaskRef):
            self.detail_pane.show_task(data.name)
        retriable = self._retry_target() is not None
        if retriable != self._retriable:  # the footer's r comes and goes
            self._retriable = retriable
            self.refresh_bindings()

    @on(TaskTree.DetailRequested)
    def _detail_requested(self, event: TaskTree.DetailRequested) -> None:
        self.detail_pane.show_task(event.name)
        self.set_focus(self.detail_pane)

    def action_focus_detail(self) -> None:
        self.detail_pane.show_task(self.task_tree.highlighted_task)
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

    def action_clear_filter(self) -> None:
        bar = self.filter_bar
        bar.value = ""
        bar.hide()
        self._set_filter("")
        self.set_focus(self.task_tree)
        self.refresh_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        if len(self.session.steps) <= FILTER_AT_ONCE:
            self._set_filter(event.value)
        else:
            # Rebuilding thousands of rows per keystroke would lag the typing.
            self._filter_timer = self.set_timer(0.15, partial(self._set_filter, event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
            self._set_filter(event.value)
        if not event.value.strip():
            self.filter_bar.hide()
        self.set_focus(self.task_tree)

    def _set_filter(self, query: str) -> None:
        if query.strip() == self.filter_query:
            return
        self.filter_query = query.strip()
        self._populate()

    def describe_keys(self) -> list[KeyHelp]:
        """Every remappable key of the app, the tree and the detail pane, in declared
        order, showing the keys in force (a keymap applied)."""
        out: list[KeyHelp] = []
        nodes: list[Widget | App[int]] = [self, self.task_tree, self.detail_pane]
        for node in nodes:
            keys: dict[str, list[str]] = {}
            for _key, binding in node._bindings:
                if binding.id is not None:
                    keys.setdefault(binding.id, []).append(self.get_key_display(binding))
            for declared in type(node).BINDINGS:
                if not isinstance(declared, Binding) or declared.id not in keys:
                    continue
                shown = " / ".join(dict.fromkeys(keys[declared.id]))
                out.append(KeyHelp(shown, declared.description, declared.tooltip, declared.id))
        return out

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.describe_keys()))

    # -- quitting ----------------------------------------------------------------------

    def unfinished(self) -> bool:
        return not self.session.state.is_over

    async def action_quit(self) -> None:
        if self._quitting or isinstance(self.screen, ConfirmQuit):
            return
        session = self.session
        checkpoint = session.checkpointer
        where = display_path(checkpoint.path) if checkpoint is not None else None
        if not self.unfinished():
            if session.exit_code() == EXIT_OK:
                await self._close_and_exit()
                return
            # Over with failures: a snapshot saved now lets a later launch retry them.
            tally = session.counts()
            ends = [f"{tally[k]} {word}" for k, word in _BAD_ENDS if tally[k]]
            verb = {RunState.FAILED: "failed", RunState.CANCELLED: "was cancelled"}
            situation = (
                f"The run {verb.get(session.state, 'ended')}: "
                f"{', '.join(ends) or 'not every task succeeded'}. "
                "Quitting exits with code 1. Quit?"
            )
            self.push_screen(ConfirmQuit(situation, where, over=True), self._quit_chosen)
            return
        counts = self.view.counts()
        left = counts[RowStatus.PENDING] + counts[RowStatus.INTERRUPTED]
        running = counts[RowStatus.RUNNING]
        situation = (
            f"The run is {session.state.value}: {running} task(s) running, "
            f"{left} not run yet. Quit anyway?"
        )
        self.push_screen(ConfirmQuit(situation, where), self._quit_chosen)

    async def _quit_chosen(self, choice: QuitChoice | None) -> None:
        if choice is QuitChoice.QUIT:
            await self._close_and_exit()
        elif choice is QuitChoice.SAVE:
            self.action_save(then_quit=True)

    async def _close_and_exit(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        session = self.session
        if session.is_running:
            session.cancel()
            await session.wait_run_over()
        await self.wait_for_run()
        self.guard.cancel_timers()
        await self._close_session()
        self.exit(self.exit_code())

    async def _close_session(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.session.close()
        except FlowError as exc:
            # Too late to show in the app: the CLI prints the return value's reason.
            self.close_error = str(exc)

    @property
    def session_closed(self) -> bool:
        return self._closed

    def exit_code(self) -> int:
        """128 + the signal that stopped the dashboard, else the run's own code, as
        headless gives it: 0 when every task succeeded, 1 otherwise (failed, skipped,
        cancelled, or work left undone by quitting)."""
        signalled = self.guard.exit_code
        return signalled if signalled is not None else self.session.exit_code()

    # -- signals -----------------------------------------------------------------------

    def _signal_notice(self, text: str) -> None:
        # Called from the guard (a signal handler on this loop): draw on the next message.
        self._shutdown_text = text
        self.call_later(self._show_shutdown)

    def _show_shutdown(self) -> None:
        """The message bar's alert: what the signal does, with the grace left."""
        text = self._shutdown_text
        if text is None or self._closed:
            return
        line = _sentence(text)
        deadline = self.guard.deadline
        if deadline is not None:
            left = max(0, math.ceil(deadline - asyncio.get_running_loop().time()))
            line += f" Running tasks are cancelled in {left}s."
            if self._shutdown_timer is None:
                self._shutdown_timer = self.set_interval(0.25, self._show_shutdown)
        elif self._shutdown_timer is not None:
            self._shutdown_timer.stop()
            self._shutdown_timer = None
        self.run_messages.set_alert(line)

    def _signalled_when_idle(self) -> None:
        """A stop signal while no run is in progress: close and exit at once."""
        self.call_later(self._exit_after_signal)

    async def _exit_after_signal(self) -> None:
        if self._quitting:
            return  # a quit in progress ends with the signal's code
        await self._close_and_exit()

    def _force_exit(self) -> None:
        """Tasks ignored their cancellation: restore the terminal, save what is known
        synchronously, and leave without them."""
        code = self.exit_code()
        driver = self._driver  # Textual has no public handle on it
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.stop_application_mode()  # normal screen, mouse off, termios back
                driver.close()  # waits until those escape codes are written
        self._closed = True
        try:
            self.session.close_now()
        except Exception as exc:  # leave anyway: the process must not hang on
            print(f"flow-tui: {exc}", file=sys.__stderr__)
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.__stdout__.flush()  # type: ignore[union-attr]
                sys.__stderr__.flush()  # type: ignore[union-attr]
            os._exit(code)
