"""The timeline view (t) and the attempt list: Pilot tests of their state, SVG snapshots.

A ManualClock drives time: attempts start and end at the instants the test sets, so
lanes, bar lengths and the snapshots are exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from flow_tui import TaskStep
from flow_tui.core.events import TaskEnd, TaskStart
from flow_tui.core.model import TaskResult, TaskStatus
from flow_tui.session import RunState, Session, SessionOptions
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.attempts import AttemptLog, Outcome
from flow_tui.tui.clock import ManualClock
from flow_tui.tui.timeline_view import TimelineCanvas, TimelineScreen

from .helpers import SIZE, run_state, settle, until
from .workflows.cockpit import fan_in, retrying
from .workflows.gated import Bodies

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def fan_in_app() -> tuple[DashboardApp, ManualClock, Bodies]:
    bodies = Bodies()
    bodies.fail_next["flaky"] = 1
    clock = ManualClock()
    app = DashboardApp(Session.open(fan_in(bodies), SessionOptions()), clock=clock)
    return app, clock, bodies


async def fan_in_to_the_retry(pilot: Pilot[Any], clock: ManualClock, bodies: Bodies) -> None:
    """extract_a 0-2 s, extract_b 0-3.5 s, flaky #1 2-4.5 s (fails), flaky #2 from
    4.5 s (runs), load 3.5-6.5 s; the clock stops at 7.5 s."""
    app = pilot.app
    assert isinstance(app, DashboardApp)
    seen = app.view.history.total  # attempts the dashboard saw start (task_start)
    await until(pilot, lambda: seen("extract_a") and seen("extract_b"), "the extracts run")
    clock.advance(2)
    bodies.release("extract_a")
    await until(pilot, lambda: seen("flaky") == 1, "flaky runs")
    clock.advance(1.5)
    bodies.release("extract_b")
    await until(pilot, lambda: seen("load") == 1, "load runs")
    clock.advance(1)
    bodies.release("flaky#1")
    await until(pilot, lambda: bodies.count("flaky") == 2, "flaky's second attempt")
    clock.advance(2)
    bodies.release("load")
    # The dashboard hears of a plain end at its next repaint (Session.deliver): the
    # manual clock must not move before, as real time would not have.
    await until(pilot, lambda: app.view.history.of("load")[-1].end is not None, "load ends")
    clock.advance(1)
    await settle(pilot)


def lane_text(canvas: TimelineCanvas, lane: int) -> str:
    return canvas.render_line(lane + 1).text


async def timeline_on(pilot: Pilot[Any], task: str) -> TimelineScreen:
    """The timeline (t) opened with `task` highlighted in the tree."""
    app = pilot.app
    assert isinstance(app, DashboardApp)
    app.task_tree.select_task(task)
    await pilot.press("t")
    screen = app.screen
    assert isinstance(screen, TimelineScreen)
    return screen


async def test_the_timeline_lays_attempts_in_lanes_that_never_overlap() -> None:
    app, clock, bodies = fan_in_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await fan_in_to_the_retry(pilot, clock, bodies)
        screen = await timeline_on(pilot, "flaky")
        canvas = screen.canvas
        spans = {
            (b.task, b.attempt.number): (b.start, canvas.end_of(b), b.lane) for b in canvas.bars
        }
        assert spans == {
            ("extract_a", 1): (0.0, 2.0, 0),
            ("extract_b", 1): (0.0, 3.5, 1),
            ("flaky", 1): (2.0, 4.5, 0),
            ("flaky", 2): (4.5, 7.5, 0),  # running: it ends now
            ("load", 1): (3.5, 6.5, 1),
        }
        assert canvas.lanes == 2  # never more than two ran at once
        for lane in canvas.lane_bars:
            for a, b in itertools.pairwise(lane):
                assert canvas.end_of(a) <= b.start
        # Outcomes by glyph and fill, readable without colour.
        first = lane_text(canvas, 0)
        assert "✔ extract_a" in first and "✘ flaky" in first and "▚" in first
        assert "⠴ flaky" in first  # the running attempt's spinner (frame of 7.5 s)
        assert "✔ extract_b" in lane_text(canvas, 1) and "✔ load" in lane_text(canvas, 1)
        # A running bar grows.
        clock.advance(2)
        screen.tick()
        running = next(b for b in canvas.bars if b.attempt.outcome is Outcome.RUNNING)
        assert canvas.end_of(running) == 9.5
        bodies.release("flaky#2", "report")
        await app.wait_for_run()
        assert run_state(app.session) is RunState.FINISHED


async def test_the_timeline_and_the_tree_highlight_the_same_task() -> None:
    app, clock, bodies = fan_in_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await fan_in_to_the_retry(pilot, clock, bodies)
        screen = await timeline_on(pilot, "load")
        canvas = screen.canvas
        assert canvas.selected == "load"  # opened on the tree's task
        assert canvas.cursor is not None and canvas.cursor.task == "load"
        await pilot.press("left")  # the bar before, in load's lane
        assert canvas.selected == "extract_b"
        await pilot.pause()
        assert app.task_tree.highlighted_task == "extract_b"  # the tree follows
        await pilot.press("up")  # the lane above, near the same instant
        assert canvas.selected == "extract_a"
        await pilot.press("right", "right")
        assert canvas.cursor is not None
        assert (canvas.cursor.task, canvas.cursor.attempt.number) == ("flaky", 2)
        await pilot.pause()
        assert app.task_tree.highlighted_task == "flaky"
        # A click on a bar selects it: lane 1 (screen line 2 of the canvas), at 4 s.
        x = int(4.0 / canvas.scale)
        await pilot.click(TimelineCanvas, offset=(x, 2))
        assert canvas.selected == "load"
        await pilot.press("plus")  # zoom in: the selected bar stays in view
        assert not canvas.fit
        await pilot.press("z")
        assert canvas.fit
        await pilot.press("escape")
        assert not isinstance(app.screen, TimelineScreen)
        assert app.task_tree.highlighted_task == "load"
        bodies.release("flaky#2", "report")
        await app.wait_for_run()


class TimelineOnly(App[None]):
    """The timeline over an AttemptLog fed by hand: no run, any number of attempts."""

    def __init__(self, history: AttemptLog, clock: ManualClock) -> None:
        super().__init__()
        self.history = history
        self.clock = clock

    def compose(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.push_screen(TimelineScreen(self.history, self.clock.monotonic, None))


async def test_the_timeline_of_50k_attempts_opens_and_moves() -> None:
    """64 at a time, each 1 s, starting every 1/64 s: 50,000 bars in 64 lanes."""
    clock = ManualClock()
    history = AttemptLog(clock)
    steps: list[TaskStep[Any]] = [TaskStep(f"t{i:05d}", lambda ctx: None) for i in range(50_000)]
    done = TaskResult(TaskStatus.SUCCESS)
    ends: list[tuple[float, TaskStep[Any]]] = []
    for i, step in enumerate(steps):
        now = i / 64
        while ends and ends[0][0] <= now:
            end, ended = ends.pop(0)
            clock.t = end
            history(TaskEnd(ended, done))
        clock.t = now
        history(TaskStart(step))
        ends.append((now + 1.0, step))
    for end, ended in ends:
        clock.t = end
        history(TaskEnd(ended, done))
    app = TimelineOnly(history, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        canvas = screen.canvas
        assert len(canvas.bars) == 50_000
        assert canvas.lanes == 64
        await pilot.press("end")  # the last bar, scrolled into view
        assert canvas.cursor is canvas.bars[-1]
        await pilot.press("plus", "plus", "plus")
        await pilot.pause()
        text = "\n".join(canvas.render_line(y).text for y in range(canvas.size.height))
        assert "t49999" in text or "✔" in text
        await pilot.press("home")
        assert canvas.cursor is canvas.bars[0]


# -- snapshots -------------------------------------------------------------------------


def test_snapshot_of_the_timeline_in_80_by_24(snap_compare: SnapCompare) -> None:
    app, clock, bodies = fan_in_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await fan_in_to_the_retry(pilot, clock, bodies)
        screen = await timeline_on(pilot, "flaky")
        assert screen.canvas.lanes == 2 and len(screen.canvas.bars) == 5
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_of_the_attempt_list_with_a_manual_retry(snap_compare: SnapCompare) -> None:
    bodies = Bodies()
    bodies.fail_next["flaky"] = 2
    for call in ("flaky#1", "flaky#2", "flaky#3"):
        bodies.gate(call)
    clock = ManualClock()
    app = DashboardApp(
        Session.open(retrying(bodies, delay=0.0, attempts=1, talk=False), SessionOptions()),
        clock=clock,
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        session = app.session
        await until(pilot, lambda: app.view.history.total("flaky") == 1, "attempt 1")
        clock.advance(1.5)
        bodies.release("flaky#1")
        await until(pilot, lambda: bodies.count("flaky") == 2, "attempt 2")
        clock.advance(2.25)
        bodies.release("flaky#2")
        await app.wait_for_run()
        clock.advance(60)
        app.task_tree.select_task("flaky")
        await settle(pilot)
        await pilot.press("r")
        await until(pilot, lambda: app.view.history.total("flaky") == 3, "attempt 3")
        clock.advance(0.5)
        bodies.release("flaky#3")
        await app.wait_for_run()
        await settle(pilot)
        assert session.results["flaky"].status is TaskStatus.SUCCESS
        outcomes = [a.outcome for a in app.view.history.of("flaky")]
        assert outcomes == [Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS]

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_attempts_added_while_the_timeline_is_open_match_assign_lanes() -> None:
    """The bars laid out one look at a time are those of one layout of them all."""
    app, clock, bodies = fan_in_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.view.history.total("extract_a"), "the extracts run")
        await pilot.press("t")  # opened early: later attempts come by `extend`
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        await fan_in_to_the_retry(pilot, clock, bodies)
        screen.tick()
        added = {(b.task, b.attempt.number): b.lane for b in screen.canvas.bars}
        builds = screen.canvas.builds
        screen.canvas.rebuild()
        again = {(b.task, b.attempt.number): b.lane for b in screen.canvas.bars}
        assert builds == 1 and added == again
        assert len(added) == 5
        bodies.release("flaky#2", "report")
        await app.wait_for_run()
