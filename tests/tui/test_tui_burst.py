"""A burst of short tasks under the dashboard: repaints wait while events stream faster
than anyone reads them, and the screen still ends on the whole, true state."""

from __future__ import annotations

from typing import Any

from flow_tui import TaskStep, Workflow
from flow_tui.session import RunState, Session
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.status import RowStatus

from .helpers import SIZE, row_text, run_state, settle, until

TASKS = 3000


def burst() -> Workflow:
    async def noop(ctx: Any) -> None:
        return None

    steps: list[TaskStep[Any]] = [
        TaskStep(f"t{i:04d}", noop, [f"t{i - 100:04d}"] if i >= 100 else []) for i in range(TASKS)
    ]
    return Workflow("burst", steps, concurrency=64)


async def test_a_burst_is_painted_whole_once_it_ends() -> None:
    # The real clock: the repaint timer and the put-off repaints as in `flow-tui launch`.
    app = DashboardApp(Session.open(burst()), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        deferred: list[bool] = []
        original = app._streaming

        def watched() -> bool:
            answer = original()
            deferred.append(answer)
            return answer

        app._streaming = watched  # type: ignore[method-assign]
        app.start_run()
        await until(pilot, lambda: run_state(app.session) is RunState.FINISHED, "the burst")
        await until(pilot, lambda: app.view.counts()[RowStatus.SUCCESS] == TASKS, "repaint")
        await settle(pilot)
        assert app.view.counts()[RowStatus.PENDING] == 0
        assert "✔" in row_text(app, "t0000")
        assert f"{TASKS} tasks" in str(app.run_header.render())
        # Whatever was put off while it streamed, the last look was not put off.
        assert deferred and deferred[-1] is False
