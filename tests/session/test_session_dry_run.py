"""A dry run's results ran nothing, so the session refuses to save them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow_tui import SnapshotError, TaskStep, Workflow
from flow_tui.session import Session, SessionOptions


async def test_a_dry_run_cannot_be_saved(tmp_path: Path) -> None:
    calls: list[str] = []

    async def body(ctx: object) -> None:
        calls.append("ran")

    workflow = Workflow(name="dry", steps=[TaskStep("a", body)])
    session = Session.open(workflow, SessionOptions(dry_run=True))
    await session.run()
    assert calls == []
    target = tmp_path / "dry.toml"
    with pytest.raises(SnapshotError, match="dry run"):
        session.save(target)
    assert not target.exists()
    await session.close()
