"""The tree as an operator's cockpit (#14): live filter, kept marker, honest progress,
follow mode, jumps, sort, folding, the group pane and the command palette."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette

from flow_tui import TaskStep, Workflow
from flow_tui.session import RunState, Session, SessionOptions
from flow_tui.tui import task_tree
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.dialogs import LoadDialog
from flow_tui.tui.filter_bar import FilterCount
from flow_tui.tui.log_view import LogScreen
from flow_tui.tui.status import GLYPH, RowStatus, progress_done
from flow_tui.tui.task_tree import KEPT_MARK, SortOrder

from .helpers import SIZE, make_app, messages_text, row_text, settle, until
from .workflows.gated import Bodies, pipeline


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def count_text(app: DashboardApp) -> str:
    return str(app.query_one("#filter-count", FilterCount).render())


def group_text(app: DashboardApp, title: str) -> str:
    label = app.task_tree.group_label(title)
    assert label is not None, f"group {title} has no row"
    return label.plain


def trio(bodies: Bodies) -> Workflow:
    """Three independent tasks of one group: a (0.4 s), b (fails), c (2.5 s)."""
    return Workflow(
        name="trio",
        steps=[
            TaskStep("a", bodies.body("a", duration_ms=400.0)),
            TaskStep("b", bodies.body("b")),
            TaskStep("c", bodies.body("c", duration_ms=2500.0)),
        ],
    )


async def test_a_status_filter_is_live_and_counts_what_it_shows() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("merge", "publish")))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await settle(pilot)
        tree = app.task_tree
        await pilot.press("slash", *"running", "enter")
        assert tree.visible_tasks == ["merge"]
        assert count_text(app) == "1 of 6"
        # merge ends, publish starts later: the filter follows without being typed again.
        bodies.release("merge")
        await until(pilot, lambda: session.running == ["publish"], "publish running")
        await settle(pilot)
        assert tree.visible_tasks == ["publish"]
        assert count_text(app) == "1 of 6"
        assert tree.highlighted_task == "publish"  # the cursor's row left: a neighbour
        # The group header counts what the filter shows, and says how many in all.
        assert "0/1 (of 2)" in group_text(app, "stage 3")
        assert tree.group_label("stage 2") is None  # nothing of it shown: no header

        app.filter_bar.value = "success"
        await pilot.pause()
        assert tree.visible_tasks == ["fetch_a", "fetch_b", "merge", "load[1]"]
        assert count_text(app) == "4 of 6"
        bodies.release("publish")
        await app.wait_for_run()
        await settle(pilot)
        assert tree.visible_tasks == [
            "fetch_a",
            "fetch_b",
            "merge",
            "publish",
            "load[1]",
            "report",
        ]  # in declared order, as they finished
        assert count_text(app) == "6 of 6"


async def test_tasks_kept_from_a_snapshot_are_marked(workdir: Path) -> None:
    first = Bodies()
    first.fail_next["merge"] = 1
    session = Session.open(pipeline(first, gate=()))
    await session.run()
    session.save(workdir / "failed.toml")
    await session.close()

    bodies = Bodies()
    options = SessionOptions(resume=workdir / "failed.toml", paused=True)
    app = make_app(pipeline(bodies, gate=()), options)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert KEPT_MARK in row_text(app, "fetch_a")
        assert KEPT_MARK in row_text(app, "fetch_b")
        assert KEPT_MARK not in row_text(app, "merge")
        await pilot.press("slash", *"kept", "enter")
        assert app.task_tree.visible_tasks == ["fetch_a", "fetch_b"]
        await pilot.press("escape")
        await pilot.press("p")
        await app.wait_for_run()
        await settle(pilot)
        assert KEPT_MARK in row_text(app, "fetch_a")  # still not run now
        assert KEPT_MARK not in row_text(app, "merge")
        assert bodies.count("fetch_a") == 0
        # The load dialog offers the snapshot this run resumed first.
        await pilot.press("o")
        dialog = app.screen
        assert isinstance(dialog, LoadDialog)
        assert dialog.path_input.value == "failed.toml"


async def test_progress_counts_neither_interrupted_nor_cancelled_tasks_as_done() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await pilot.press("P")  # merge is idempotent: interrupted at once
        await until(pilot, lambda: session.state is RunState.PAUSED, "paused")
        await settle(pilot)
        counts = app.view.counts()
        assert counts[RowStatus.INTERRUPTED] == 1
        assert progress_done(counts) == 2  # fetch_a, fetch_b; not merge
        assert "33%" in str(app.run_header.render())
    # Failed and skipped tasks will not run again: they count.
    assert progress_done({RowStatus.SUCCESS: 1, RowStatus.FAILURE: 1, RowStatus.SKIPPED: 1}) == 3
    assert progress_done({RowStatus.CANCELLED: 2, RowStatus.PENDING: 1}) == 0


async def test_follow_mode_keeps_the_cursor_on_a_running_task() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("merge", "publish")))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        tree = app.task_tree
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await settle(pilot)
        assert tree.highlighted_task == "fetch_a"
        await pilot.press("f")
        assert app.following
        assert tree.highlighted_task == "merge"
        bodies.release("merge")
        await until(pilot, lambda: session.running == ["publish"], "publish running")
        await settle(pilot)
        assert tree.highlighted_task == "publish"
        await pilot.press("f")  # off: the cursor stays where it is
        assert not app.following
        bodies.release("publish")
        await app.wait_for_run()
        await settle(pilot)
        assert tree.highlighted_task == "publish"


async def test_n_and_shift_n_jump_to_the_next_failed_and_running_task() -> None:
    bodies = Bodies()
    bodies.fail_next["b"] = 1
    app = make_app(trio(bodies))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        await pilot.press("g")  # the group's header
        assert tree.highlighted_group == "stage 1"
        await pilot.press("n")
        assert tree.highlighted_task == "b"
        await pilot.press("n")  # wraps round to the same one
        assert tree.highlighted_task == "b"
        await pilot.press("N")
        assert tree.highlighted_task == "b"
        assert "No running task" in messages_text(app)


def lines(app: DashboardApp) -> list[str]:
    """The tree's rows as drawn, top to bottom: group titles and task names."""
    tree = app.task_tree
    out = []
    for line in range(tree.last_line + 1):
        node = tree.get_node_at_line(line)
        assert node is not None
        data = node.data
        assert data is not None
        out.append(data.name if isinstance(data, task_tree.TaskRef) else f"[{data.title}]")
    return out


async def test_clearing_a_filter_shows_every_row_as_the_run_is_now() -> None:
    """The rows without a filter come back as they are now, by every path that changes
    them while a filter is set: statuses (their places in a sorted view, their groups'
    counts), folds, the order."""
    bodies = Bodies()
    bodies.fail_next["load[1]"] = 1
    app = make_app(pipeline(bodies, gate=("merge",)))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await settle(pilot)
        tree = app.task_tree
        before = lines(app)
        assert before[:3] == ["[stage 1]", "fetch_a", "fetch_b"]
        # Declared order: a filter, then none again; the cursor keeps its row.
        await pilot.press("j", "j", "j")
        assert tree.highlighted_task == "merge"
        await pilot.press("slash", *"fetch", "enter")
        assert tree.visible_tasks == ["fetch_a", "fetch_b"]
        await pilot.press("escape")
        assert lines(app) == before
        # By status; with a filter set, merge succeeds and load[1] fails (its row moves
        # first in its group), stage 1 is folded, and the order changes to by duration
        # and back to by status.
        await pilot.press("v")
        assert app.order is SortOrder.STATUS
        assert lines(app)[6:8] == ["publish", "load[1]"]  # both pending: as declared
        assert "1/1" not in group_text(app, "stage 2")
        await pilot.press("slash", *"success", "enter")
        await pilot.press("g", "h")  # the cursor on stage 1's header, which folds
        assert tree.highlighted_group == "stage 1"
        bodies.release("merge")
        await app.wait_for_run()
        await settle(pilot)
        await pilot.press("v", "v", "v")  # duration, declared, status again
        assert app.order is SortOrder.STATUS
        await pilot.press("escape")
        assert count_text(app) == "6 of 6"
        assert lines(app) == [
            "[stage 1]",  # folded while filtered: it stays so
            "[stage 2]",
            "merge",
            "[stage 3]",
            "load[1]",  # failed: first
            "publish",
            "[stage 4]",
            "report",
        ]
        assert "1/1" in group_text(app, "stage 2")
        assert GLYPH[RowStatus.SUCCESS] in row_text(app, "merge")
        assert GLYPH[RowStatus.FAILURE] in row_text(app, "load[1]")


async def test_a_group_opened_while_filtered_is_open_with_the_cursor_when_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A very large run opens folded: a group the operator opens while a filter is set
    stays open when the filter is cleared, with the cursor on the task it was on."""
    monkeypatch.setattr(task_tree, "FOLDED_FROM", 3)  # as if 6 tasks were a million
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        assert lines(app) == ["[stage 1]", "[stage 2]", "[stage 3]", "[stage 4]"]
        await pilot.press("slash", *"load", "enter")
        assert lines(app) == ["[stage 3]"]  # folded, as it was
        await pilot.press("l", "j")
        assert tree.highlighted_task == "load[1]"
        await pilot.press("escape")
        assert lines(app) == [
            "[stage 1]",
            "[stage 2]",
            "[stage 3]",
            "publish",
            "load[1]",
            "[stage 4]",
        ]
        assert tree.highlighted_task == "load[1]"


async def test_v_sorts_by_status_then_duration_then_as_declared() -> None:
    bodies = Bodies()
    bodies.fail_next["b"] = 1
    app = make_app(trio(bodies))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        assert tree.visible_tasks == ["a", "b", "c"]
        await pilot.press("v")
        assert app.order is SortOrder.STATUS
        assert tree.visible_tasks == ["b", "a", "c"]  # failed first
        assert "by status" in messages_text(app)
        await pilot.press("v")
        assert app.order is SortOrder.DURATION
        assert tree.visible_tasks == ["c", "a", "b"]  # 2.5 s, 0.4 s, 0.3 s
        await pilot.press("v")
        assert tree.visible_tasks == ["a", "b", "c"]


async def test_a_status_order_is_live() -> None:
    bodies = Bodies()
    workflow = Workflow(
        name="two",
        steps=[
            TaskStep("x", bodies.body("x")),
            TaskStep("y", bodies.body("y", gated=True)),
        ],
    )
    app = make_app(workflow)
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: "x" in session.results, "x done")
        await settle(pilot)
        await pilot.press("v")
        assert app.task_tree.visible_tasks == ["y", "x"]  # running before success
        bodies.release("y")
        await app.wait_for_run()
        await settle(pilot)
        assert app.task_tree.visible_tasks == ["x", "y"]  # both succeeded: declared


async def test_v_on_a_very_large_run_sorts_the_open_group_now_and_a_folded_one_as_it_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A million tasks cannot all be sorted in a key press: the groups open are, the
    folded ones when they open. What the operator sees is in order either way."""
    monkeypatch.setattr(task_tree, "FOLDED_FROM", 3)  # as if 6 tasks were a million
    bodies = Bodies()
    bodies.fail_next["b"] = 1
    bodies.fail_next["f"] = 1
    workflow = Workflow(
        name="two-stages",
        steps=[
            TaskStep("a", bodies.body("a")),
            TaskStep("b", bodies.body("b")),
            TaskStep("c", bodies.body("c")),
            TaskStep("d", bodies.body("d"), ["a"]),
            TaskStep("e", bodies.body("e"), ["a"]),
            TaskStep("f", bodies.body("f"), ["c"]),
        ],
    )
    app = make_app(workflow)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        assert tree.highlighted_group == "stage 1"
        await pilot.press("l")  # stage 1 open, stage 2 folded
        await pilot.press("v")
        assert app.order is SortOrder.STATUS
        await pilot.press("j")  # the open group's first row: the failed one
        assert tree.highlighted_task == "b"
        await pilot.press("j", "j", "j")  # a, c, then stage 2's header
        assert tree.highlighted_group == "stage 2"
        await pilot.press("l", "j")  # opens it: its rows in the order too
        assert tree.highlighted_task == "f"
        assert tree.visible_tasks == ["b", "a", "c", "f", "d", "e"]
        await pilot.press("v", "v")  # by duration, then as declared again
        assert app.order is SortOrder.DECLARED
        assert tree.visible_tasks == ["a", "b", "c", "d", "e", "f"]
        assert tree.highlighted_task == "f"  # the cursor kept its row


async def test_unfold_all_on_a_very_large_run_unfolds_the_next_groups_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(task_tree, "FOLDED_FROM", 3)  # as if 6 tasks were a million
    monkeypatch.setattr(task_tree, "UNFOLD_ROWS", 2)  # as if 2 rows were 10,000
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        assert tree.last_line == 3  # four folded groups
        await pilot.press("plus")  # stage 1 (2 rows) is the budget
        assert tree.last_line == 5
        assert tree.highlighted_group == "stage 1"  # the cursor kept its row
        assert "3 stay folded" in messages_text(app)
        await pilot.press("plus")  # the next ones: stage 2 (1 row), stage 3 (2 rows)
        assert tree.last_line == 8
        assert "1 stay folded" in messages_text(app)
        await pilot.press("plus")
        assert tree.last_line == 9  # every row made
        await pilot.press("minus")
        assert tree.last_line == 3


async def test_vim_keys_move_and_fold_and_the_group_pane_shows_the_group() -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        assert tree.highlighted_task == "fetch_a"
        await pilot.press("j")
        assert tree.highlighted_task == "fetch_b"
        await pilot.press("k")
        assert tree.highlighted_task == "fetch_a"
        await pilot.press("h")  # on a task: to its group
        assert tree.highlighted_group == "stage 1"
        assert app.group_pane.display and not app.detail_pane.display
        text = app.group_pane.text
        assert "2 tasks" in text and "✔ 2 success" in text
        assert "Task time" in text and "Slowest" in text and "fetch_b" in text
        await pilot.press("h")  # on a group: folds it
        node = tree.cursor_node
        assert node is not None and not node.is_expanded
        await pilot.press("l")  # unfolds
        assert node.is_expanded
        await pilot.press("l")  # into its first task
        assert tree.highlighted_task == "fetch_a"
        assert app.detail_pane.display and not app.group_pane.display
        assert app.detail_pane.task_name == "fetch_a"
        await pilot.press("l")  # on a task, l is the app's: the task's log, full screen
        assert isinstance(app.screen, LogScreen)
        await pilot.press("escape")
        assert tree.highlighted_task == "fetch_a"
        await pilot.press("G")
        assert tree.highlighted_task == "report"
        await pilot.press("g")
        assert tree.highlighted_group == "stage 1"


async def test_minus_folds_every_group_and_plus_unfolds_them() -> None:
    app = make_app(pipeline(Bodies(), gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        tree = app.task_tree
        await pilot.press("j", "j", "j")
        assert tree.highlighted_task == "merge"
        await pilot.press("minus")
        assert all(not tree.root.children[i].is_expanded for i in range(4))
        assert tree.highlighted_group == "stage 2"  # the group it was in
        assert tree.last_line == 3  # four headers
        await pilot.press("plus")
        assert all(node.is_expanded for node in tree.root.children)
        assert tree.highlighted_group == "stage 2"
        await pilot.press("minus")
        # A jump into a folded group unfolds it.
        app.filter_bar.value = ""
        await pilot.press("N")  # nothing runs
        assert tree.select_task("report")
        assert tree.root.children[3].is_expanded


async def test_the_command_palette_lists_every_action_and_runs_them() -> None:
    bodies = Bodies()
    bodies.fail_next["merge"] = 1
    app = make_app(pipeline(bodies, gate=()))
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_for_run()
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in (
            "Pause",
            "Resume",
            "Interrupt",
            "Save",
            "Load",
            "Retry",
            "Retry failed",
            "Filter",
            "Clear filter",
            "Follow",
            "Next failed",
            "Next running",
            "Sort",
            "Fold all",
            "Unfold all",
            "Timeline",
            "Log",
            "Help",
            "Quit",
            "Details",
            "Back",
        ):
            assert title in titles, title
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"next failed")
        await pilot.pause(0.3)  # the palette searches in a worker
        await pilot.press("enter")
        await until(pilot, lambda: app.task_tree.highlighted_task == "merge", "the jump to merge")
        # A command that does not apply now says why.
        await app.run_command("pause", app)
        assert "Nothing runs to pause" in messages_text(app)


async def test_a_very_large_run_opens_folded_and_makes_rows_when_a_group_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(task_tree, "FOLDED_FROM", 3)  # as if 6 tasks were a million
    bodies = Bodies()
    app = make_app(pipeline(bodies, gate=("merge",)))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        await settle(pilot)
        tree = app.task_tree
        assert tree.last_line == 3  # four group headers, no task rows made
        assert tree.highlighted_group == "stage 1"
        assert tree.row_label("fetch_a") is None
        assert tree.shown_count == 6 and len(tree.visible_tasks) == 6
        assert "1/2" not in group_text(app, "stage 1") and "2/2" in group_text(app, "stage 1")
        await pilot.press("l")  # opens the group: its rows are made
        assert tree.row_label("fetch_a") is not None
        assert tree.last_line == 5
        await pilot.press("N")  # a jump into a folded group opens it
        assert tree.highlighted_task == "merge"
        # A live filter over folded groups keeps counting.
        await pilot.press("minus")
        await pilot.press("slash", *"success", "enter")
        assert count_text(app) == "2 of 6"
        bodies.release("merge")
        await app.wait_for_run()
        await settle(pilot)
        assert count_text(app) == "6 of 6"
        assert tree.visible_tasks == ["fetch_a", "fetch_b", "merge", "publish", "load[1]", "report"]
        await pilot.press("plus")
        assert tree.last_line == 9  # every row made
        assert tree.row_label("report") is not None
