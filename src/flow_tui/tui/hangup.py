"""A dashboard whose terminal went away (a closed SSH or tmux window) still stops the way
a SIGHUP promises: grace, cancel, checkpoint folded, lock released, exit 129.

Why a thread: when a terminal hangs up, Textual's next write fails, its writer thread
dies, and after a few more writes the event loop blocks for ever on that thread's full
queue, so no handler on the loop would ever run. This thread notices the hangup, points
the terminal's file descriptors at /dev/null (later writes succeed), keeps the dead
writer's queue empty so the loop goes on, and tells the app. If the process is still
there long after, it saves what is known and leaves.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from flow_tui.streams import hung_up, silence

POLL_SECONDS = 0.25  # how often the terminal is looked at
DRAIN_SECONDS = 0.05  # how often a dead writer's queue is emptied after a hangup


class HangupWatch(threading.Thread):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        streams: list[IO[str]],
        driver: Callable[[], Any],
        on_hangup: Callable[[], None],
        give_up_after: Callable[[], float],
        leave_now: Callable[[], None],
    ) -> None:
        super().__init__(daemon=True, name="flow-tui-hangup")
        self.loop = loop
        self.streams = streams
        self.driver = driver  # the app's Textual driver, when it has one
        self.on_hangup = on_hangup  # called on the loop
        self.give_up_after = give_up_after  # seconds after the hangup
        self.leave_now = leave_now  # save synchronously and exit (from this thread)
        self._stop = threading.Event()
        self._hung_up = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Whether the terminal went away; if so, its descriptors now point at /dev/null.
        Called by this thread, and at once by a SIGHUP handler (which must not wait for
        the next poll: Textual writes again as soon as the SIGCONT of a hangup arrives)."""
        if not self._hung_up.is_set() and any(hung_up(s) for s in self.streams):
            for stream in self.streams:
                silence(stream)
            self._hung_up.set()
        return self._hung_up.is_set()

    def run(self) -> None:
        while not self.check():
            if self._stop.wait(POLL_SECONDS):
                return
        self.loop.call_soon_threadsafe(self.on_hangup)
        deadline = time.monotonic() + self.give_up_after()
        while not self._stop.wait(DRAIN_SECONDS):
            self._drain_dead_writer()
            if time.monotonic() > deadline:
                self.leave_now()
                return

    def _drain_dead_writer(self) -> None:
        writer = getattr(self.driver(), "_writer_thread", None)  # Textual's, no public name
        if writer is None or writer.is_alive():
            return
        pending = getattr(writer, "_queue", None)
        if not isinstance(pending, queue.Queue):
            return
        try:
            while True:
                pending.get_nowait()
        except queue.Empty:
            pass
