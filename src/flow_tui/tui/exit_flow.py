"""How the dashboard ends: the session closed (final checkpoint, lock), then the exit code.

The dashboard serves its run's control socket while it is up (`serve_controls`), and on
every way out tells the attached viewers how the run ended (`bye`) before the socket
goes: on quit and after a signal through `_close_session`, on a forced exit at once.

Stop signals (SIGTERM, SIGHUP, SIGINT) go through the shared SignalGuard: running tasks
get the grace period (counted down on screen), then the session is closed and the app
exits with 128 + the signal. Tasks that ignore their cancellation do not keep it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from functools import partial

from textual.timer import Timer

from flow_tui.control import ControlServer, serve_controls
from flow_tui.core.errors import FlowError
from flow_tui.exit_codes import EXIT_SIGHUP, EXIT_USAGE
from flow_tui.session import Session
from flow_tui.shutdown import AFTER_GRACE_SECONDS, SignalGuard
from flow_tui.tui.clock import Clock
from flow_tui.tui.hangup import HangupWatch
from flow_tui.tui.run_control import RunControl
from flow_tui.tui.summary import sentence


class ExitFlow(RunControl):
    """Closes the session and exits: on quit (`close_and_exit`) or on a stop signal."""

    def __init__(
        self,
        session: Session,
        clock: Clock | None = None,
        autostart: bool = True,
        grace: float = 10.0,
    ) -> None:
        super().__init__(session, clock, autostart)
        self.guard = SignalGuard(
            session,
            self._signal_notice,
            grace,
            force_exit=self._force_exit,
            when_idle=self._signalled_when_idle,
            ctrl_c_signals=False,  # the terminal is raw: ctrl+c is the quit key here
        )
        self.quitting = False
        # The real process (run_dashboard) leaves by itself if Textual cannot finish
        # after a stop signal; never inside tests, where exiting would end the test run.
        self.exit_watchdog = False
        self._hangup_watch: HangupWatch | None = None
        self.close_error: str | None = None  # why the session could not be closed
        self._remove_signal_handlers: Callable[[], None] | None = None
        self._shutdown_text: str | None = None
        self._shutdown_timer: Timer | None = None
        self.control_server: ControlServer | None = None

    # -- the control socket ------------------------------------------------------------

    async def serve_controls(self) -> None:
        """Serve the run's control socket (unless --no-control): `flow-tui pause/stop/
        attach` reach this dashboard's run through the same Controls as its keys."""
        self.control_server = await serve_controls(
            self.session, front_end="dashboard", notice=self._control_notice, controls=self.controls
        )

    def _control_notice(self, text: str) -> None:
        self.changes.info(sentence(text))

    def request_stop(self, grace: float | None, by: str) -> None:
        """`flow-tui stop`: what SIGTERM does (grace, checkpoint, exit 143)."""
        self.guard.request_stop(grace, by)

    async def _close_controls(self) -> None:
        server = self.control_server
        if server is None:
            return
        self.control_server = None
        code = EXIT_USAGE if self.close_error else self.exit_code()
        await server.close({"status": self.session.state.value, "exit_code": code})

    def close_controls_now(self, code: int | None = None) -> None:
        """Remove the socket at once (a forced exit, a crash): viewers see it close, and
        with `code` hear how the run ended where their connection has room for it."""
        server = self.control_server
        if server is not None:
            self.control_server = None
            bye = None if code is None else {"status": "cancelled", "exit_code": code}
            server.close_now(bye)

    @property
    def stopping(self) -> bool:
        return self.quitting or self.guard.received is not None

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        remove = self.guard.install(loop, [signal.SIGINT, signal.SIGTERM])
        # SIGHUP through a Python-level handler, not the loop's: it runs at once in the
        # main thread, before the SIGCONT that comes with a hangup makes Textual write
        # to the dead terminal (which kills its writer thread and then blocks the loop).
        previous = signal.signal(signal.SIGHUP, partial(self._on_hangup, loop))

        def remove_all() -> None:
            remove()
            signal.signal(signal.SIGHUP, previous)

        self._remove_signal_handlers = remove_all
        if self.exit_watchdog:  # the real process, in a terminal that may go away
            watch = HangupWatch(
                loop,
                [s for s in (sys.__stdout__, sys.__stderr__) if s is not None],
                lambda: self._driver,
                self._terminal_gone,
                lambda: self.guard.grace + AFTER_GRACE_SECONDS + EXIT_WATCHDOG_SECONDS,
                self._leave_now,
            )
            watch.start()
            self._hangup_watch = watch

    def _terminal_gone(self) -> None:
        if self.guard.received is None:
            self.guard.on_signal(signal.SIGHUP)

    def _leave_now(self) -> None:
        """The loop is stuck after a hangup: save what is known and leave (129)."""
        try:
            self.session.close_now()
        except Exception as exc:
            print(f"flow-tui: {exc}", file=sys.__stderr__)
        code = self.exit_code() if self.guard.received is not None else EXIT_SIGHUP
        self.close_controls_now(code)
        _leave(code)

    def _on_hangup(self, loop: asyncio.AbstractEventLoop, signum: int, frame: object) -> None:
        """The terminal went away (a closed SSH or tmux window): from now on Textual's
        writes go to /dev/null, so they can neither fail nor block the loop while the
        run stops and the checkpoint is saved. A SIGHUP sent by `kill` to a live terminal
        leaves the terminal alone. Then the guard stops the run, on the loop."""
        if self._hangup_watch is not None:
            self._hangup_watch.check()  # silences a terminal that went away, at once
        loop.call_soon_threadsafe(self.guard.on_signal, signal.SIGHUP)

    async def on_unmount(self) -> None:
        if self._hangup_watch is not None:
            self._hangup_watch.stop()
        self.guard.cancel_timers()
        if self._remove_signal_handlers is not None:
            self._remove_signal_handlers()
            self._remove_signal_handlers = None
        await self._close_session()

    # -- closing -----------------------------------------------------------------------

    async def close_and_exit(self) -> None:
        """Cancel a run in progress, close the session, exit with `exit_code()`."""
        if self.quitting:
            return
        self.quitting = True
        session = self.session
        if session.is_running:
            session.cancel()
            await session.wait_run_over()
        await self.wait_for_run()
        self.guard.cancel_timers()
        await self._close_session()
        if self.guard.received is not None and self.exit_watchdog:
            # After SIGHUP the terminal may be gone, and Textual can block for ever
            # writing its goodbye to it; everything is saved by now, so leave anyway.
            code = EXIT_USAGE if self.close_error else self.exit_code()
            _exit_soon(code, self.close_error)
        self.exit(self.exit_code())

    async def _close_session(self) -> None:
        if self.session_closed:
            return
        self.session_closed = True
        try:
            await self.session.close()
        except FlowError as exc:
            # Too late to show in the app: the CLI prints the return value's reason.
            self.close_error = str(exc)
        finally:
            await self._close_controls()  # viewers hear how the run ended

    def exit_code(self) -> int:
        """128 + the signal that stopped the dashboard, else the run's own code, as
        headless gives it: 0 when every task succeeded, 1 otherwise (failed, skipped,
        cancelled, or work left undone by quitting)."""
        signalled = self.guard.exit_code
        return signalled if signalled is not None else self.session.exit_code()

    # -- signals -----------------------------------------------------------------------

    def after_run(self) -> None:
        if self.guard.received is not None:
            # Not from inside the run worker: the runner's cancel may still be pending
            # on its task, and closing the session must not be cut short by it.
            self.call_later(self._exit_after_signal)

    def _signal_notice(self, text: str) -> None:
        # Called from the guard (a signal handler on this loop): draw on the next message.
        if self.control_server is not None:
            self.control_server.notify(text)  # the run's viewers read it too
        self._shutdown_text = text
        self.call_later(self._show_shutdown)

    def _show_shutdown(self) -> None:
        """The message bar's alert: what the signal does, with the grace left."""
        text = self._shutdown_text
        if text is None or self.session_closed:
            return
        line = sentence(text)
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
        if self.quitting:
            return  # a quit in progress ends with the signal's code
        await self.close_and_exit()

    def _force_exit(self) -> None:
        """Tasks ignored their cancellation: restore the terminal, save what is known
        synchronously, and leave without them."""
        code = self.exit_code()
        # Save first: restoring a terminal that hung up can block (see _exit_soon).
        self.session_closed = True
        try:
            self.session.close_now()
        except Exception as exc:  # leave anyway: the process must not hang on
            print(f"flow-tui: {exc}", file=sys.__stderr__)
        self.close_controls_now(code)
        if self.exit_watchdog:
            _exit_soon(code, None)
        driver = self._driver  # Textual has no public handle on it
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.stop_application_mode()  # normal screen, mouse off, termios back
                driver.close()  # waits until those escape codes are written
        _leave(code)


#: After a stop signal, how long Textual gets to restore the terminal before the process
#: leaves without it (the session is closed by then: nothing is lost).
EXIT_WATCHDOG_SECONDS = 3.0


def _leave(code: int) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.__stdout__.flush()  # type: ignore[union-attr]
        sys.__stderr__.flush()  # type: ignore[union-attr]
    os._exit(code)


def _exit_soon(code: int, error: str | None) -> None:
    """Exit with `code` in EXIT_WATCHDOG_SECONDS unless the process is gone by then: a
    terminal that hung up (SIGHUP, a closed SSH or tmux window) can block Textual's last
    writes for ever, and a signalled process must end."""

    def leave() -> None:
        if error:
            with contextlib.suppress(Exception):
                print(f"flow-tui: {error}", file=sys.__stderr__)
        _leave(code)

    timer = threading.Timer(EXIT_WATCHDOG_SECONDS, leave)
    timer.daemon = True
    timer.start()
