"""Parts of the dashboard on their own: the filter bar's pause before filtering a large
workflow, the banner of a run that is over, the quit question, the default snapshot name."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from textual import on
from textual.app import App, ComposeResult

from flow_tui.session import RunState
from flow_tui.tui.dialogs import ConfirmQuit
from flow_tui.tui.dialogs.paths import default_snapshot_path
from flow_tui.tui.filter_bar import FILTER_AT_ONCE, FILTER_DELAY, FilterBar
from flow_tui.tui.status import RowStatus
from flow_tui.tui.summary import run_summary

from .helpers import until


class FilterApp(App[None]):
    """A filter bar alone, recording the queries it asks to apply."""

    def __init__(self, tasks: int) -> None:
        super().__init__()
        self.tasks = tasks
        self.queries: list[str] = []

    def compose(self) -> ComposeResult:
        yield FilterBar(tasks=self.tasks)

    def on_mount(self) -> None:
        bar = self.query_one(FilterBar)
        bar.show()
        bar.focus()

    @on(FilterBar.QueryChanged)
    def _query(self, event: FilterBar.QueryChanged) -> None:
        self.queries.append(event.query)


async def test_the_filter_of_a_small_workflow_applies_on_every_keystroke() -> None:
    app = FilterApp(tasks=FILTER_AT_ONCE)
    async with app.run_test() as pilot:
        await pilot.press("a", "b", "space")
        assert app.queries == ["a", "ab", "ab"]  # stripped


async def test_the_filter_of_a_large_workflow_waits_for_a_pause_in_typing() -> None:
    app = FilterApp(tasks=FILTER_AT_ONCE + 1)
    async with app.run_test() as pilot:
        bar = app.query_one(FilterBar)
        assert bar.delay == FILTER_DELAY
        bar.value = "a"
        bar.value = "ab"  # typed before the pause: only "ab" applies
        await until(pilot, lambda: app.queries, "the query")
        await pilot.pause(FILTER_DELAY * 2)
        assert app.queries == ["ab"]

        bar.delay = 60.0  # a query that would wait: enter applies it at once
        bar.value = "abc"
        await pilot.pause()
        assert app.queries == ["ab"]
        await pilot.press("enter")
        assert app.queries == ["ab", "abc"]
        await pilot.press("enter")  # nothing waits any more: nothing new applies
        assert app.queries == ["ab", "abc"]


def tally(**counts: int) -> dict[RowStatus, int]:
    out = dict.fromkeys(RowStatus, 0)
    out.update({RowStatus(status): n for status, n in counts.items()})
    return out


def test_the_banner_of_a_run_that_is_over() -> None:
    finished = run_summary(RunState.FINISHED, tally(success=6), 75.0, [])
    assert finished.plain == "✔ Run finished: 6 tasks succeeded in 1:15. q quits."

    failed = run_summary(
        RunState.FAILED, tally(success=2, failure=4, skipped=1), 3725.0, ["a", "b", "c", "d"]
    )
    assert failed.plain == (
        "✘ Run failed after 1:02:05: 2 succeeded, 4 failed (a, b, c ...), 1 skipped. "
        "r retries the highlighted task, R every failed one; s saves a snapshot."
    )

    cancelled = run_summary(RunState.CANCELLED, tally(success=2, cancelled=3), 9.0, [])
    assert cancelled.plain == (
        "✘ Run was cancelled after 0:09: 2 succeeded, 3 cancelled. o loads; s saves a snapshot."
    )


def test_the_quit_question_says_what_quitting_leaves() -> None:
    during = ConfirmQuit.during_run(RunState.PAUSING, 1, 3, "ck.toml")
    assert during.situation == "The run is pausing: 1 task(s) running, 3 not run yet. Quit anyway?"
    assert "the checkpoint ck.toml keeps everything that finished" in during.hint()
    assert not during.over

    after = ConfirmQuit.after_run(
        RunState.CANCELLED, {"failure": 0, "skipped": 2, "cancelled": 1}, None
    )
    assert after.situation == (
        "The run was cancelled: 2 skipped, 1 cancelled. Quitting exits with code 1. Quit?"
    )
    assert "Save a snapshot to retry the failed tasks later" in after.hint()
    assert after.over


def test_the_default_snapshot_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    now = datetime(2025, 1, 2, 3, 4, 5)
    checkpoints = tmp_path / "state"  # the checkpoint's folder, not the module's
    assert default_snapshot_path(checkpoints, "nightly etl/v2", now) == (
        "state/nightly-etl-v2-20250102-030405.toml"
    )
    assert default_snapshot_path(None, "[]", now) == "workflow-20250102-030405.toml"
