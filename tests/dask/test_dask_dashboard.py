"""The dashboard with `--executor dask`: flow-tui starts its own LocalCluster under
Textual, whose capture of stderr a worker process cannot inherit (the cluster of this
module: the one flow-tui starts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import daskhelpers  # noqa: F401  (skips the module without the dask extra)
import pytest

from flow_tui import TaskStep, Workflow
from flow_tui.session import RunState, Session, SessionOptions
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.clock import FrozenClock


async def test_the_dashboard_starts_its_own_local_cluster_and_runs_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOW_TUI_RUNTIME_DIR", str(tmp_path))
    workflow = Workflow("on-local-dask", [TaskStep("one", lambda ctx: os.getpid())])
    session = Session.open(workflow, SessionOptions(executor="dask", dask_workers=1))
    app = DashboardApp(session, clock=FrozenClock())
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(1500):
            if session.state.is_over:
                break
            await pilot.pause(0.02)
        messages: Any = app.run_messages
        assert session.state is RunState.FINISHED, str(messages.render())
        assert app.run_header.executor.startswith("⚙ dask LocalCluster · 1 workers")
        await pilot.press("q")
    assert session.results["one"].data != os.getpid()  # ran in a worker process
