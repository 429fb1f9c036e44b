"""Shared helpers of the dashboard tests: building apps, waiting with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widget import Widget

from flow_tui import Workflow
from flow_tui.session import RunState, Session, SessionOptions
from flow_tui.tui.app import DashboardApp
from flow_tui.tui.clock import FrozenClock

SIZE = (100, 30)


def make_app(
    workflow: Workflow,
    options: SessionOptions | None = None,
    *,
    source: Path | None = None,
    autostart: bool = True,
    grace: float = 10.0,
) -> DashboardApp:
    session = Session.open(workflow, options or SessionOptions(), source)
    return DashboardApp(session, clock=FrozenClock(), autostart=autostart, grace=grace)


async def until(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    """Poll `predicate` (letting the app process messages) until true or the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def settle(pilot: Pilot[int]) -> None:
    """Apply pending changes now and let the screen process them."""
    app = pilot.app
    assert isinstance(app, DashboardApp)
    app.flush_changes()
    await pilot.pause()


def row_text(app: DashboardApp, name: str) -> str:
    label = app.task_tree.row_label(name)
    assert label is not None, f"{name} is not shown"
    return label.plain


def footer_action(app: DashboardApp, key: str) -> str | None:
    """The binding id the footer shows (and a press would run) for `key`."""
    active = app.screen.active_bindings.get(key)
    if active is None or not active.enabled:
        return None
    return active.binding.id


def messages_text(app: DashboardApp) -> str:
    """What the message bar under the header shows."""
    return str(app.run_messages.render())


# Read through a call, not as `session.state` / `app.focused`: mypy keeps what an
# `assert session.state is RunState.PAUSED` narrowed the expression to across the awaits
# that follow, and would call a later `assert session.state is RunState.FINISHED`
# impossible.


def run_state(session: Session) -> RunState:
    """The session's state now."""
    return session.state


def focused(app: App[Any]) -> Widget | None:
    """The widget with the focus now."""
    return app.focused
