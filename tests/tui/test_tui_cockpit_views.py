"""The operator's cockpit (#14): the run's clock, retries and attempts, the log view.

Time is a ManualClock the test moves: the dashboard reads no wall clock, so what it
shows is exact. Bodies wait for gates the test opens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input

from flow_tui import TaskStep
from flow_tui.core.events import TaskEnd
from flow_tui.core.model import TaskMetrics, TaskResult, TaskStatus
from flow_tui.session import RunState, Session, SessionOptions
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.attempts import AttemptLog, Outcome
from flow_tui.tui.clock import ManualClock, estimate_left
from flow_tui.tui.log_view import LogScreen
from flow_tui.tui.status import RowStatus
from flow_tui.tui.summary import run_time

from .helpers import SIZE, messages_text, row_text, run_state, settle, until
from .workflows.cockpit import chatty, retrying
from .workflows.gated import Bodies, pipeline


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def manual_app(
    workflow: object, options: SessionOptions | None = None
) -> tuple[DashboardApp, ManualClock]:
    clock = ManualClock()
    session = Session.open(workflow, options or SessionOptions())  # type: ignore[arg-type]
    return DashboardApp(session, clock=clock), clock


def detail_text(app: DashboardApp) -> str:
    pane = app.detail_pane
    return "\n".join(str(w.render()) for w in pane.children if w.display)


# -- the run's clock ---------------------------------------------------------------------


async def test_the_clock_counts_running_time_apart_from_paused_time() -> None:
    bodies = Bodies()
    app, clock = manual_app(pipeline(bodies), SessionOptions(paused=True))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: app.clock.timer.started, "the run started, paused")
        assert run_state(session) is RunState.PAUSED
        clock.advance(30)  # the wait of --paused: paused time, not run time
        await settle(pilot)
        assert app.view.elapsed() == 0
        assert clock.paused(session) == 30
        assert "⏱ 0:00 ‖ 0:30" in app.run_header.time

        await pilot.press("p")  # resume
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        clock.advance(5)
        await pilot.press("p")  # pause: merge drains, which is running time
        clock.advance(2)
        bodies.release("merge")
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        await settle(pilot)  # the dashboard sees the pause has drained
        clock.advance(10)
        await settle(pilot)
        assert app.view.elapsed() == 7
        assert clock.paused(session) == 40
        assert "⏱ 0:07 ‖ 0:40" in app.run_header.time


async def test_the_clock_survives_a_retry_and_an_idle_wait_is_not_counted() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app, clock = manual_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        clock.advance(12)
        bodies.release("merge")
        await app.wait_for_run()
        assert run_state(session) is RunState.FAILED
        await settle(pilot)
        assert app.view.elapsed() == 12
        assert "12 s" in messages_text(app) or "0:12" in messages_text(app)
        clock.advance(100)  # the run is over: nobody's time
        bodies.gate("merge").clear()  # the retried merge waits again
        app.task_tree.select_task("merge")
        await pilot.press("r")
        await until(pilot, lambda: session.running == ["merge"], "merge running again")
        assert "Retrying merge" in messages_text(app)
        clock.advance(3)
        await settle(pilot)
        assert app.view.elapsed() == 15  # not reset to 0 by the retry
        bodies.release("merge")
        await app.wait_for_run()
        await settle(pilot)
        assert run_state(session) is RunState.FINISHED
        assert app.view.elapsed() == 15
        text = messages_text(app)
        assert "Run finished" in text and "0:15" in text
        assert "Retrying" not in text  # the note ended with its run


class _RunOfItsOwnClock:
    """What a clock reads of a run whose start it did not see (an attached dashboard's
    mirror): the run's own account of its time."""

    def __init__(self, elapsed: float, paused: float) -> None:
        self._elapsed = elapsed
        self._paused = paused

    def elapsed(self) -> float:
        return self._elapsed

    def paused_seconds(self) -> float:
        return self._paused


def test_a_clock_that_did_not_see_the_run_start_leaves_out_what_the_run_says_was_paused() -> None:
    clock = ManualClock()
    run = _RunOfItsOwnClock(elapsed=100, paused=30)
    assert clock.elapsed(run) == 70
    assert clock.paused(run) == 30


async def _noop(ctx: object) -> None:
    return None


def test_tasks_that_ended_before_an_attach_count_for_the_eta() -> None:
    """An attached dashboard's ETA divides by the parallelism over the whole run: the
    tasks that ran and ended before it attached count, with their durations; a skipped
    task and one that never started do not."""
    began = datetime(2025, 1, 2, 3, 0, 0, tzinfo=UTC)

    def ran(status: TaskStatus, ms: float) -> TaskResult:
        return TaskResult(status, metrics=TaskMetrics(began, began, ms, 1))

    log = AttemptLog(ManualClock())
    log.count_earlier(
        [
            ran(TaskStatus.SUCCESS, 2000),
            ran(TaskStatus.FAILURE, 1000),
            ran(TaskStatus.SKIPPED, 0),
            TaskResult(TaskStatus.CANCELLED),  # cancelled before it ran: no metrics
        ]
    )
    assert log.finished == 2
    assert log.busy == 3.0

    # A task that was running when the view attached: its end comes, its start was not
    # heard; it counts the same way.
    step = TaskStep("running-at-attach", _noop)
    log(TaskEnd(step, ran(TaskStatus.SUCCESS, 500)))
    log(TaskEnd(TaskStep("never-ran", _noop), TaskResult(TaskStatus.CANCELLED)))
    assert log.finished == 3
    assert log.busy == 3.5


def test_the_eta_waits_for_enough_finished_tasks_then_divides_by_the_parallelism() -> None:
    # 2 of 100 finished: too few to say.
    assert (
        estimate_left(
            finished=2, busy=4.0, elapsed=2.0, remaining=98, running_ages=[], concurrency=4
        )
        is None
    )
    # 10 finished in 10 s of running, 2 s each: 20 task-seconds over 10 s = 2 at a time.
    # 20 left, 2 of them running for 1 s: (18 * 2 + 2 * 1) / 2 = 19 s.
    left = estimate_left(
        finished=10, busy=20.0, elapsed=10.0, remaining=20, running_ages=[1.0, 1.0], concurrency=4
    )
    assert left == pytest.approx((18 * 2 + 2 * 1) / ((20 + 2) / 10))
    # Never more parallel than the concurrency allows, nor than the tasks left.
    one_left = estimate_left(
        finished=10, busy=100.0, elapsed=1.0, remaining=1, running_ages=[], concurrency=64
    )
    assert one_left == 10.0


async def test_the_header_shows_an_eta_once_enough_tasks_finished() -> None:
    bodies = Bodies()
    gates = ("fetch_a", "fetch_b", "merge", "publish", "load[1]")
    app, clock = manual_app(pipeline(bodies, gate=gates))
    async with app.run_test(size=SIZE) as pilot:
        seen = app.view.history.total  # attempts the dashboard saw start (task_start)
        await until(pilot, lambda: seen("fetch_a") and seen("fetch_b"), "fetches running")
        clock.advance(4)
        bodies.release("fetch_a", "fetch_b")
        await until(pilot, lambda: seen("merge"), "merge running")
        await settle(pilot)
        assert "ETA" not in app.run_header.time  # 2 of 6 finished: too few
        clock.advance(2)
        bodies.release("merge")
        await until(pilot, lambda: seen("publish") and seen("load[1]"), "publish, load run")
        clock.advance(1)
        await settle(pilot)
        # 3 attempts took 4 + 4 + 2 = 10 s in 7 s of running time: ~1.43 at a time (2
        # running now: 12 task-seconds / 7 s = 1.71). Left: report (10/3 s) and what the
        # two running ones have left of the mean (10/3 - 1 each): 8 s / 1.71 = 4.7 s.
        assert "ETA ~0:05" in run_time(app.view)
        bodies.release("publish", "load[1]")
        await app.wait_for_run()


# -- retries and attempts ----------------------------------------------------------------


async def test_a_retry_backoff_shows_a_countdown_not_a_spinner() -> None:
    bodies = Bodies()
    bodies.fail_next["flaky"] = 1
    app, clock = manual_app(retrying(bodies, delay=0.2))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        gate = bodies.gate("flaky")
        gate.set()  # the first call fails at once
        history = app.view.history
        await until(pilot, lambda: "flaky" in history.waiting, "flaky waits for its retry")
        gate.clear()  # the second call waits
        app.task_tree.select_task("flaky")
        await settle(pilot)
        assert app.view.status("flaky") is RowStatus.RETRYING
        assert "⟳ flaky" in row_text(app, "flaky")
        assert "retry in 0.2s" in row_text(app, "flaky")
        assert "retrying in 0.2 s" in detail_text(app)
        clock.advance(0.15)
        await settle(pilot)
        assert "retry in 0.1s" in row_text(app, "flaky")  # counts down
        assert "retrying in 0.1 s" in detail_text(app)
        clock.advance(0.1)  # the backoff is over: attempt 2 runs
        await until(pilot, lambda: bodies.count("flaky") == 2, "the second call")
        await settle(pilot)
        assert app.view.status("flaky") is RowStatus.RUNNING
        assert "retry" not in row_text(app, "flaky")
        gate.set()
        await app.wait_for_run()
        await settle(pilot)
        assert session.results["flaky"].status is TaskStatus.SUCCESS
        attempts = history.of("flaky")
        assert [a.outcome for a in attempts] == [Outcome.FAILURE, Outcome.SUCCESS]
        # The first attempt's error stays in the list once a later one succeeded.
        text = detail_text(app)
        assert "ConnectionError: warehouse refused call 1" in text
        assert "#2" in text and "success" in text


async def test_attempts_of_a_task_include_manual_retries_and_logs_by_attempt() -> None:
    bodies = Bodies()
    bodies.fail_next["flaky"] = 2  # both attempts of the first run fail
    app, _ = manual_app(retrying(bodies, delay=0.0, attempts=1))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await app.wait_for_run()
        assert run_state(session) is RunState.FAILED
        app.task_tree.select_task("flaky")
        await settle(pilot)
        assert app.view.attempts("flaky") == 2
        await pilot.press("r")  # a manual retry: attempt 3, not attempt 1 again
        await until(pilot, lambda: bodies.count("flaky") == 3, "the manual retry")
        await app.wait_for_run()
        await settle(pilot)
        assert session.results["flaky"].status is TaskStatus.SUCCESS
        attempts = app.view.history.of("flaky")
        assert [(a.number, a.outcome, a.manual) for a in attempts] == [
            (1, Outcome.FAILURE, False),
            (2, Outcome.FAILURE, False),
            (3, Outcome.SUCCESS, True),
        ]
        assert [a.error for a in attempts] == [
            "ConnectionError: warehouse refused call 1",
            "ConnectionError: warehouse refused call 2",
            None,
        ]
        assert app.view.attempts("flaky") == 3
        assert row_text(app, "flaky").endswith("x3")
        text = detail_text(app)
        assert "Attempts    3" in text
        assert "(manual retry)" in text
        assert "refused call 1" in text and "refused call 2" in text
        # The log, cut by attempt.
        log = text[text.index("── attempt 1") :]
        assert log.index("flaky: call 1 failed") < log.index("── attempt 2")
        assert log.index("── attempt 2") < log.index("flaky: call 2 begins")
        assert log.index("── attempt 3 (manual retry)") < log.index("flaky: call 3 done")
        assert "Retrying" not in messages_text(app)


async def test_a_kept_task_says_where_it_was_kept_from(workdir: Path) -> None:
    bodies = Bodies()
    first = Session.open(pipeline(bodies, gate=()), SessionOptions())
    await first.run()
    saved = first.save(workdir / "run.toml")
    await first.close()
    app, _ = manual_app(pipeline(Bodies(), gate=()), SessionOptions(resume=saved))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.task_tree.select_task("fetch_a")
        await settle(pilot)
        assert "kept from run.toml (ran at 2025-01-02 03:00:00 UTC)" in detail_text(app)


# -- the log view and the wide detail pane -------------------------------------------------


async def test_the_log_view_follows_new_lines_scrolls_and_searches() -> None:
    bodies = Bodies()
    app, _ = manual_app(chatty(bodies, 100))
    async with app.run_test(size=(80, 24)) as pilot:
        session = app.session
        await until(pilot, lambda: len(session.task_logs("talk")) == 100, "100 lines")
        app.task_tree.select_task("talk")
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        log = screen.log_widget
        assert log.lines[0].startswith("── attempt 1")
        assert log.line_count == 101
        await pilot.pause()
        assert log.is_vertical_scroll_end  # it follows: the newest line is in view
        bodies.release("talk")
        await until(pilot, lambda: log.line_count >= 106, "the late lines")
        await pilot.pause()
        assert log.lines[-1].endswith("late line 4 after the gate")
        assert log.is_vertical_scroll_end  # still following

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"line 01", "enter")
        # "line 010".."line 019": the first at or below the top of the view.
        assert len(screen.matches) == 10
        first = screen.match_line
        assert first is not None and "line 01" in log.lines[first]
        assert not log.is_vertical_scroll_end  # scrolled back to the match
        await pilot.press("n")
        assert screen.match_line is not None and screen.match_line > first
        await pilot.press("N")
        assert screen.match_line == first
        await pilot.press("end")
        assert log.is_vertical_scroll_end
        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)
        await app.wait_for_run()


async def test_w_widens_the_detail_pane_and_tracebacks_do_not_wrap() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app, _ = manual_app(pipeline(bodies, gate=()))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.wait_for_run()
        app.task_tree.select_task("merge")
        await settle(pilot)
        tree_column = app.query_one("#tree-column")
        await pilot.press("w")
        await pilot.pause()
        assert not tree_column.display
        assert app.detail_pane.size.width >= 76  # the width, less its border
        traceback = app.detail_pane.query_one("#detail-traceback")
        # One line per traceback line: none is wrapped, whatever the width.
        assert traceback.size.height == 4
        await pilot.press("w")
        await pilot.pause()
        assert tree_column.display
