"""A graceful stop of a Session on SIGINT, SIGTERM or SIGHUP, for both front ends.

First signal: no new task starts, running tasks get `grace` seconds to finish, then they
are cancelled. A second signal cancels at once. A task that ignores its cancellation does
not keep the process alive: `force_exit` saves what is known and leaves. What happens
after the run ended (folding the checkpoint, the exit code, restoring a terminal) is the
front end's: it asks `received` which signal stopped it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable

from flow_tui.core.events import Event, TaskEnd
from flow_tui.exit_codes import for_signal
from flow_tui.session import Session

#: After a second signal, how long cancelled tasks get to end before the process saves
#: what it knows and exits anyway (a body may swallow its cancellation).
HARD_STOP_SECONDS = 0.5
#: After the grace period, how long cancelled tasks get to end before the same.
AFTER_GRACE_SECONDS = 1.0

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _names(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


class SignalGuard:
    """Turns stop signals into a graceful stop of `session`.

    `notice` tells the operator what is happening (a line on stderr, a JSON Lines
    `notice`, a message on the dashboard). `when_idle` is called when a signal arrives
    while no run is in progress (a dashboard showing a finished or not yet started run):
    the front end then closes and exits at once.
    """

    def __init__(
        self,
        session: Session,
        notice: Callable[[str], None],
        grace: float,
        force_exit: Callable[[], None] | None = None,
        when_idle: Callable[[], None] | None = None,
        ctrl_c_signals: bool = True,
    ) -> None:
        self.session = session
        self.notice = notice
        self.grace = grace
        self.force_exit = force_exit
        self.when_idle = when_idle
        # False where Ctrl-C is a key, not a signal (the dashboard's raw terminal): the
        # notices then say how to send the signal again instead.
        self.ctrl_c_signals = ctrl_c_signals
        self.received: signal.Signals | None = None
        self.hard_stop = False
        #: loop time when the grace period ends (None: not in a grace period)
        self.deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._force_timer: asyncio.TimerHandle | None = None
        self._force_at: float | None = None
        self._subscribed = False

    @property
    def exit_code(self) -> int | None:
        """128 + the signal that stopped the run, or None when none did."""
        return None if self.received is None else for_signal(self.received)

    def install(
        self,
        loop: asyncio.AbstractEventLoop,
        signals: Iterable[signal.Signals] = STOP_SIGNALS,
    ) -> Callable[[], None]:
        """Handle `signals` on `loop`; returns a function that removes the handlers."""
        installed = []
        for sig in signals:
            try:
                loop.add_signal_handler(sig, self.on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

        def remove() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        return remove

    def request_stop(self, grace: float | None, by: str) -> None:
        """A stop asked for over the control socket (`flow-tui stop`): what SIGTERM
        does, exit code 143 included, with `grace` seconds when given; asked again, it
        cancels at once."""
        if grace is not None and self.received is None:
            self.grace = grace
        self.on_signal(signal.SIGTERM, by=by)

    def on_signal(self, sig: signal.Signals, by: str | None = None) -> None:
        session = self.session
        what = f"received {sig.name}" if by is None else f"stop asked by {by}"
        if self.received is None:
            self.received = sig
            if not session.is_running:
                self.notice(f"{what}: stopping")
                if self.when_idle is not None:
                    self.when_idle()
                return
            running = session.running
            session.pause()
            if not running:
                self.notice(f"{what}: stopping")
                session.cancel()
                self._force_exit_after(AFTER_GRACE_SECONDS)
                return
            if by is not None:
                again = "stop again"
            elif sig == signal.SIGINT and self.ctrl_c_signals:
                again = "press Ctrl-C again"
            else:
                again = f"send {sig.name} again"
            self.notice(
                f"{what}: no new tasks start; waiting up to {self.grace:g}s for "
                f"{len(running)} running task(s) ({_names(running)}); {again} to stop now"
            )
            loop = asyncio.get_running_loop()
            self.deadline = loop.time() + self.grace
            self._timer = loop.call_later(self.grace, self._grace_over)
            if not self._subscribed:
                self._subscribed = True
                session.subscribe(self._drained)
            return
        if self.hard_stop:
            return
        self.hard_stop = True
        self.deadline = None
        if self._timer is not None:
            self._timer.cancel()
        if not session.is_running:
            if self.when_idle is not None:
                self.when_idle()
            return
        self.notice(f"{what} again: cancelling running tasks now")
        session.cancel()
        self._force_exit_after(HARD_STOP_SECONDS)

    def _drained(self, event: Event) -> None:
        if (
            self.received is not None
            and isinstance(event, TaskEnd)
            and self.session.is_running
            and not self.session.running
        ):
            self.deadline = None
            session = self.session
            runner = session.runner
            if len(session.results) < len(session.steps) or (runner and runner.interrupted):
                # Nothing running: end the run, pending (and interrupted) tasks cancelled.
                # When every task has ended, the run ends by itself with its own status.
                session.cancel()

    def _grace_over(self) -> None:
        self.deadline = None
        running = self.session.running
        if running:
            self.notice(f"grace period over: cancelling {len(running)} running task(s)")
        self.session.cancel()
        self._force_exit_after(AFTER_GRACE_SECONDS)

    def _force_exit_after(self, delay: float) -> None:
        if self.force_exit is None or not self.session.is_running:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        if self._force_at is not None and self._force_at <= when:
            return
        if self._force_timer is not None:
            self._force_timer.cancel()
        self._force_at = when
        self._force_timer = loop.call_at(when, self._force)

    def _force(self) -> None:
        if not self.session.is_running or self.force_exit is None:
            return
        running = self.session.running
        self.notice(
            f"{len(running)} task(s) did not stop when cancelled ({_names(running)}): "
            "saving what is known and exiting"
        )
        self.force_exit()

    def cancel_timers(self) -> None:
        self.deadline = None
        for timer in (self._timer, self._force_timer):
            if timer is not None:
                timer.cancel()
