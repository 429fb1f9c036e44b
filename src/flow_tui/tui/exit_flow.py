"""How the dashboard ends: the session closed (final checkpoint, lock), then the exit code.

Stop signals (SIGTERM, SIGHUP, SIGINT) go through the shared SignalGuard: running tasks
get the grace period (counted down on screen), then the session is closed and the app
exits with 128 + the signal. Tasks that ignore their cancellation do not keep it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
from collections.abc import Callable

from textual.timer import Timer

from flow_tui.core.errors import FlowError
from flow_tui.session import Session
from flow_tui.shutdown import SignalGuard
from flow_tui.tui.clock import Clock
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
        self.close_error: str | None = None  # why the session could not be closed
        self._remove_signal_handlers: Callable[[], None] | None = None
        self._shutdown_text: str | None = None
        self._shutdown_timer: Timer | None = None

    @property
    def stopping(self) -> bool:
        return self.quitting or self.guard.received is not None

    def install_signal_handlers(self) -> None:
        self._remove_signal_handlers = self.guard.install(asyncio.get_running_loop())

    async def on_unmount(self) -> None:
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
        driver = self._driver  # Textual has no public handle on it
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.stop_application_mode()  # normal screen, mouse off, termios back
                driver.close()  # waits until those escape codes are written
        self.session_closed = True
        try:
            self.session.close_now()
        except Exception as exc:  # leave anyway: the process must not hang on
            print(f"flow-tui: {exc}", file=sys.__stderr__)
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.__stdout__.flush()  # type: ignore[union-attr]
                sys.__stderr__.flush()  # type: ignore[union-attr]
            os._exit(code)
