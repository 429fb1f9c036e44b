"""SVG snapshots of the dashboard, each with the state it must show asserted first.

Deterministic: a FrozenClock (elapsed time, spinner, timestamps in UTC), gated task
bodies with fixed metrics, a fixed terminal size, and paths relative to a tmp folder.
Update with `pytest tests/tui/test_tui_snapshots.py --snapshot-update` and look at the
SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from flow_tui import TaskStatus
from flow_tui.session import RunState, SessionOptions
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.detail import TaskDetail
from flow_tui.tui.dialogs import ConsentScreen, PlanScreen, SaveDialog
from flow_tui.tui.status import RowStatus
from flow_tui.tui.task_tree import TaskTree

from .helpers import SIZE, make_app, settle, until
from .test_tui_dialogs import saved_snapshot
from .workflows.gated import Bodies, pipeline

SnapCompare = Callable[..., bool]
RunBefore = Callable[[Pilot[Any]], Awaitable[None]]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def running_app() -> tuple[DashboardApp, Bodies]:
    bodies = Bodies()
    return make_app(pipeline(bodies)), bodies


def failed_app() -> DashboardApp:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    return make_app(pipeline(bodies, gate=()))


def test_main_screen_while_running(snap_compare: SnapCompare) -> None:
    app, _ = running_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await settle(pilot)
        assert app.session.state is RunState.RUNNING
        assert app.view.status("fetch_b") is RowStatus.SUCCESS
        assert app.view.status("merge") is RowStatus.RUNNING
        assert app.view.status("report") is RowStatus.PENDING

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_main_screen_in_80_by_24(snap_compare: SnapCompare) -> None:
    app, _ = running_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await settle(pilot)
        assert app.session.state is RunState.RUNNING

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_main_screen_paused(snap_compare: SnapCompare) -> None:
    app, bodies = running_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await pilot.press("p")
        bodies.release("merge")
        await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")
        await settle(pilot)
        assert app.session.results["merge"].status is TaskStatus.SUCCESS
        assert bodies.count("publish") == 0

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_main_screen_finished_with_failures(snap_compare: SnapCompare) -> None:
    app = failed_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await app.wait_for_run()
        await settle(pilot)
        assert app.session.state is RunState.FAILED
        assert app.session.failed_tasks() == ["merge"]
        assert app.view.status("report") is RowStatus.SKIPPED

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_detail_pane_of_a_failed_task(snap_compare: SnapCompare) -> None:
    app = failed_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await app.wait_for_run()
        await settle(pilot)
        app.query_one(TaskTree).select_task("merge")
        await pilot.press("enter")
        detail = app.query_one(TaskDetail)
        assert app.focused is detail and detail.task_name == "merge"

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_save_dialog(snap_compare: SnapCompare) -> None:
    app, _ = running_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await settle(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, SaveDialog)
        default = app.screen.query_one("#save-path", Input).value
        assert default == "pipeline-20250102-030405.toml"

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_resume_plan(snap_compare: SnapCompare, workdir: Path) -> None:
    saved_snapshot(workdir)
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=()), SessionOptions(paused=True))

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")
        await pilot.press("o", "enter")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        assert isinstance(app.screen, PlanScreen)
        assert app.screen.plan.needs_consent == ["publish"]
        assert bodies.runs == []

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_consent_before_resuming_past_an_interrupted_task(snap_compare: SnapCompare) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("publish",)))

    async def run_before(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.session.running == ["publish"], "publish running")
        await pilot.press("P", "y")
        await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")
        await settle(pilot)
        await pilot.press("p")
        assert isinstance(app.screen, ConsentScreen)
        assert app.screen.choices == {"publish": None}
        assert bodies.count("publish") == 1

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
