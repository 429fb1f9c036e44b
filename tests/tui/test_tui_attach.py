"""The attached dashboard (`flow-tui attach`) against a real headless run in the
background: it shows the run's live state, its keys steer the run (checked in the run's
own JSON Lines), consent holds through the socket, `d` leaves the run going, and the end
of the run (or of its process) is said on screen."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from flow_tui.control.client import ControlClient
from flow_tui.control.mirror import RemoteSession
from flow_tui.session import RunState
from flow_tui.tui.attach import AttachedApp
from flow_tui.tui.dialogs import ConfirmInterrupt, ConsentScreen, DetachOrStop
from flow_tui.tui.status import RowStatus

from .attach_helpers import HeadlessRun, wait_until
from .helpers import SIZE, footer_action, messages_text, row_text, run_state, settle, until


@pytest.fixture
def headless(tmp_path: Path, runtime: Path) -> Iterator[HeadlessRun]:
    run = HeadlessRun(tmp_path, runtime)
    try:
        yield run
    finally:
        run.kill()


@contextlib.asynccontextmanager
async def attached(run: HeadlessRun) -> AsyncIterator[tuple[RemoteSession, AttachedApp, Pilot]]:
    """The dashboard attached to `run` once charge and load are running, its first
    screen drawn."""
    run.wait_started("charge", "load")
    session = await RemoteSession.attach(run.info())
    app = AttachedApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        yield session, app, pilot


def header_text(app: AttachedApp) -> str:
    return str(app.run_header.render())


async def test_attached_dashboard_shows_the_run_pauses_it_and_detaches(
    headless: HeadlessRun,
) -> None:
    run = headless
    run.wait_started("charge", "load")
    info = run.info()
    session = await RemoteSession.attach(info)
    other = await RemoteSession.attach(info)  # a second viewer at once
    app = AttachedApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # The live state of the run: extract done, charge and load running.
        assert app.view.status("extract") is RowStatus.SUCCESS
        assert app.view.status("charge") is RowStatus.RUNNING
        assert app.view.status("report") is RowStatus.PENDING
        assert app.view.history.finished == 1  # extract, ended before: counts for the ETA
        assert "✔" in row_text(app, "extract")
        assert f"attached to {info.id} (pid {info.pid})" in header_text(app)
        assert footer_action(app, "o") is None  # no loading into someone else's run
        assert footer_action(app, "d") == "detach"
        app.set_focus(app.task_tree)
        app.task_tree.select_task("extract")
        await settle(pilot)
        assert "extract started" in str(app.detail_pane.query_one("#detail-log").render())

        # p pauses the real run: its own JSON Lines say so, the footer offers Resume.
        await pilot.press("p")
        await until(pilot, lambda: "workflow_paused" in run.event_names(), "the run paused")
        await until(pilot, lambda: footer_action(app, "p") == "resume", "Resume offered")
        assert run_state(session) is RunState.PAUSING
        await until(pilot, lambda: other.state is RunState.PAUSING, "the other viewer to see it")

        run.open("load")  # a running task still finishes while the run drains
        await until(pilot, lambda: app.view.status("load") is RowStatus.SUCCESS, "load done")
        assert app.view.status("report") is RowStatus.PENDING

        await pilot.press("p")
        await until(pilot, lambda: "workflow_resumed" in run.event_names(), "the run resumed")
        await until(pilot, lambda: footer_action(app, "p") == "pause", "Pause offered")

        await pilot.press("d")  # detach: the viewer leaves, the run goes on
    assert app.return_value == 0
    await other.close()
    assert run.process.proc.poll() is None
    run.open("charge")
    result = run.process.wait()
    assert result.returncode == 0, result
    assert sorted(run.started()) == ["charge", "extract", "load", "report"]


async def test_consent_holds_through_the_socket_and_the_end_is_shown(
    headless: HeadlessRun,
) -> None:
    run = headless
    async with attached(run) as (session, app, pilot):
        # P on a running non-idempotent task asks first; y interrupts it in the run.
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ConfirmInterrupt), "the question")
        await pilot.press("y")
        await until(
            pilot,
            lambda: any(
                e.get("event") == "task_end" and e.get("task") == "charge" and e.get("interrupted")
                for e in run.events()
            ),
            "charge interrupted in the run",
        )
        await until(pilot, lambda: session.needs_consent == ["charge"], "charge held")
        await until(pilot, lambda: app.view.status("charge") is RowStatus.INTERRUPTED, "↺")

        # Resuming asks about charge; "it completed" marks it done in the run.
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConsentScreen), "the consent dialog")
        await pilot.press("down", "enter")
        await pilot.press("a")
        await until(pilot, lambda: "workflow_resumed" in run.event_names(), "the run resumed")
        ends = [e for e in run.events() if e.get("event") == "task_end" and e["task"] == "charge"]
        await until(
            pilot,
            lambda: "marked done" in (session.results["charge"].message or ""),
            "charge marked done",
        )

        run.open("load")
        await until(pilot, lambda: session.bye is not None, "the run's bye")
        await settle(pilot)
        text = messages_text(app)
        assert "The run finished: exit 0" in text
        assert "Run finished: 4 tasks succeeded" in text
        assert run_state(session) is RunState.FINISHED
        # report started after the attach: one attempt, heard once (not a manual retry)
        assert [(a.number, a.manual) for a in app.view.history.of("report")] == [(1, False)]
        assert footer_action(app, "p") is None and footer_action(app, "s") is None
        await pilot.press("q")  # the run is over: q leaves at once
    assert app.return_value == 0
    assert run.process.wait().returncode == 0
    assert run.started().count("charge") == 1  # never run twice without consent
    assert ends and ends[0]["status"] == "cancelled"


async def test_q_asks_and_stop_stops_the_run_like_sigterm(headless: HeadlessRun) -> None:
    run = headless
    async with attached(run) as (session, app, pilot):
        await pilot.press("ctrl+c")  # never stops the run by itself: it asks
        await until(pilot, lambda: isinstance(app.screen, DetachOrStop), "the question")
        await pilot.press("n")
        assert not isinstance(app.screen, DetachOrStop)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, DetachOrStop), "the question")
        await pilot.press("s")
        await until(pilot, lambda: "notice" in run.event_names(), "the run's notice")
        # what the run told its operator, the viewer shows too
        await until(pilot, lambda: "The run says: stop asked by" in messages_text(app), "it")
        run.open("charge")
        run.open("load")  # both end within the grace period
        await until(pilot, lambda: session.bye is not None, "the run's bye")
        await settle(pilot)
        assert "exit 143" in messages_text(app)
    assert run.process.wait().returncode == 143


@pytest.mark.parametrize("end", ["finishes", "dies"])
async def test_the_detach_or_stop_question_goes_when_the_run_ends_under_it(
    headless: HeadlessRun, end: str
) -> None:
    # q asks "detach or stop the run?"; the run ends meanwhile (its tasks finish, or its
    # process is killed): nothing is left to stop, so the question goes and the view says
    # how the run ended, on its final state.
    run = headless
    async with attached(run) as (_session, app, pilot):
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, DetachOrStop), "the question")
        if end == "finishes":
            run.open("charge")
            run.open("load")
        else:
            run.kill()
        await until(pilot, lambda: not isinstance(app.screen, DetachOrStop), "it to go")
        await settle(pilot)
        text = messages_text(app)
        if end == "finishes":
            assert "The run finished: exit 0" in text
            assert app.view.status("report") is RowStatus.SUCCESS
        else:
            assert "process went away" in text
            assert app.view.status("charge") is RowStatus.INTERRUPTED
        assert app.is_running and app.return_value is None  # still open: q quits
        assert footer_action(app, "p") is None
        await pilot.press("q")
    assert app.return_value == 0
    if end == "finishes":
        assert run.process.wait().returncode == 0
        assert "stop" not in run.calls()


async def test_a_run_that_dies_is_said_so_and_the_view_stays(headless: HeadlessRun) -> None:
    run = headless
    async with attached(run) as (session, app, pilot):
        run.kill()
        await until(pilot, lambda: not session.connected, "the connection to end")
        await settle(pilot)
        assert "process went away" in messages_text(app)
        assert app.view.status("charge") is RowStatus.INTERRUPTED
        assert app.view.status("extract") is RowStatus.SUCCESS
        assert footer_action(app, "p") is None
        assert app.is_running  # still open on the last state
        await pilot.press("q")
    assert app.return_value == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
async def test_a_signal_to_the_viewer_detaches_it_and_the_run_goes_on(
    headless: HeadlessRun, sig: signal.Signals
) -> None:
    # The operator's terminal closes (SIGHUP) or the viewer is killed (SIGTERM): the
    # viewer leaves with 128 + N; only `stop` or the run's own signals stop the run.
    run = headless
    async with attached(run) as (_session, app, pilot):
        os.kill(os.getpid(), sig)
        await until(pilot, lambda: app.return_value is not None, "the viewer to leave")
    assert app.return_value == 128 + int(sig)
    assert "stop" not in run.calls() and "notice" not in run.event_names()
    run.open("charge")
    run.open("load")
    assert run.process.wait(timeout=30).returncode == 0  # the run went on to its own end
    assert sorted(run.started()) == ["charge", "extract", "load", "report"]


async def test_a_view_the_run_drops_says_so_and_does_not_show_an_end(runtime: Path) -> None:
    # A viewer that falls behind the run's events is dropped by the run, which goes on
    # (tests/control/test_control_viewers.py: the rule): the view says that, not that the
    # process went away, and shows neither an end (cancelled) nor tasks cut off. The run
    # serves in this process, which drops the view as its rule would.
    import asyncio

    from flow_tui import TaskStep, Workflow
    from flow_tui.control import Controls, ControlServer
    from flow_tui.session import Session, SessionOptions

    release = asyncio.Event()

    async def held(ctx: object) -> None:
        await release.wait()

    async def noop(ctx: object) -> None:
        return None

    steps = [TaskStep("held", held), TaskStep("done", noop)]
    session = Session.open(Workflow(name="dropping", steps=steps), SessionOptions())
    notices: list[str] = []
    server = ControlServer(Controls(session), front_end="headless", notice=notices.append)
    await server.start()
    assert server.info is not None
    run = asyncio.ensure_future(session.run())
    remote = await RemoteSession.attach(server.info)
    app = AttachedApp(remote)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.view.status("done") is RowStatus.SUCCESS, "done")
        assert app.view.status("held") is RowStatus.RUNNING
        (viewer,) = [c for c in server._clients if c.subscribed]
        server._drop(viewer, "it did not read the run's events fast enough")
        await until(pilot, lambda: not remote.connected, "the view to hear it")
        await settle(pilot)
        text = messages_text(app)
        assert "dropped this view" in text and "went away" not in text
        assert remote.dropped and run_state(remote) is RunState.RUNNING  # not an end
        assert app.view.status("held") is RowStatus.RUNNING  # not shown as cut off
        assert footer_action(app, "p") is None  # nothing to steer through it any more
        await pilot.press("q")
    assert app.return_value == 0
    assert len(notices) == 1 and "dropped" in notices[0]
    release.set()
    await run  # the run went on to its end
    assert session.counts()["success"] == 2
    await session.close()
    await server.close({"status": "finished", "exit_code": 0})


async def test_the_end_is_said_at_the_bye_while_the_runs_process_is_still_exiting(
    tmp_path: Path, runtime: Path
) -> None:
    """A large run takes seconds to exit after its last task (it frees what it held),
    and its viewers' connections end only then: the view says how the run ended at its
    `bye`, and the connection still ends with the process."""
    run = HeadlessRun(tmp_path, runtime, exit_gate=True)
    try:
        async with attached(run) as (session, app, pilot):
            run.open("charge")
            run.open("load")
            await until(
                pilot, lambda: "The run finished: exit 0" in messages_text(app), "the end said"
            )
            assert run_state(session) is RunState.FINISHED
            assert run.process.proc.poll() is None  # its process has not exited yet
            assert session.connected
            run.open("exit")
            await until(pilot, lambda: not session.connected, "the connection ends with it")
            assert "The run finished: exit 0" in messages_text(app)
        assert run.process.wait().returncode == 0
    finally:
        run.kill()


async def test_a_pause_before_the_attach_is_left_out_of_the_attached_clock(
    headless: HeadlessRun,
) -> None:
    """The run says how long it was paused (its state's paused_s): the attached clock
    leaves that out and stands still while the run stays paused, as the run's own
    dashboard does; ‖ shows the paused time apart."""
    run = headless
    run.wait_started("charge", "load")
    info = run.info()
    with ControlClient(info) as client:
        client.request("pause")
        run.open("charge")
        run.open("load")

        def status() -> dict[str, Any]:
            answer: dict[str, Any] = client.request("status")["status"]
            return answer

        wait_until(lambda: status()["state"] == "paused", "the pause to drain")
        wait_until(lambda: status()["paused_s"] >= 1.0, "a pause of a second")
        before = status()["paused_s"]
    session = await RemoteSession.attach(info)
    app = AttachedApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert session.paused_seconds() >= before
        first = app.view.elapsed()
        assert first <= session.elapsed() - before
        longer = session.paused_seconds() + 0.3
        await until(pilot, lambda: session.paused_seconds() > longer, "the pause to go on")
        assert abs(app.view.elapsed() - first) < 0.05  # it stands while the run is paused
        assert "‖ 0:0" in app.run_header.time

        await pilot.press("p")
        await until(pilot, lambda: session.state is RunState.FINISHED, "the run to finish")
    assert run.process.wait().returncode == 0


async def test_a_pause_seen_by_the_attached_view_stops_its_clock(headless: HeadlessRun) -> None:
    """Paused from the attached view: once the running tasks have drained, its clock
    stands and the paused time grows apart (it counted the pause as run time)."""
    run = headless
    async with attached(run) as (session, app, pilot):
        assert session.paused_seconds() == 0
        await pilot.press("p")
        await until(pilot, lambda: "workflow_paused" in run.event_names(), "the run paused")
        run.open("charge")
        run.open("load")
        await until(pilot, lambda: session.state is RunState.PAUSED, "the pause drained")
        first = app.view.elapsed()
        await until(pilot, lambda: session.paused_seconds() > 0.3, "the pause to go on")
        assert abs(app.view.elapsed() - first) < 0.05
        await pilot.press("p")
        await until(pilot, lambda: session.state is RunState.FINISHED, "the run to finish")
        paused = session.paused_seconds()
        assert paused > 0.3
        assert app.view.elapsed() <= session.elapsed() - paused + 0.05
    assert run.process.wait().returncode == 0
