"""Every key of the dashboard, driven with Pilot, asserting the session's state."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from flow_tui import TaskStatus
from flow_tui.session import RunState, SessionOptions
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.detail import TaskDetail
from flow_tui.tui.dialogs import (
    ConfirmInterrupt,
    ConfirmQuit,
    ConsentScreen,
    HelpScreen,
    LoadDialog,
    SaveDialog,
)
from flow_tui.tui.status import RowStatus
from flow_tui.tui.task_tree import TaskTree

from .helpers import (
    SIZE,
    focused,
    footer_action,
    make_app,
    messages_text,
    row_text,
    run_state,
    settle,
    until,
)
from .workflows.gated import Bodies, pipeline, tagged


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def statuses(app: DashboardApp) -> dict[str, TaskStatus]:
    return {n: r.status for n, r in app.session.results.items()}


async def test_p_pauses_with_drain_and_the_footer_label_changes() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await settle(pilot)
        assert footer_action(app, "p") == "pause"

        await pilot.press("p")
        assert session.state is RunState.PAUSING  # merge still runs: it drains
        await settle(pilot)
        assert footer_action(app, "p") == "resume"
        assert "pausing (1 running)" in app.run_header.state_text

        bodies.release("merge")
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        await settle(pilot)
        assert statuses(app)["merge"] is TaskStatus.SUCCESS
        assert bodies.count("publish") == 0  # nothing new started while paused
        assert "paused" in app.run_header.state_text

        await pilot.press("p")
        await app.wait_for_run()
        assert run_state(session) is RunState.FINISHED
        assert set(statuses(app).values()) == {TaskStatus.SUCCESS}
        await settle(pilot)
        assert footer_action(app, "p") is None  # nothing to pause or resume any more
        assert "Run finished" in str(app.run_messages.render())


async def test_shift_p_interrupts_running_tasks_which_run_again_on_resume() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press("P")
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        await settle(pilot)
        assert statuses(app)["merge"] is TaskStatus.CANCELLED
        assert app.view.status("merge") is RowStatus.INTERRUPTED
        assert row_text(app, "merge").startswith("↺ merge")

        await pilot.press("p")
        await until(pilot, lambda: bodies.count("merge") == 2, "merge started again")
        bodies.release("merge")
        await app.wait_for_run()
        assert session.state is RunState.FINISHED
        assert bodies.count("fetch_a") == 1 and bodies.count("merge") == 2


async def test_letter_keys_do_not_fire_while_typing_in_the_filter() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press("slash", "p", "s", "o", "q", "r", "question_mark")
        assert app.filter_bar.value == "psoqr?"
        assert session.state is RunState.RUNNING
        assert len(app.screen_stack) == 1  # no dialog opened
        bodies.release("merge")
        await app.wait_for_run()


async def test_slash_filters_by_name_status_and_tag_and_escape_clears() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.query_one(TaskTree)
        await pilot.press("slash", *"fetch")
        assert tree.visible_tasks == ["fetch_a", "fetch_b"]
        app.filter_bar.value = "skipped"  # typing is covered above; set the rest at once
        await pilot.pause()
        assert tree.visible_tasks == ["publish", "load[1]", "report"]
        await pilot.press("enter")  # keeps the filter, back to the tree
        assert app.focused is tree
        assert tree.visible_tasks == ["publish", "load[1]", "report"]
        await pilot.press("escape")
        assert app.filter_query == ""
        assert not app.filter_bar.shown
        assert len(tree.visible_tasks) == 6

    bodies = Bodies()
    app = make_app(tagged(bodies))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("slash", *"extract")
        assert app.query_one(TaskTree).visible_tasks == ["extract_orders", "extract_users"]


async def test_tree_groups_by_depth_or_tag_in_declared_order() -> None:
    app = make_app(pipeline(Bodies(), gate=()), autostart=False)
    async with app.run_test(size=SIZE):
        assert [(g.title, g.names) for g in app.groups] == [
            ("stage 1", ["fetch_a", "fetch_b"]),
            ("stage 2", ["merge"]),
            ("stage 3", ["publish", "load[1]"]),
            ("stage 4", ["report"]),
        ]
        # Labels are Text: a name with brackets shows as written, not as markup.
        assert row_text(app, "load[1]").startswith("○ load[1]")
    app = make_app(tagged(Bodies()), autostart=False)
    async with app.run_test(size=SIZE):
        assert [(g.title, g.names) for g in app.groups] == [
            ("extract", ["extract_orders", "extract_users"]),
            ("transform", ["clean_orders"]),
            ("untagged", ["audit"]),
        ]


async def test_enter_focuses_the_detail_pane_of_the_highlighted_task() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.query_one(TaskTree)
        assert tree.select_task("merge")
        await pilot.press("enter")
        detail = app.query_one(TaskDetail)
        assert app.focused is detail
        assert detail.task_name == "merge"
        shown = " ".join(str(s.render()) for s in detail.query("Static") if s.display)
        assert "ConnectionError: warehouse refused the connection" in shown
        assert 'File "warehouse.py", line 12' in shown
        assert "fetch_a, fetch_b" in shown  # dependencies
        assert "publish, load[1]" in shown  # dependents
        await pilot.press("escape")
        assert focused(app) is tree


async def test_question_mark_shows_every_key() -> None:
    app = make_app(pipeline(Bodies(), gate=()), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {k.binding_id for k in app.screen.keys}
        assert {
            "pause",
            "resume",
            "pause_interrupt",
            "save_snapshot",
            "load_snapshot",
            "retry_task",
            "retry_failed",
            "focus_detail",
            "filter",
            "clear_filter",
            "help",
            "quit",
            "quit_now",
        } <= ids
        keys = {k.binding_id: k.keys for k in app.screen.keys}
        assert "s" in keys["save_snapshot"] and "^s" in keys["save_snapshot"]
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_keymap_remaps_a_binding_by_id() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        app.set_keymap({"pause": "x"})
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await pilot.press("p")
        assert app.session.state is RunState.RUNNING  # p no longer pauses
        await pilot.press("x")
        assert run_state(app.session) is RunState.PAUSING
        bodies.release("merge")
        await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")


async def test_r_retries_the_highlighted_failed_task_and_what_it_skipped() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await app.wait_for_run()
        await settle(pilot)
        assert session.state is RunState.FAILED
        assert statuses(app)["report"] is TaskStatus.SKIPPED
        tree = app.query_one(TaskTree)

        tree.select_task("fetch_a")  # a success: nothing to retry
        await pilot.pause()
        assert footer_action(app, "r") is None
        await pilot.press("r")
        assert session.state is RunState.FAILED

        tree.select_task("merge")
        await pilot.pause()
        assert footer_action(app, "r") == "retry_task"
        await pilot.press("r")
        await until(pilot, lambda: session.state.is_over, "retry over")
        await app.wait_for_run()
        assert run_state(session) is RunState.FINISHED
        assert set(statuses(app).values()) == {TaskStatus.SUCCESS}
        assert bodies.count("merge") == 2
        assert bodies.count("fetch_a") == 1 and bodies.count("fetch_b") == 1
        assert bodies.count("report") == 1


async def test_shift_r_retries_every_failed_task() -> None:
    bodies = Bodies()
    bodies.fail_next.update({"fetch_a": 1, "fetch_b": 1})
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await app.wait_for_run()
        assert sorted(session.failed_tasks()) == ["fetch_a", "fetch_b"]
        await settle(pilot)
        assert footer_action(app, "R") == "retry_failed"
        await pilot.press("R")
        await until(pilot, lambda: session.state.is_over, "retry over")
        await app.wait_for_run()
        assert session.state is RunState.FINISHED
        assert bodies.count("fetch_a") == 2 and bodies.count("report") == 1


async def test_o_is_refused_while_tasks_run_and_says_why() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await pilot.press("o")
        await pilot.pause()
        assert not isinstance(app.screen, LoadDialog)
        assert "Load replaces the run" in messages_text(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert not isinstance(app.screen, LoadDialog)
        bodies.release("merge")
        await app.wait_for_run()
        assert app.session.results["report"].status is TaskStatus.SUCCESS
        await settle(pilot)
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, LoadDialog)


async def test_s_and_ctrl_s_open_the_save_dialog() -> None:
    app = make_app(pipeline(Bodies()), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, SaveDialog)
        await pilot.press("escape")
        assert not isinstance(app.screen, SaveDialog)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SaveDialog)


async def test_q_on_a_finished_run_quits_at_once_with_exit_code_0() -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        await pilot.press("q")
    assert app.return_value == 0
    assert app.session_closed


async def test_q_on_a_failed_run_asks_offering_to_save_and_exits_1() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("q")
        dialog = app.screen
        assert isinstance(dialog, ConfirmQuit)
        assert dialog.over
        assert dialog.situation == (
            "The run failed: 1 failed, 3 skipped. Quitting exits with code 1. Quit?"
        )
        assert dialog.query_one("#save").display  # a snapshot lets a later launch retry
        await pilot.press("n")
        assert app.is_running and not isinstance(app.screen, ConfirmQuit)
        await pilot.press("q", "y")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 1


async def quit_asked_as_the_run_ends(
    app: DashboardApp, pilot: Pilot[int], bodies: Bodies
) -> tuple[str, str, str]:
    """q while merge runs, then merge released: the run ends under the question, which
    stays and is asked again. What it asked during the run, then what it says and its
    hint once the run is over."""
    session = app.session
    await until(pilot, lambda: session.running == ["merge"], "merge running")
    await pilot.press("q")
    dialog = app.screen
    assert isinstance(dialog, ConfirmQuit) and not dialog.over
    asked = dialog.situation
    bodies.release("merge")
    await app.wait_for_run()
    await pilot.pause()
    assert app.screen is dialog
    assert isinstance(dialog, ConfirmQuit) and dialog.over
    shown = str(dialog.query_one("#quit-situation", Static).render())
    hint = str(dialog.query_one("#quit-hint", Static).render())
    return asked, shown, hint


async def test_the_quit_question_changes_when_the_run_ends_while_it_is_asked() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("merge",)))
    async with app.run_test(size=SIZE) as pilot:
        asked, shown, hint = await quit_asked_as_the_run_ends(app, pilot, bodies)
        assert "1 task(s) running" in asked
        assert shown == "The run finished meanwhile: every task succeeded. Quit?"
        assert hint == "Nothing is cancelled: the run is over."
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 0


async def test_the_quit_question_says_so_when_the_run_fails_while_it_is_asked(
    workdir: Path,
) -> None:
    """The other way the run can end under the question: with a failure. It is asked
    again as after a failed run, with the checkpoint it named."""
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(
        pipeline(bodies, gate=("merge",)), SessionOptions(checkpoint=workdir / "ck.toml")
    )
    async with app.run_test(size=SIZE) as pilot:
        _, shown, hint = await quit_asked_as_the_run_ends(app, pilot, bodies)
        assert shown == "The run failed: 1 failed, 3 skipped. Quitting exits with code 1. Quit?"
        assert hint.startswith("The checkpoint") and "ck.toml keeps every result" in hint
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 1


async def test_the_quit_prompt_of_a_failed_run_saves_then_exits_1(workdir: Path) -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.press("q", "s")
        assert isinstance(app.screen, SaveDialog)
        app.screen.query_one("#save-path", Input).value = "failed.toml"
        await pilot.press("enter")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 1
    from flow_tui import Snapshot

    saved = Snapshot.load(workdir / "failed.toml")
    assert saved.results["merge"].status is TaskStatus.FAILURE


async def test_ctrl_c_asks_like_q_and_quits_a_finished_run_with_0() -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 0


@pytest.mark.parametrize("key", ["q", "ctrl+q", "ctrl+c"])
async def test_quit_with_unfinished_work_asks_first_and_exits_1(key: str, workdir: Path) -> None:
    bodies = Bodies()
    checkpoint = workdir / "ck.toml"
    app = make_app(pipeline(bodies), SessionOptions(checkpoint=checkpoint))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press(key)
        assert isinstance(app.screen, ConfirmQuit)  # not Textual's "press ctrl+q" toast
        assert not app._notifications
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmQuit)
        assert session.state is RunState.RUNNING

        await pilot.press(key)
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 1  # the run's own code, as headless: 130 means SIGINT only
    assert session.state is RunState.CANCELLED
    from flow_tui import Snapshot

    saved = Snapshot.load(checkpoint)
    assert saved.results["fetch_a"].status is TaskStatus.SUCCESS
    assert saved.results["merge"].status is TaskStatus.CANCELLED
    assert "merge" in saved.interrupted
    assert not checkpoint.with_name("ck.toml.lock").exists()


async def test_quit_dialog_offers_to_save_a_snapshot_first(workdir: Path) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press("p", "q", "s")
        assert isinstance(app.screen, SaveDialog)
        app.screen.query_one("#save-path", Input).value = "before-quit.json"
        await pilot.press("enter")
        await until(pilot, lambda: not app.is_running, "exit")
    assert app.return_value == 1
    from flow_tui import Snapshot

    saved = Snapshot.load(workdir / "before-quit.json")
    assert saved.workflow == "pipeline"
    assert saved.status == "paused"
    assert saved.results["fetch_b"].status is TaskStatus.SUCCESS
    assert saved.interrupted == ["merge"]  # it was running when saved


async def test_paused_option_starts_paused_and_p_runs(workdir: Path) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=()), SessionOptions(paused=True))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.is_running, "run started")
        await settle(pilot)
        assert session.state is RunState.PAUSED
        assert bodies.runs == []
        assert footer_action(app, "p") == "resume"
        await pilot.press("p")
        await app.wait_for_run()
        assert run_state(session) is RunState.FINISHED


async def test_checkpoint_failure_is_shown_and_the_app_stays(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies), SessionOptions(checkpoint=workdir / "ck.json"))
    session = app.session
    assert session.checkpointer is not None

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        # The disk fills up: the next journal sync fails, as tests/checkpoint make it.
        monkeypatch.setattr(os, "fdatasync", disk_full)
        bodies.release("merge")
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused by the failure")
        await settle(pilot)
        shown = str(app.run_messages.render())
        assert "Checkpoint failed" in shown and "No space left on device" in shown
        assert app.is_running


async def test_no_color_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        assert app.no_color
        assert row_text(app, "merge").startswith("✔ merge")  # shapes, not only colours


async def test_works_in_80_by_24() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.query_one(TaskTree)
        detail = app.query_one(TaskDetail)
        assert tree.size.width >= 30 and detail.size.width >= 30
        assert tree.size.height >= 10
        footer_keys = set(app.screen.active_bindings)
        assert {"s", "o", "q", "slash", "question_mark"} <= footer_keys


async def test_a_burst_of_events_costs_one_repaint() -> None:
    from .workflows.gated import many

    bodies = Bodies()
    app = make_app(many(bodies, 3000))
    app.FLUSH_INTERVAL = 3600  # no timer flush during the run: only the final one
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await pilot.pause()
        assert app.session.state is RunState.FINISHED
        assert app.flushes == 1
        assert app.repainted_rows == 3000  # every row once, none twice
        assert row_text(app, "t2999").startswith("✔ t2999")


async def test_the_detail_pane_shows_what_a_task_logged() -> None:
    import logging

    from textual.widgets import Static

    from flow_tui import TaskStep, Workflow

    async def chatty(ctx: object) -> dict[str, int]:
        logging.getLogger("etl").warning("loaded %d rows into [staging]", 42)
        return {"rows": 42}

    app = make_app(Workflow(name="logs", steps=[TaskStep("chatty", chatty)]))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        await pilot.press("enter")
        detail = app.query_one(TaskDetail)
        shown = " ".join(str(s.render()) for s in detail.query("Static") if s.display)
        assert "etl: loaded 42 rows into [staging]" in shown
        data = detail.query_one("#detail-data", Static).content
        assert getattr(data, "_object", None) == {"rows": 42}  # pretty-printed data


async def test_the_key_bar_shows_the_keys_that_apply_and_clicks_run_them() -> None:
    from flow_tui.tui.key_bar import KeyBar

    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await settle(pilot)
        bar = app.query_one(KeyBar)
        shown = {description: enabled for _key, description, enabled in bar.shown}
        assert shown["Pause"] and "Resume" not in shown
        assert shown["Load"] is False  # shown, but not while tasks run
        text = str(bar.render())
        await pilot.click(KeyBar, offset=(text.index("Pause"), 0))
        assert app.session.state is RunState.PAUSING
        await settle(pilot)
        assert "Resume" in str(bar.render())
        bodies.release("merge")
        await until(pilot, lambda: app.session.state is RunState.PAUSED, "paused")


async def test_a_retry_shows_the_tasks_it_runs_again_as_pending_from_its_start() -> None:
    # The rows of a failed task and of what it skipped must not keep their old marks
    # while the retry waits to run them.
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=("publish",)))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        bodies.release("publish")
        await app.wait_for_run()
        await settle(pilot)
        assert row_text(app, "report").startswith("↷ report")
        bodies.gates["publish"] = asyncio.Event()  # the retry holds publish
        app.query_one(TaskTree).select_task("merge")
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: session.running == ["publish"], "publish running again")
        await settle(pilot)
        assert row_text(app, "merge").startswith("✔ merge")
        assert row_text(app, "report").startswith("○ report")  # pending, not skipped
        assert row_text(app, "fetch_a").startswith("✔ fetch_a")  # kept
        bodies.release("publish")
        await app.wait_for_run()


# -- interrupting a task that is not idempotent, and resuming past it -------------------


async def interrupt_publish(app: DashboardApp, pilot: Pilot[int], bodies: Bodies) -> None:
    """Run until publish (not idempotent) runs, then P and confirm: publish is cut off."""
    session = app.session
    await until(pilot, lambda: session.running == ["publish"], "publish running")
    await pilot.press("P")
    assert isinstance(app.screen, ConfirmInterrupt)
    await pilot.press("y")
    await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
    await settle(pilot)
    assert app.view.status("publish") is RowStatus.INTERRUPTED


async def test_shift_p_asks_before_interrupting_a_task_that_is_not_idempotent() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("publish",)))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["publish"], "publish running")
        await pilot.press("P")
        dialog = app.screen
        assert isinstance(dialog, ConfirmInterrupt)
        assert dialog.tasks == ["publish"]
        assert dialog.question.startswith("Interrupt publish anyway?")
        # While the operator decides nothing new starts, so the question stays true.
        assert session.state is RunState.PAUSING
        await pilot.press("n")  # No: the run goes on as it was
        assert not isinstance(app.screen, ConfirmInterrupt)
        assert session.state is RunState.RUNNING and session.running == ["publish"]

        await pilot.press("P")
        await pilot.press("escape")  # escape is a No too
        assert session.state is RunState.RUNNING

        await pilot.press("P", "y")
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        assert statuses(app)["publish"] is TaskStatus.CANCELLED
        assert bodies.count("publish") == 1


@pytest.mark.parametrize("choice", ["done", "rerun"])
async def test_p_after_an_interrupting_pause_asks_for_consent_before_resuming(
    choice: str,
) -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("publish",)))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await interrupt_publish(app, pilot, bodies)
        assert session.needs_consent == ["publish"]

        await pilot.press("p")
        dialog = app.screen
        assert isinstance(dialog, ConsentScreen)
        assert dialog.choices == {"publish": None}
        await pilot.press("a")  # refused: nothing decided yet
        assert app.screen is dialog
        await pilot.press("escape")  # no decision: still paused, nothing ran
        assert session.state is RunState.PAUSED
        assert bodies.count("publish") == 1
        assert "Press p to decide" in messages_text(app)

        await pilot.press("p")
        assert isinstance(app.screen, ConsentScreen)
        await pilot.press("enter" if choice == "rerun" else "down", "enter")
        await pilot.press("a")
        if choice == "rerun":
            await until(pilot, lambda: bodies.count("publish") == 2, "publish ran again")
            bodies.release("publish")
        await app.wait_for_run()
        assert run_state(session) is RunState.FINISHED
    assert bodies.count("publish") == (2 if choice == "rerun" else 1)
    assert bodies.count("report") == 1
    if choice == "done":
        message = session.results["publish"].message or ""
        assert "marked done by the operator" in message


async def test_shift_p_over_idempotent_tasks_only_interrupts_at_once() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press("P")
        assert not isinstance(app.screen, ConfirmInterrupt)
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        assert session.needs_consent == []
        await pilot.press("p")  # merge is idempotent: no question
        assert not isinstance(app.screen, ConsentScreen)
        await until(pilot, lambda: bodies.count("merge") == 2, "merge started again")
        bodies.release("merge")
        await app.wait_for_run()


# -- group rows -------------------------------------------------------------------------


async def test_a_group_with_a_failed_task_does_not_read_as_done_well() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.query_one(TaskTree)

        def group(title: str) -> str:
            label = tree.group_label(title)
            assert label is not None
            return label.plain

        assert group("stage 1") == "✔ stage 1  2/2"
        assert group("stage 2") == "✘ stage 2  ✘1/1"
        assert group("stage 3") == "↷ stage 3  ↷2/2"
        assert group("stage 4") == "↷ stage 4  ↷1/1"


async def test_a_group_mixing_ends_counts_each() -> None:
    bodies = Bodies()
    bodies.fail_next["fetch_b"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        label = app.query_one(TaskTree).group_label("stage 1")
        assert label is not None and label.plain == "✘ stage 1  ✔1/2 ✘1/2"


async def test_the_detail_pane_sections_take_the_size_of_their_new_text() -> None:
    """The pane is updated without a layout of the screen when a section keeps its size:
    one that grows or narrows as the task runs and ends is laid out again."""
    from textual.widgets import Static

    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("merge",)))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.running == ["merge"], "merge running")
        await settle(pilot)
        app.task_tree.select_task("merge")
        await settle(pilot)
        detail = app.query_one(TaskDetail)

        def heights() -> dict[str, tuple[int, int]]:
            sizes = {}
            for static in detail.query(Static):
                if static.display and static.id is not None:
                    size = static.content_size
                    text = static.get_content_height(size, size, size.width)
                    sizes[static.id] = (size.height, text)
                    assert size.height == text, static.id
            return sizes

        running = heights()
        bodies.release("merge")
        await until(pilot, lambda: "merge" in app.session.results, "merge ended")
        await settle(pilot)
        await pilot.pause()
        ended = heights()
        # Ended: started, finished and the data section came (the pane grew).
        assert ended["detail-fields"][0] > running["detail-fields"][0]
        assert "detail-data" in ended
