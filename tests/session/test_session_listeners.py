"""Session listeners: a listener that subscribes while a run is going still hears it."""

from __future__ import annotations

import asyncio

from flow_tui import TaskStep, Workflow
from flow_tui.core.events import Event, TaskEnd, TaskStart
from flow_tui.session import Session


async def test_a_listener_subscribed_mid_run_receives_the_rest_of_its_events() -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def first(ctx: object) -> None:
        started.set()
        await gate.wait()

    async def second(ctx: object) -> None:
        return None

    workflow = Workflow(name="w", steps=[TaskStep("a", first), TaskStep("b", second, ["a"])])
    session = Session.open(workflow)
    run = asyncio.create_task(session.run())
    await started.wait()
    heard: list[Event] = []
    session.subscribe(heard.append)  # the runner was built with no listener
    gate.set()
    await run
    assert [
        (e.name, e.step.name if isinstance(e, TaskStart | TaskEnd) else None) for e in heard
    ] == [
        ("task_end", "a"),
        ("task_start", "b"),
        ("task_end", "b"),
        ("workflow_end", None),
    ]
    await session.close()
