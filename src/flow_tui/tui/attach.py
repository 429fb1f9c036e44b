"""`flow-tui attach`: the dashboard over a run of another process, through its socket.

The same app as `flow-tui launch` (tree, detail, logs, keys, dialogs) over a
`RemoteSession`: the keys steer through `RemoteControls`, so the run's own rules decide
(a resume past an interrupted non-idempotent task asks for consent here too). What is
different: `d` detaches (the run goes on, exit 0), `q` asks "detach or stop the run?",
Ctrl-C and signals to this process only detach it, loading a snapshot is not offered, and
when the run ends or dies the dashboard says so and stays on the final state.
"""

from __future__ import annotations

import asyncio
import signal
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.css.query import NoMatches

from flow_tui.control.controls import Controls
from flow_tui.control.mirror import (
    CommandRefusedByRun,
    RemoteChanged,
    RemoteControls,
    RemoteSession,
    RunGone,
    RunNotice,
)
from flow_tui.control.registry import RunInfo
from flow_tui.core.events import Event
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.clock import Clock
from flow_tui.tui.dialogs import DetachChoice, DetachOrStop
from flow_tui.tui.exit_flow import _exit_soon

# Keys that need the run to answer: not offered once it is gone.
_STEERING = ("pause", "resume", "pause_interrupt", "save", "retry", "retry_failed")

_ENDED = {"finished": "finished", "failed": "failed", "cancelled": "was cancelled"}


def run_attach(info: RunInfo) -> int:
    """Attach the dashboard to the run `info` names until the operator leaves; 0 when
    they detach or quit (the run's own end is the run's), 128 + N after signal N.
    ControlError (one line) when the run cannot be reached."""

    async def main() -> int:
        session = await RemoteSession.attach(info)
        app = AttachedApp(session)
        app.exit_watchdog = True
        try:
            result = await app.run_async()
        finally:
            await session.close()
        return (app.return_code or 0) if result is None else result

    with asyncio.Runner() as runner:
        return runner.run(main())


class AttachedApp(DashboardApp):
    """The dashboard of a run that another process executes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "d",
            "detach",
            "Detach",
            id="detach",
            tooltip="Leave this view; the run goes on",
        ),
    ]

    session: RemoteSession
    CLOCK_FROM_SESSION = True  # a retry seen here would start a clock of its own

    def __init__(self, session: RemoteSession, *, clock: Clock | None = None) -> None:
        super().__init__(session, clock=clock, autostart=False)
        self.title = f"flow-tui attach {session.info.id}"

    def make_controls(self) -> Controls:
        assert isinstance(self.session, RemoteSession)
        return RemoteControls(self.session)

    # -- mounting and leaving ----------------------------------------------------------

    async def mounted(self) -> None:
        # In place of DashboardApp's: no socket of its own, no start, the session followed
        # once (it was followed twice, each attempt heard twice: a manual retry).
        session = self.session
        self.install_signal_handlers()
        self.show_first()
        self.view.history.count_earlier(session.results.values())
        for name, (attempt, since) in session.attempts.items():
            self.changes.started[name] = since
            self.changes.attempt[name] = attempt
        info = session.info
        self.run_header.attached = f"attached to {info.id} (pid {info.pid})"
        self.run_header.refresh()
        session.subscribe(self._remote_event)
        if not session.connected:
            self._run_gone()
        self.keep_footer()

    def install_signal_handlers(self) -> None:
        """SIGINT, SIGTERM and SIGHUP end this view, never the run (128 + N)."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self._signalled, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

        def remove() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        self._remove_signal_handlers = remove

    def _signalled(self, sig: signal.Signals) -> None:
        code = 128 + int(sig)
        if self.exit_watchdog:
            _exit_soon(code, None)  # a terminal that hung up may block Textual's goodbye
        self.call_later(self.leave, code)

    async def leave(self, code: int = 0) -> None:
        """Detach: the connection ends, the run goes on."""
        if self.quitting:
            return
        self.quitting = True
        await self._close_session()
        self.exit(code)

    async def close_and_exit(self) -> None:
        await self.leave(0)

    def exit_code(self) -> int:
        return 0

    async def action_detach(self) -> None:
        await self.leave(0)

    async def action_quit(self) -> None:
        if self.quitting or isinstance(self.screen, DetachOrStop):
            return
        session = self.session
        if not session.connected or session.state.is_over:
            await self.leave(0)
            return
        counts = session.counts()
        situation = (
            f"The run is {session.state.value}: {counts['running']} task(s) running, "
            f"{counts['pending']} not started yet. Leave this view and let it go on, or "
            "stop the run?"
        )
        checkpoint = session.info.checkpoint or session.checkpoint_path  # absolute first
        self.push_screen(DetachOrStop(situation, checkpoint), self._quit_chosen_remote)

    async def _quit_chosen_remote(self, choice: DetachChoice | None) -> None:
        if choice is DetachChoice.DETACH:
            await self.leave(0)
        elif choice is DetachChoice.STOP:
            try:
                self.controls.stop(None, "flow-tui attach")
            except Exception as exc:
                self.changes.error(f"could not stop the run: {exc}")
                self.flush_changes()
                return
            self.run_messages.set_note(
                "Stop asked: no new task starts, running tasks get their grace period. "
                "This view stays until the run has ended; d detaches now."
            )

    # -- what the keys offer -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.session
        if action == "load":
            return False  # loading replaces a run: the run's own dashboard does that
        if action in _STEERING and not session.connected:
            return False
        if action in ("retry", "retry_failed") and session.front_end != "dashboard":
            return False  # a headless run ends when its tasks do: nothing to retry into
        return super().check_action(action, parameters)

    def summary_hint(self) -> str | None:
        session = self.session
        if not session.connected:
            return "q quits"
        if session.front_end != "dashboard":
            return "s saves a snapshot, q quits"
        return None

    # -- what the run says -------------------------------------------------------------

    def _remote_event(self, event: Event) -> None:
        # Called on this loop by the mirror; widgets are touched from the app's queue.
        if isinstance(event, RemoteChanged):
            if event.all_rows:
                self.changes.mark_all_rows()
                for name, (attempt, since) in self.session.attempts.items():
                    self.changes.started[name] = since
                    self.changes.attempt[name] = attempt
            else:
                self.changes.mark_run_changed()
        elif isinstance(event, CommandRefusedByRun):
            if event.kind == "consent" and event.needs_consent:
                held = list(event.needs_consent)
                self.call_later(self._ask_resume_consent, held)
            else:
                self.changes.error(f"The run refused {event.command}: {event.error}")
        elif isinstance(event, RunNotice):
            self.changes.info(f"The run says: {event.message}")
            self.flush_changes()
        elif isinstance(event, RunGone):
            self.call_later(self._run_gone)

    def _run_gone(self) -> None:
        """The run ended or its process went away: say so; this view stays on the final
        state until the operator quits. Told at the run's bye and again when the
        connection ends, which may be while this view is closing: then nothing is said."""
        if self.session_closed or not self.is_running:
            return
        try:
            self._say_run_gone()
        except NoMatches:  # the view is closing: its widgets are gone
            return

    def _say_run_gone(self) -> None:
        session = self.session
        bye = session.bye
        if isinstance(self.screen, DetachOrStop):
            self.screen.dismiss(DetachChoice.STAY)  # nothing to stop any more
        if bye is not None:
            status = str(bye.get("status") or "ended")
            code = bye.get("exit_code")
            verb = _ENDED.get(status, status)
            self.run_messages.set_note(
                f"The run {verb}: exit {code}. This view shows its final state; q quits."
            )
        elif session.dropped:
            pid = session.info.pid
            self.run_messages.set_alert(
                f"The run (pid {pid}) goes on, but it dropped this view: the view fell "
                "behind its events. This view shows the last state it got; `flow-tui "
                "attach` starts again from the run's state. q quits."
            )
        else:
            pid = session.info.pid
            self.run_messages.set_alert(
                f"The run's process went away (pid {pid}) without saying how it ended; "
                "this view shows the last state it sent. q quits."
            )
        self.clear_summary()
        self.changes.mark_all_rows()
        self.flush_changes()
        self.refresh_bindings()
