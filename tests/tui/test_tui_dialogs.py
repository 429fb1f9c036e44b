"""The save, load and resume-plan dialogs: files written and read, errors shown in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList, RadioSet, Static

from flow_tui import Snapshot, TaskResult, TaskStatus
from flow_tui.session import RunState, Session, SessionOptions
from flow_tui.tui.dialogs import HelpScreen, LoadDialog, PlanScreen, SaveDialog
from flow_tui.tui.dialogs.consent import Choice
from flow_tui.tui.dialogs.paths import PathSuggester, find_snapshots
from flow_tui.tui.status import RowStatus
from flow_tui.tui.task_tree import TaskTree

from .helpers import SIZE, make_app, messages_text, row_text, run_state, settle, until
from .workflows.gated import T0, Bodies, metrics, pipeline


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def dialog_error(screen: Screen[Any], ident: str) -> str:
    widget = screen.query_one(ident, Static)
    return str(widget.render()) if widget.has_class("-shown") else ""


async def type_path(pilot: Pilot[Any], screen: Screen[Any], ident: str, text: str) -> None:
    field = screen.query_one(ident, Input)
    field.value = text
    field.cursor_position = len(text)
    await pilot.pause()


def saved_snapshot(workdir: Path, name: str = "saved.toml", **changes: object) -> Path:
    """A snapshot of `pipeline`: fetches succeeded, merge failed, publish interrupted."""
    graph_session = Session(pipeline(Bodies()))
    snap = Snapshot(
        results={
            "fetch_a": TaskResult(TaskStatus.SUCCESS, data={"rows": 120}, metrics=metrics(400)),
            "fetch_b": TaskResult(TaskStatus.SUCCESS, data={"rows": 80}, metrics=metrics(2500)),
            "merge": TaskResult(TaskStatus.SUCCESS, metrics=metrics(1200)),
            "publish": TaskResult(
                TaskStatus.CANCELLED, message="interrupted by pause", metrics=metrics(10)
            ),
            "old_step": TaskResult(TaskStatus.SUCCESS, metrics=metrics(10)),
        },
        workflow="pipeline",
        fingerprint="sha256:0000000000000000",
        versions={s.name: s.version for s in graph_session.steps},
        interrupted=["publish"],
        tasks=[s.name for s in graph_session.steps],
        created_at=T0,
        status="paused",
    )
    for key, value in changes.items():
        setattr(snap, key, value)
    return snap.save(workdir / name)


# -- save ------------------------------------------------------------------------------


async def test_save_to_a_valid_path_writes_a_loadable_snapshot(workdir: Path) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press("p", "s")
        dialog = app.screen
        assert isinstance(dialog, SaveDialog)
        # The default: next to the workflow (here the working folder), timestamped, TOML.
        assert dialog.query_one("#save-path", Input).value == "pipeline-20250102-030405.toml"
        await type_path(pilot, dialog, "#save-path", "run.json")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, SaveDialog), "dialog closed")
        assert "Snapshot saved to run.json" in str(app.run_messages.render())
        bodies.release("merge")
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")

    raw = (workdir / "run.json").read_text()
    assert raw.lstrip().startswith("{")  # the suffix picked JSON
    saved = Snapshot.load(workdir / "run.json")
    assert saved.workflow == "pipeline"
    assert saved.status == "paused"
    assert saved.results["fetch_a"].status is TaskStatus.SUCCESS
    assert saved.results["fetch_a"].data == {"rows": 120}
    assert "merge" not in saved.results and saved.interrupted == ["merge"]


async def test_save_accepts_the_default_toml_path(workdir: Path) -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("s", "enter")
        await until(pilot, lambda: not isinstance(app.screen, SaveDialog), "dialog closed")
    path = workdir / "pipeline-20250102-030405.toml"
    assert "format = " in path.read_text()  # TOML
    saved = Snapshot.load(path)
    assert saved.status == "finished"
    assert {r.status for r in saved.results.values()} == {TaskStatus.SUCCESS}
    assert len(saved.results) == 6


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("no/such/folder/run.toml", "does not exist"),
        ("run.txt", "no .toml or .json suffix"),
        ("", "Type a file path"),
        (".", "is a folder"),
    ],
)
async def test_save_errors_are_shown_in_the_dialog(
    workdir: Path, typed: str, expected: str
) -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("s")
        dialog = app.screen
        await type_path(pilot, dialog, "#save-path", typed)
        await pilot.press("enter")
        await until(pilot, lambda: dialog_error(dialog, "#save-error"), "an error")
        assert expected in dialog_error(dialog, "#save-error")
        assert app.screen is dialog  # still open: fix the path and try again
        await type_path(pilot, dialog, "#save-path", "fixed.toml")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is not dialog, "saved")
    assert sorted(p.name for p in workdir.iterdir()) == ["fixed.toml"]


def unwritable_folder(workdir: Path) -> Path | None:
    """A folder this process cannot create files in: a read-only one, or (for root,
    who writes anywhere) a kernel file system that refuses new files."""
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    for folder in (locked, Path("/sys")):
        probe = folder / "probe.toml"
        try:
            probe.write_text("")
        except OSError:
            return folder
        probe.unlink()
    return None


async def test_save_into_a_folder_that_refuses_writes_shows_the_error(workdir: Path) -> None:
    folder = unwritable_folder(workdir)
    if folder is None:
        pytest.skip("no folder here refuses writes")
    try:
        app = make_app(pipeline(Bodies(), gate=()))
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_for_run()
            await pilot.press("s")
            dialog = app.screen
            await type_path(pilot, dialog, "#save-path", str(folder / "run.toml"))
            await pilot.press("enter")
            await until(pilot, lambda: dialog_error(dialog, "#save-error"), "an error")
            error = dialog_error(dialog, "#save-error")
            assert "cannot write snapshot" in error and "Permission denied" in error
            assert app.screen is dialog
    finally:
        (workdir / "locked").chmod(0o700)
    assert not (folder / "run.toml").exists()


async def test_save_over_an_existing_file_asks_before_overwriting(workdir: Path) -> None:
    target = workdir / "run.toml"
    target.write_text("keep me\n")
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SaveDialog)
        await type_path(pilot, dialog, "#save-path", "run.toml")
        await pilot.press("enter")
        # Asked inside the dialog, not in a box drawn over it.
        await until(pilot, lambda: "exists" in dialog_error(dialog, "#save-error"), "asked")
        assert app.screen is dialog
        assert str(dialog.query_one("#save", Button).label) == "Overwrite"
        assert target.read_text() == "keep me\n"
        # Another path: the question goes; back to the same one: asked again.
        await type_path(pilot, dialog, "#save-path", "run2.toml")
        assert str(dialog.query_one("#save", Button).label) == "Save"
        assert not dialog_error(dialog, "#save-error")
        await type_path(pilot, dialog, "#save-path", "run.toml")
        await pilot.press("enter")
        await until(pilot, lambda: "exists" in dialog_error(dialog, "#save-error"), "asked")
        assert target.read_text() == "keep me\n"

        await pilot.press("enter")  # Overwrite
        await until(pilot, lambda: not isinstance(app.screen, SaveDialog), "saved")
    assert Snapshot.load(target).workflow == "pipeline"


async def test_save_proposes_beside_the_checkpoint_then_the_last_path(workdir: Path) -> None:
    (workdir / "state").mkdir()
    options = SessionOptions(checkpoint=workdir / "state" / "ck.toml")
    app = make_app(pipeline(Bodies(), gate=()), options, source=workdir / "flows" / "etl.py")
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SaveDialog)
        proposed = dialog.path_input.value
        assert proposed.startswith("state/pipeline-") and proposed.endswith(".toml")
        await type_path(pilot, dialog, "#save-path", "mine.json")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, SaveDialog), "saved")
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, SaveDialog)
        assert dialog.path_input.value == "mine.json"  # remembered
        await pilot.press("escape")
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, LoadDialog)
        assert dialog.path_input.value == "mine.json"  # the snapshot last saved


async def test_the_help_screen_close_button_is_on_screen_at_80_by_24() -> None:
    app = make_app(pipeline(Bodies(), gate=()), autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.pause()
        close = app.screen.query_one("#close", Button)
        region = close.region
        assert region.height > 0 and region.bottom <= 24
        assert app.screen.get_widget_at(region.x + 2, region.y + 1)[0] is close
        await pilot.press("enter")
        assert not isinstance(app.screen, HelpScreen)


class Choices(App[None]):
    def compose(self) -> ComposeResult:
        yield RadioSet(Choice("Run it again", value=True), Choice("It completed: mark it done"))


async def test_a_chosen_radio_button_reads_without_colour() -> None:
    app = Choices()
    async with app.run_test(size=(60, 8)) as pilot:
        chosen, other = app.query(Choice)
        assert "●" in chosen._button.plain
        assert "●" not in other._button.plain
        other.value = True  # the set lets go of the other one
        await pilot.pause()
        assert "●" not in chosen._button.plain and "●" in other._button.plain


# -- load ------------------------------------------------------------------------------


async def test_load_a_snapshot_then_p_resumes_without_rerunning_successes(
    workdir: Path,
) -> None:
    # A first run fails at merge and is saved.
    first = Bodies()
    first.fail_next["merge"] = 1
    session = Session.open(pipeline(first, gate=()))
    await session.run()
    session.save(workdir / "failed.toml")
    await session.close()

    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=()), SessionOptions(paused=True))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, LoadDialog)
        # The newest snapshot nearby is offered.
        assert dialog.query_one("#load-path", Input).value == "failed.toml"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        assert isinstance(app.screen, PlanScreen)
        plan = app.screen.plan
        assert plan.kept == ["fetch_a", "fetch_b"]
        assert plan.rerun == {
            "merge": "failed",
            "publish": "skipped",
            "load[1]": "skipped",
            "report": "skipped",
        }
        await pilot.press("a")
        await until(pilot, lambda: session.resumed_from is not None, "applied")
        await settle(pilot)
        assert session.state is RunState.PAUSED
        assert app.view.status("fetch_a") is RowStatus.SUCCESS
        assert "Press p to run it" in str(app.run_messages.render())

        await pilot.press("p")
        await until(pilot, lambda: session.state.is_over, "the resumed run ended")
        await app.wait_for_run()
        assert run_state(session) is RunState.FINISHED
    assert bodies.count("fetch_a") == 0 and bodies.count("fetch_b") == 0
    assert bodies.count("merge") == 1 and bodies.count("report") == 1


async def test_load_a_corrupt_snapshot_shows_the_error(workdir: Path) -> None:
    (workdir / "broken.toml").write_text("format = [not toml\n")
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("o")
        dialog = app.screen
        await type_path(pilot, dialog, "#load-path", "broken.toml")
        await pilot.press("enter")
        await until(pilot, lambda: dialog_error(dialog, "#load-error"), "an error")
        error = dialog_error(dialog, "#load-error")
        assert "broken.toml" in error and "TOML" in error
        assert app.screen is dialog
        await pilot.press("escape")
        assert app.session.resumed_from is None
        assert app.session.state is RunState.FINISHED


async def test_load_a_missing_file_shows_the_error(workdir: Path) -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("o")
        dialog = app.screen
        await type_path(pilot, dialog, "#load-path", "nothing-here.toml")
        await pilot.press("enter")
        await until(pilot, lambda: dialog_error(dialog, "#load-error"), "an error")
        assert "does not exist" in dialog_error(dialog, "#load-error")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("", "Type a file path"), (".", "is a folder"), ("~", "~ is a folder")],
)
async def test_load_path_errors_are_shown_in_the_dialog(
    workdir: Path, typed: str, expected: str
) -> None:
    saved_snapshot(workdir)
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("o")
        dialog = app.screen
        await type_path(pilot, dialog, "#load-path", typed)
        await pilot.press("enter")
        await until(pilot, lambda: dialog_error(dialog, "#load-error"), "an error")
        assert expected in dialog_error(dialog, "#load-error")
        assert dialog.is_active  # still open: fix the path and try again
        await type_path(pilot, dialog, "#load-path", "saved.toml")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        assert app.session.resumed_from is None  # nothing applied before the plan's `a`


async def test_load_a_snapshot_of_another_workflow_is_refused(workdir: Path) -> None:
    saved_snapshot(workdir, "other.json", workflow="billing")
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("o")
        dialog = app.screen
        await type_path(pilot, dialog, "#load-path", "other.json")
        await pilot.press("enter")
        await until(pilot, lambda: dialog_error(dialog, "#load-error"), "an error")
        error = dialog_error(dialog, "#load-error")
        assert "'billing'" in error and "'pipeline'" in error
        assert app.session.resumed_from is None


@pytest.mark.parametrize("choice", ["done", "rerun"])
async def test_interrupted_non_idempotent_tasks_need_explicit_consent(
    workdir: Path, choice: str
) -> None:
    saved_snapshot(workdir)
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await app.wait_for_run()
        bodies.runs.clear()
        await pilot.press("o")
        await type_path(pilot, app.screen, "#load-path", "saved.toml")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        assert screen.plan.needs_consent == ["publish"]
        assert screen.plan.removed == ["old_step"]
        # In the snapshot's task list, never ran: pending, not new.
        assert screen.plan.pending == ["load[1]", "report"] and screen.plan.new == []
        assert screen.query_one("#apply").disabled
        summary = screen.query_one("#consent-summary", Static)
        hint = str(summary.render())
        assert "Apply is off until you choose" in hint and "1 of 1 still open (publish)" in hint
        await pilot.press("a")  # refused: no decision yet, and the hint says what to do
        assert screen.is_active  # still open
        assert summary.has_class("-refused")

        # The consent radio set is focused: down/enter picks an answer.
        await pilot.press("enter" if choice == "rerun" else "down", "enter")
        if choice == "done":
            assert screen.choices == {"publish": "done"}
        else:
            assert screen.choices == {"publish": "rerun"}
        assert not screen.query_one("#apply").disabled
        await pilot.press("a")
        await until(pilot, lambda: session.resumed_from is not None, "applied")
        await pilot.press("p")
        await until(pilot, lambda: session.state.is_over, "run over")
        await app.wait_for_run()
        assert session.state is RunState.FINISHED
    assert bodies.count("fetch_a") == 0 and bodies.count("merge") == 0
    assert bodies.count("publish") == (1 if choice == "rerun" else 0)
    assert bodies.count("report") == 1


async def test_escape_on_the_plan_applies_nothing(workdir: Path) -> None:
    saved_snapshot(workdir)
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("o")
        await type_path(pilot, app.screen, "#load-path", "saved.toml")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        await pilot.press("escape")
        assert app.session.resumed_from is None
        assert app.session.state is RunState.FINISHED
        assert row_text(app, "publish").startswith("✔ publish")


async def test_launch_resuming_over_interrupted_tasks_asks_before_running(
    workdir: Path,
) -> None:
    path = saved_snapshot(workdir)
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=()), SessionOptions(resume=path))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        assert isinstance(app.screen, PlanScreen)
        assert bodies.runs == [] and not session.is_running
        await pilot.press("down", "enter", "a")  # publish completed: mark it done
        await until(pilot, lambda: session.state.is_over, "run over")
        await app.wait_for_run()
        assert session.state is RunState.FINISHED
    assert bodies.runs == ["load[1]", "report"]


async def test_path_completion_and_nearby_snapshots(workdir: Path) -> None:
    saved_snapshot(workdir, "snap-1.toml")
    (workdir / "snaps").mkdir()
    (workdir / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    suggester = PathSuggester()
    assert await suggester.get_suggestion("snap-") == "snap-1.toml"
    assert await suggester.get_suggestion("snaps") == "snaps/"
    assert await suggester.get_suggestion("py") == "pyproject.toml"
    assert await suggester.get_suggestion("zzz") is None
    assert [p.name for p in find_snapshots([workdir])] == ["snap-1.toml"]

    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("o")
        dialog = app.screen
        await type_path(pilot, dialog, "#load-path", "snap-")
        await pilot.press("end", "right")  # accept the suggestion
        await until(
            pilot,
            lambda: dialog.query_one("#load-path", Input).value == "snap-1.toml",
            "completion",
        )
        options = dialog.query_one("#load-candidates", OptionList)
        assert [str(options.get_option_at_index(0).prompt)] == ["snap-1.toml"]
        tree = app.query_one(TaskTree)
        assert len(tree.visible_tasks) == 6


# -- the words of a plan ---------------------------------------------------------------


def section_text(screen: PlanScreen, key: str) -> str | None:
    found = screen.query(f"#plan-{key}")
    return str(found.first().render()) if found else None


async def test_the_plan_screen_and_the_banners_say_kept_rerun_pending_new(
    workdir: Path,
) -> None:
    # The snapshot lists every task but report: load[1] never ran (pending), report is new.
    names = [s.name for s in pipeline(Bodies()).steps]
    saved_snapshot(workdir, tasks=[n for n in names if n != "report"])
    app = make_app(pipeline(Bodies(), gate=()), SessionOptions(paused=True))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")
        await pilot.press("o")
        await type_path(pilot, app.screen, "#load-path", "saved.toml")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlanScreen), "the plan")
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        assert screen.plan.pending == ["load[1]"] and screen.plan.new == ["report"]
        pending = section_text(screen, "pending")
        assert pending is not None
        assert "Pending (1) in the snapshot, never ran: they run now" in pending
        assert pending.endswith("load[1]")
        new = section_text(screen, "new")
        assert new is not None and "New (1) not in the snapshot" in new
        assert new.endswith("report")

        await pilot.press("enter", "a")  # publish: run it again
        await until(pilot, lambda: app.session.resumed_from is not None, "applied")
        await settle(pilot)
        plan = app.session.plan
        assert plan is not None
        assert (
            f"Loaded saved.toml: 3 kept, {len(plan.rerun)} re-run, 1 pending, 1 new. "
            "Press p to run it." in messages_text(app)
        )


async def test_the_resume_banner_uses_the_plan_words(workdir: Path) -> None:
    path = saved_snapshot(workdir)
    app = make_app(pipeline(Bodies(), gate=()), SessionOptions(resume=path), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        plan = app.session.plan
        assert plan is not None and plan.pending == ["load[1]", "report"]
        assert (
            f"Resumed from saved.toml: 3 kept, {len(plan.rerun)} re-run, 2 pending, 0 new."
            in messages_text(app)
        )
