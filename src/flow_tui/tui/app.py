"""The dashboard app: one Session shown live, steered with keys.

The app is built in layers, each a module with one idea, each reading only the layers
below it: `RunDisplay` (display.py) shows the session and never changes it; `RunControl`
(run_control.py) starts, pauses and resumes the run, with the operator's consent where a
start needs it; `ExitFlow` (exit_flow.py) closes the session and exits, on quit or on a
stop signal. This module adds the keys: what they offer now, and save, load, retry, quit.

Over 400 lines on purpose: most of it is the key table (every binding with its id and
tooltip, which the footer, the help screen and the command palette read) and the small
action methods behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

from flow_tui.core.errors import FlowError
from flow_tui.exit_codes import EXIT_OK
from flow_tui.session import LoadedSnapshot, RunState, Session
from flow_tui.tui.clock import Clock
from flow_tui.tui.cockpit_views import CockpitViews
from flow_tui.tui.commands import palette_commands
from flow_tui.tui.dialogs import (
    ConfirmQuit,
    LoadDialog,
    PlanDecision,
    PlanScreen,
    QuitChoice,
    SaveDialog,
)
from flow_tui.tui.dialogs.confirm_quit import ended_badly
from flow_tui.tui.dialogs.paths import default_snapshot_path, display_path
from flow_tui.tui.exit_flow import ExitFlow
from flow_tui.tui.status import RowStatus
from flow_tui.tui.task_tree import SortOrder

# Why a key does nothing now, said instead of nothing (the key, the palette).
_UNAVAILABLE = {
    "load": "Load replaces the run: pause it (p) and let the running tasks finish, or "
    "wait for the end, then press o.",
    "retry": "r retries the highlighted failed, skipped, cancelled or interrupted task "
    "once nothing runs.",
    "retry_failed": "R retries every failed task once the run is not running and one failed.",
    "pause": "Nothing runs to pause.",
    "resume": "The run is not paused.",
    "pause_interrupt": "Nothing runs to interrupt.",
}


class DashboardApp(CockpitViews, ExitFlow):
    """`flow-tui launch` without --headless: a live view of one Session."""

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
        # While a run moves, o says why it cannot load (a key that does nothing reads
        # as broken); check_action offers this one exactly when `load` is not.
        Binding("o,ctrl+o", "load_refused", "Load", show=False),
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
        Binding(
            "f",
            "follow",
            "Follow",
            id="follow",
            tooltip="Follow mode: keep the cursor on a running task (f again stops)",
        ),
        Binding(
            "n",
            "next_failed",
            "Next failed",
            show=False,
            id="next_failed",
            tooltip="Jump to the next failed task",
        ),
        Binding(
            "N,shift+n",
            "next_running",
            "Next running",
            show=False,
            id="next_running",
            tooltip="Jump to the next running task",
        ),
        Binding(
            "v",
            "sort",
            "Sort",
            show=False,
            id="sort",
            tooltip="Order tasks in their group: as declared, by status, by duration",
        ),
        Binding(
            "minus",
            "collapse_all",
            "Fold all",
            show=False,
            id="collapse_all",
            tooltip="Fold every group",
        ),
        Binding(
            "plus,equals_sign",
            "expand_all",
            "Unfold all",
            show=False,
            id="expand_all",
            tooltip="Unfold every group",
        ),
        Binding(
            "t",
            "timeline",
            "Timeline",
            show=False,
            id="timeline",
            tooltip="The timeline of the run: one bar per task attempt",
        ),
        Binding(
            "l",
            "log_view",
            "Log",
            show=False,
            id="log_view",
            tooltip="The highlighted task's log, full screen",
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
        super().__init__(session, clock, autostart, grace)
        # The snapshot last saved or resumed: the load dialog offers it first.
        self.last_snapshot: Path | None = session.resumed_from
        self.last_saved: Path | None = None  # the save dialog proposes it again

    async def on_mount(self) -> None:
        # The app's only on_mount: Textual calls the handler of each class that has one
        # (a subclass's and this one), so a subclass overrides `mounted` instead.
        await self.mounted()

    async def mounted(self) -> None:
        """The first look once mounted: signals, the control socket, the session
        followed, and the run started (or consent asked)."""
        self.install_signal_handlers()
        await self.serve_controls()
        self.show_first()
        if self.session.needs_consent:
            self.ask_consent()
        elif self.autostart:
            self.start_after_paint()
        self.keep_footer()

    # -- what the keys offer now -------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.session
        state = session.state
        if state is RunState.PENDING and self.start_pending:
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
        if action == "load_refused":
            return state in (RunState.RUNNING, RunState.PAUSING)
        if action == "retry":
            return self.retry_target() is not None
        if action == "retry_failed":
            return not session.is_running and bool(session.failed_tasks())
        if action == "clear_filter":
            return bool(self.filter_query) or self.filter_bar.shown
        return True

    # -- save and load -----------------------------------------------------------------

    async def save_snapshot(self, path: Path) -> Path:
        """Through the controls: the snapshot taken on the loop (consistent), written off
        the loop, as `flow-tui save` does."""
        return await self.controls.save(path.resolve())

    def save_folder(self) -> Path | None:
        """Where a new snapshot is proposed: beside the checkpoint, else (None) the
        working folder."""
        checkpoint = self.session.checkpointer
        return checkpoint.path.parent if checkpoint is not None else None

    def action_save(self, then_quit: bool = False) -> None:
        session = self.session
        if self.last_saved is not None:
            default = display_path(self.last_saved)
        else:
            default = default_snapshot_path(
                self.save_folder(), session.workflow.name, self.clock.now()
            )
        title = "Save snapshot, then quit" if then_quit else "Save snapshot"
        dialog = SaveDialog(default, self.save_snapshot, title=title)
        self.push_screen(dialog, partial(self._saved, then_quit))

    async def _saved(self, then_quit: bool, path: Path | None) -> None:
        if path is None:
            return
        self.last_saved = self.last_snapshot = path
        self.run_messages.set_note(f"Snapshot saved to {display_path(path)}")
        if then_quit:
            await self.close_and_exit()

    def action_load(self) -> None:
        if self.check_action("load", ()) is not True:
            return
        dialog = LoadDialog.near(self.session.source, self._preview, last=self.last_snapshot)
        self.push_screen(dialog, self._loaded)

    def action_load_refused(self) -> None:
        self.say_unavailable("load")

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
        self.last_snapshot = loaded.path
        self.clear_summary()
        plan = self.session.plan
        counts = f": {plan.counts()}" if plan is not None else ""
        self.changes.info(f"Loaded {display_path(loaded.path)}{counts}. Press p to run it.")
        self.flush_changes()

    # -- retry -------------------------------------------------------------------------

    def action_retry(self) -> None:
        name = self.retry_target()
        if name is not None:
            self._retry([name])

    def action_retry_failed(self) -> None:
        if not self.session.is_running:
            failed = self.session.failed_tasks()
            if failed:
                self._retry(failed)

    def _retry(self, names: list[str]) -> None:
        try:
            targets = self.controls.retry(names)  # prepares the run and starts it
        except FlowError as exc:
            self.steer_failed(exc)
            return
        extra = len(targets) - len(names)
        self.run_messages.set_note(
            f"Retrying {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            + (f" and {extra} task(s) that depend on it" if extra > 0 else ""),
            until_run_ends=True,
        )

    # -- large runs: follow, jump, sort, fold ------------------------------------------

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.run_messages.set_note(
                "Follow: the cursor stays on a running task. f stops following."
            )
            self.follow()
        else:
            self.run_messages.set_note("Follow off: the cursor stays where you put it.")

    def _jump(self, status: RowStatus, what: str) -> None:
        tree = self.task_tree
        name = tree.next_task((status,))
        if name is None:
            shown = " shown by the filter" if self.filter_query else ""
            self.run_messages.set_note(f"No {what} task{shown}.")
            return
        tree.select_task(name)
        self.set_focus(tree)

    def action_next_failed(self) -> None:
        self._jump(RowStatus.FAILURE, "failed")

    def action_next_running(self) -> None:
        self._jump(RowStatus.RUNNING, "running")

    def action_sort(self) -> None:
        self.order = self.order.next()
        if self.filter_query:
            self._populate()  # which rows show may change with the order's keys: rebuilt
        else:
            self.task_tree.set_order(self.order)  # the rows on screen moved, no rebuild
            self.show_highlighted()
        words = {
            SortOrder.DECLARED: "as declared",
            SortOrder.STATUS: "by status (failed, interrupted, running first)",
            SortOrder.DURATION: "by duration (longest first)",
        }
        self.run_messages.set_note(
            f"Tasks in each group ordered {words[self.order]}; v changes it."
        )

    def action_collapse_all(self) -> None:
        self.task_tree.collapse_groups()

    def action_expand_all(self) -> None:
        folded = self.task_tree.expand_groups()
        if folded:
            self.run_messages.set_note(
                f"Unfolded the next groups from here; {folded:,} stay folded in a run this "
                "large (+ again unfolds the next ones, l one group)."
            )

    # -- the command palette -----------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        nodes: list[DOMNode] = [self]
        if screen is self.screen_stack[0]:
            nodes += [self.task_tree, self.detail_pane]
        ours = []
        for ours_command in palette_commands(nodes, self.get_key_display):
            ours.append(ours_command.title)
            yield SystemCommand(
                ours_command.title,
                ours_command.help,
                partial(self.run_command, ours_command.action, ours_command.node),
            )
        for command in super().get_system_commands(screen):
            if command.title not in ours and command.title != "Keys":
                yield command

    async def run_command(self, action: str, node: DOMNode) -> None:
        """A command picked in the palette: run, or say why it does not apply now."""
        if node.check_action(action, ()):
            await self.run_action(action, node)
        else:
            self.say_unavailable(action)

    def say_unavailable(self, action: str) -> None:
        self.run_messages.set_note(_UNAVAILABLE.get(action, "Not available now."))

    # -- quit --------------------------------------------------------------------------

    def unfinished(self) -> bool:
        return not self.session.state.is_over

    async def action_quit(self) -> None:
        if self.quitting or isinstance(self.screen, ConfirmQuit):
            return
        session = self.session
        checkpoint = session.checkpointer
        where = display_path(checkpoint.path) if checkpoint is not None else None
        if not self.unfinished():
            if session.exit_code() == EXIT_OK:
                await self.close_and_exit()
                return
            # Over with failures: a snapshot saved now lets a later launch retry them.
            dialog = ConfirmQuit.after_run(session.state, session.counts(), where)
        else:
            self.flush_changes(now=True)  # the counts as of this key, not the last repaint
            counts = self.view.counts()
            left = counts[RowStatus.PENDING] + counts[RowStatus.INTERRUPTED]
            running = counts[RowStatus.RUNNING]
            dialog = ConfirmQuit.during_run(session.state, running, left, where)
        self.push_screen(dialog, self._quit_chosen)

    def after_run(self) -> None:
        super().after_run()
        dialog = self.screen
        if isinstance(dialog, ConfirmQuit) and not dialog.over:
            # The run ended while the operator was asked to cancel it: the question
            # changes with it (nothing is cancelled any more).
            session = self.session
            if session.exit_code() == EXIT_OK:
                dialog.restate(
                    "The run finished meanwhile: every task succeeded. Quit?",
                    "Nothing is cancelled: the run is over.",
                )
            else:  # the question after a failed run, its checkpoint as asked before
                dialog.restate(ended_badly(session.state, session.counts()))

    async def _quit_chosen(self, choice: QuitChoice | None) -> None:
        if choice is QuitChoice.QUIT:
            await self.close_and_exit()
        elif choice is QuitChoice.SAVE:
            self.action_save(then_quit=True)
