"""The run under the dashboard: started in an async worker on the app's loop, paused
(drain or interrupt) and resumed, with the operator's consent before anything runs past
an interrupted task that is not idempotent.

The keys steer through `Controls` (flow_tui.control), the same object that serves the
run's control socket: a pause from `flow-tui pause` and one from `p` are one command.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial

from textual.worker import Worker

from flow_tui.control.controls import Controls
from flow_tui.core.errors import FlowError
from flow_tui.core.resume import InterruptedTaskError
from flow_tui.session import RunState, Session, SessionError
from flow_tui.tui.clock import Clock
from flow_tui.tui.dialogs import ConfirmInterrupt, ConsentScreen, PlanDecision, PlanScreen
from flow_tui.tui.display import RunDisplay


class RunControl(RunDisplay):
    """Starts, pauses and resumes the session's run (the layer above decides when the
    dashboard stops: `stopping`, `after_run`)."""

    def __init__(
        self, session: Session, clock: Clock | None = None, autostart: bool = True
    ) -> None:
        super().__init__(session, clock)
        self.autostart = autostart
        self.run_task_worker: Worker[None] | None = None
        self._no_start_pending = asyncio.Event()  # cleared while a start waits for a paint
        self._no_start_pending.set()
        self.controls = self.make_controls()

    def make_controls(self) -> Controls:
        """The steering commands the keys (and the control socket) use."""
        return Controls(
            self.session,
            start=self.start_run,
            stop=self.request_stop,
            changed=self.state_changed,
            running_attempt=self.running_attempt,
        )

    def running_attempt(self, name: str) -> tuple[int, float] | None:
        """The running attempt of `name` and its seconds so far, as the dashboard keeps
        them from the events (for the full state a viewer starts from)."""
        changes = self.changes
        since = changes.started.get(name)
        if since is None:
            return None
        return changes.attempt.get(name, 1), max(0.0, self.clock.monotonic() - since)

    def request_stop(self, grace: float | None, by: str) -> None:
        """A graceful stop asked from outside (`flow-tui stop`): the layer above does it."""
        raise SessionError("this dashboard cannot be stopped from here")

    def steer_failed(self, exc: FlowError) -> None:
        """A command was refused: say why, on the dashboard."""
        self.changes.error(str(exc))
        self.flush_changes()

    # -- starting ----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """No run may start any more (the dashboard is on its way out)."""
        return False

    def after_run(self) -> None:
        """Called once the run worker has ended and its last changes are shown."""

    @property
    def start_pending(self) -> bool:
        """The run starts on its own after the next paint."""
        return not self._no_start_pending.is_set()

    def start_after_paint(self) -> None:
        """Start the run after the first paint and the refresh that follows it (the
        layout once the tree's rows and scrollbars are known): the operator sees the tree
        before events flood in, and laying out thousands of rows does not stall the first
        tasks (5k no-op tasks from launch: 1.40x the headless time when started after one
        refresh, 1.07x after two)."""
        self._no_start_pending.clear()
        self.call_after_refresh(lambda: self.call_after_refresh(self.start_run))

    def start_run(self) -> None:
        """Start the prepared run in an async worker on this loop."""
        if self.session.is_running or self.stopping:
            self._no_start_pending.set()
            return
        self.clear_summary()
        # Still pending until the worker runs: the footer offers a running run's keys
        # meanwhile, so a repaint in between does not show those of a run not started.
        self._no_start_pending.clear()
        self.run_task_worker = self.run_worker(
            self._execute(), name="run", group="run", exit_on_error=False
        )

    async def _execute(self) -> None:
        try:
            self._no_start_pending.set()  # session.run() is running before it awaits
            await self.session.run()
        except FlowError as exc:
            self.changes.error(str(exc))
        except Exception as exc:  # the dashboard must show it, never crash
            self.changes.error(f"the run stopped on an unexpected {type(exc).__name__}: {exc}")
        finally:
            self.changes.mark_all_rows()
        self.flush_changes()
        self.after_run()

    async def wait_for_run(self) -> None:
        """Wait for the run worker to end (tests, quitting), once it has started."""
        await self._no_start_pending.wait()  # a start waits for the first paint
        worker = self.run_task_worker
        if worker is not None:
            with contextlib.suppress(Exception):
                await worker.wait()

    def ask_consent(self) -> None:
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
        self.state_changed()

    # -- pause and resume --------------------------------------------------------------

    def _pause(self, interrupt: bool = False) -> None:
        try:
            self.controls.pause(interrupt)
        except FlowError as exc:
            self.steer_failed(exc)

    def action_pause(self) -> None:
        if self.session.state is RunState.RUNNING:
            self._pause()

    def action_resume(self) -> None:
        session = self.session
        if session.state not in (RunState.PAUSING, RunState.PAUSED):
            return
        if session.needs_consent:
            self._ask_resume_consent(session.needs_consent)
            return
        self._resume()

    def _resume(self, decision: PlanDecision | None = None) -> None:
        """Resume through the controls, with the operator's `decision` about held tasks;
        asks for one when the run holds tasks nobody decided about."""
        starts = not self.session.is_running  # a prepared run (loaded, --paused) starts
        try:
            if decision is None:
                self.controls.resume()
            else:
                self.controls.resume(
                    rerun_interrupted=decision.rerun_interrupted, mark_done=decision.mark_done
                )
        except InterruptedTaskError as exc:
            self._ask_resume_consent(exc.names)  # never resume past a held task silently
            return
        except FlowError as exc:
            self.steer_failed(exc)
            return
        if starts or decision is not None:
            self.run_messages.set_note(None)

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
        self._resume(decision)

    def action_pause_interrupt(self) -> None:
        session = self.session
        if session.state not in (RunState.RUNNING, RunState.PAUSING):
            return
        if isinstance(self.screen, ConfirmInterrupt):
            return
        fragile = self.session.running_not_idempotent
        if fragile:
            # Nothing new starts while the operator decides, so the question stays true.
            was_running = session.state is RunState.RUNNING
            if was_running:
                self._pause()
            self._ask_interrupt(fragile, was_running)
            return
        self._interrupt()

    def _ask_interrupt(self, fragile: list[str], was_running: bool) -> None:
        self.push_screen(
            ConfirmInterrupt(fragile), partial(self._interrupt_confirmed, fragile, was_running)
        )

    def _interrupt_confirmed(
        self, asked: list[str], was_running: bool, interrupt: bool | None
    ) -> None:
        if interrupt:
            newly = [n for n in self.session.running_not_idempotent if n not in asked]
            if newly:  # started before the pause took hold: ask about those too
                self._ask_interrupt(newly, was_running)
                return
            self._interrupt()
        elif was_running and self.session.is_running:
            self.action_resume()  # "keep running": as it was before P

    def _interrupt(self) -> None:
        if self.session.state in (RunState.RUNNING, RunState.PAUSING):
            self._pause(interrupt=True)
