"""Stop signals reach the dashboard: grace shown, checkpoint folded, lock released, 128+N.

The signals are real (sent to this process); the app's loop handles them while it runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from flow_tui import Snapshot, TaskResult, TaskStatus, TaskStep, Workflow
from flow_tui.session import RunState, SessionOptions
from flow_tui.tui.dialogs import ConfirmQuit

from .helpers import SIZE, make_app, messages_text, settle, until
from .workflows.gated import Bodies, pipeline


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def leftovers(checkpoint: Path) -> list[str]:
    """The journal and lock files beside `checkpoint` (none after a clean close)."""
    return sorted(p.name for p in checkpoint.parent.glob(checkpoint.name + ".*"))


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
)
async def test_a_signal_mid_run_gives_running_tasks_the_grace_then_exits(
    workdir: Path, sig: signal.Signals, code: int
) -> None:
    bodies = Bodies()
    checkpoint = workdir / "ck.toml"
    app = make_app(pipeline(bodies), SessionOptions(checkpoint=checkpoint), grace=60)
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        os.kill(os.getpid(), sig)
        await until(pilot, lambda: "Running tasks are cancelled in" in messages_text(app), "grace")
        shown = messages_text(app)
        assert f"Received {sig.name}: no new tasks start" in shown
        assert "(merge)" in shown and f"send {sig.name} again to stop now" in shown
        seconds = int(shown.split("cancelled in ")[1].split("s")[0])
        assert 0 < seconds <= 60
        assert session.state is RunState.PAUSING  # dispatching stopped, merge still runs

        bodies.release("merge")  # it finishes within the grace
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == code
    assert app.session_closed
    assert leftovers(checkpoint) == []  # journal folded, lock released
    saved = Snapshot.load(checkpoint)
    assert saved.results["merge"].status is TaskStatus.SUCCESS
    assert "merge" not in saved.interrupted
    assert bodies.count("publish") == 0  # nothing started after the signal


async def test_a_second_signal_cancels_at_once_and_still_saves(workdir: Path) -> None:
    bodies = Bodies()
    checkpoint = workdir / "ck.json"
    app = make_app(pipeline(bodies), SessionOptions(checkpoint=checkpoint), grace=60)
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        os.kill(os.getpid(), signal.SIGTERM)
        await until(pilot, lambda: app.guard.deadline is not None, "the grace period")
        os.kill(os.getpid(), signal.SIGTERM)
        await until(pilot, lambda: not app.is_running, "exit", timeout=10)
    assert app.return_value == 143
    assert leftovers(checkpoint) == []
    saved = Snapshot.load(checkpoint)
    assert saved.results["fetch_a"].status is TaskStatus.SUCCESS
    assert saved.interrupted == ["merge"]  # cut off: runs again on resume
    assert session.state is RunState.CANCELLED


@pytest.mark.parametrize("when", ["finished", "not started", "paused before start"])
async def test_a_signal_with_no_run_in_progress_exits_at_once(workdir: Path, when: str) -> None:
    checkpoint = workdir / "ck.toml"
    options = SessionOptions(checkpoint=checkpoint, paused=when == "paused before start")
    app = make_app(pipeline(Bodies(), gate=()), options, autostart=when != "not started", grace=60)
    async with app.run_test(size=SIZE) as pilot:
        if when == "finished":
            await app.wait_for_run()
        elif when == "paused before start":
            await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")
        await settle(pilot)
        os.kill(os.getpid(), signal.SIGHUP)
        await until(pilot, lambda: not app.is_running, "exit", timeout=5)
    assert app.return_value == 129
    assert leftovers(checkpoint) == []
    Snapshot.load(checkpoint)


async def test_a_signal_while_the_quit_question_is_open_exits_with_the_signal(
    workdir: Path,
) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies), grace=60)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuit)
        os.kill(os.getpid(), signal.SIGTERM)
        await until(pilot, lambda: app.guard.deadline is not None, "the grace period")
        bodies.release("merge")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 143


async def test_tasks_that_ignore_cancellation_restore_the_terminal_before_exiting(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = asyncio.Event()

    async def stubborn(ctx: object) -> TaskResult:
        while not stop.is_set():
            try:
                await stop.wait()
            except asyncio.CancelledError:
                continue  # swallows its cancellation
        return TaskResult(TaskStatus.SUCCESS)

    async def quick(ctx: object) -> None:
        return None

    workflow = Workflow(
        name="stubborn", steps=[TaskStep("quick", quick), TaskStep("stubborn", stubborn)]
    )
    checkpoint = workdir / "ck.toml"
    app = make_app(workflow, SessionOptions(checkpoint=checkpoint), grace=60)
    calls: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["stubborn"], "stubborn running")
        driver = app._driver
        assert driver is not None
        stop_mode = driver.stop_application_mode
        close_now = session.close_now

        def record_stop() -> None:
            calls.append("terminal restored")
            stop_mode()

        def record_close() -> None:
            calls.append("session closed")
            close_now()

        def record_exit(code: int) -> None:
            calls.append(f"exit {code}")
            stop.set()  # let the test's loop wind the app down

        monkeypatch.setattr(driver, "stop_application_mode", record_stop)
        monkeypatch.setattr(session, "close_now", record_close)
        monkeypatch.setattr(os, "_exit", record_exit)
        os.kill(os.getpid(), signal.SIGTERM)
        await until(pilot, lambda: app.guard.deadline is not None, "the grace period")
        os.kill(os.getpid(), signal.SIGTERM)  # cancel now: stubborn ignores it
        await until(pilot, lambda: "exit 143" in calls, "the forced exit", timeout=10)
        await until(pilot, lambda: not app.is_running, "the app to wind down")
    assert calls[:3] == [
        "session closed",
        "terminal restored",
        "exit 143",
    ]  # saved first: a dead terminal cannot block it
    assert leftovers(checkpoint) == []
    saved = Snapshot.load(checkpoint)
    assert saved.results["quick"].status is TaskStatus.SUCCESS
    assert "stubborn" not in saved.results or "stubborn" in saved.interrupted
