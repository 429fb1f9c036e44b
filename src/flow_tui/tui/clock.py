"""Where the dashboard reads the time: the real clock, or a frozen one for screenshots.

The run's clock (`RunTimer`) counts the time the run spent running, and apart from it
the time it spent paused: a session listener that notes when a run starts, pauses,
resumes and ends. The wait of `--paused` before the first resume is paused time, a
retry (`r`, `R`) goes on counting from where the run ended, and a loaded snapshot starts
a clock of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from flow_tui.core.events import monotonic_at


class TimedRun(Protocol):
    def elapsed(self) -> float: ...

    def paused_seconds(self) -> float: ...


class _Phase(Enum):
    IDLE = 0  # no run live
    RUNNING = 1  # tasks run or can start (a pause that still drains counts here)
    PAUSED = 2  # paused with nothing running


class RunTimer:
    """A session listener: seconds spent running and paused, across runs of a session.

    Exact at the events (workflow_start / _paused / _resumed / _end); the moment a
    draining pause holds nothing running any more is seen at the next `observe` (the
    dashboard's repaint, ten times a second).
    """

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self.started = False  # a run was seen to start
        self._phase = _Phase.IDLE
        self._since = 0.0
        self._running = 0.0
        self._paused = 0.0
        self._session: Any = None

    def __call__(self, event: Any) -> None:
        kind = event.name
        if kind == "workflow_start":
            self.started = True
            self._enter(_Phase.RUNNING)
            self.observe()  # a run started paused (--paused) is paused from its start
        elif kind in ("workflow_paused", "workflow_resumed"):
            self._enter(_Phase.RUNNING)  # a pause drains first; observe() sees it end
            self.observe()
        elif kind == "workflow_end":
            self._enter(_Phase.IDLE)
        elif kind == "run_prepared" and getattr(event, "plan", None) is not None:
            # A snapshot was loaded: its run has a clock of its own.
            self._enter(_Phase.IDLE)
            self.started = False
            self._running = self._paused = 0.0

    def watch(self, session: Any) -> None:
        """Read `session.state` at `observe()` to see a pause that drained."""
        self._session = session

    def observe(self) -> None:
        session = self._session
        if session is None or self._phase is _Phase.IDLE:
            return
        paused = session.state.value == "paused"
        self._enter(_Phase.PAUSED if paused else _Phase.RUNNING)

    def _enter(self, phase: _Phase) -> None:
        now = self._monotonic()
        if self._phase is _Phase.RUNNING:
            self._running += now - self._since
        elif self._phase is _Phase.PAUSED:
            self._paused += now - self._since
        self._phase = phase
        self._since = now

    def _current(self, phase: _Phase) -> float:
        return self._monotonic() - self._since if self._phase is phase else 0.0

    def running(self) -> float:
        return self._running + self._current(_Phase.RUNNING)

    def paused(self) -> float:
        return self._paused + self._current(_Phase.PAUSED)

    @property
    def is_paused(self) -> bool:
        return self._phase is _Phase.PAUSED


class Clock:
    """Real time: elapsed run time, spinner frames, timestamps in the local zone."""

    frozen = False

    def __init__(self) -> None:
        self.timer = RunTimer(self.monotonic)

    def monotonic(self) -> float:
        return time.monotonic()

    def monotonic_at(self, ts: float | None) -> float:
        """The `monotonic()` reading at `ts`, a `time.time()` reading (now when None): an
        event heard after it happened (Session.deliver) still says when. A test's clock
        answers its own now."""
        if ts is None or self.frozen:
            return self.monotonic()
        return monotonic_at(ts)

    def elapsed(self, run: TimedRun) -> float:
        """Seconds the run spent running; a run whose start this clock did not see (an
        attached dashboard's: its timer is not told) says it itself."""
        timer = self.timer
        if timer.started:
            timer.observe()
            return timer.running()
        return max(run.elapsed() - run.paused_seconds(), 0.0)

    def paused(self, run: TimedRun) -> float:
        """Seconds the run spent paused."""
        timer = self.timer
        if timer.started:
            timer.observe()
            return timer.paused()
        return run.paused_seconds()

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def local(self, when: datetime) -> datetime:
        return when.astimezone()


class FrozenClock(Clock):
    """Time that never moves and a fixed zone (UTC): SVG snapshots stay byte-identical."""

    frozen = True

    def __init__(
        self,
        elapsed: float = 42.0,
        now: datetime = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        paused: float = 0.0,
    ) -> None:
        super().__init__()
        self._elapsed = elapsed
        self._now = now
        self._paused_for = paused

    def monotonic(self) -> float:
        return 0.0

    def elapsed(self, run: TimedRun) -> float:
        return self._elapsed

    def paused(self, run: TimedRun) -> float:
        return self._paused_for

    def now(self) -> datetime:
        return self._now

    def local(self, when: datetime) -> datetime:
        return when.astimezone(UTC)


class ManualClock(FrozenClock):
    """A frozen clock a test moves by hand (`advance`): monotonic time, the wall time
    and the run's timer all follow it, and nothing else moves it."""

    def __init__(self, now: datetime = datetime(2025, 1, 2, 3, 0, 0, tzinfo=UTC)) -> None:
        self.t = 0.0
        super().__init__(now=now)

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def monotonic(self) -> float:
        return self.t

    def elapsed(self, run: TimedRun) -> float:
        return Clock.elapsed(self, run)

    def paused(self, run: TimedRun) -> float:
        return Clock.paused(self, run)

    def now(self) -> datetime:
        return self._now + timedelta(seconds=self.t)


# -- how long is left ------------------------------------------------------------------

MIN_FINISHED = 3  # finished tasks before an ETA is shown ...
MIN_FRACTION = 0.05  # ... and at least this share of the tasks that run


def estimate_left(
    *,
    finished: int,
    busy: float,
    elapsed: float,
    remaining: int,
    running_ages: list[float],
    concurrency: int | None,
) -> float | None:
    """Seconds left, or None until enough tasks finished to say.

    mean = `busy` / `finished` (the mean duration of the attempts that finished);
    the work left = mean for each task not started, plus what a running task has left of
    the mean (at least a tenth of it); the parallelism = the task-seconds done per second
    of running time so far (busy + running ages over `elapsed`), between 1 and
    `concurrency` and at most the tasks left; ETA = work left / parallelism.
    """
    running = len(running_ages)
    total = finished + remaining
    if finished < max(MIN_FINISHED, math.ceil(MIN_FRACTION * total)) or remaining <= 0:
        return None
    mean = busy / finished
    waiting = remaining - running
    work = waiting * mean + sum(max(mean - age, 0.1 * mean) for age in running_ages)
    done = busy + sum(running_ages)
    parallel = done / elapsed if elapsed > 0 else 1.0
    if concurrency:
        parallel = min(parallel, concurrency)
    parallel = max(1.0, min(parallel, float(remaining)))
    return work / parallel
