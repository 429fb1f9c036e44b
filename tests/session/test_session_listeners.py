"""Session listeners: a listener that subscribes while a run is going still hears it; a
deferred listener hears every task start and end, in order, when they are delivered."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from flow_tui import TaskStep, Workflow
from flow_tui.core.events import Event, TaskEnd, TaskStart
from flow_tui.core.model import TaskStatus
from flow_tui.core.snapshot import Snapshot
from flow_tui.session import Session, SessionOptions
from flow_tui.snapshot.journal import journal_path


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


# -- deferred listeners (subscribe(deferred=True)): what the dashboard uses -------------


def _heard(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.name, getattr(getattr(e, "step", None), "name", None)) for e in events]


class Held:
    """A run of the mixed workflow (below) held while `b` runs: its session, what the
    listeners given heard, and `b`'s start as its body saw it."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.running = asyncio.Event()
        self.body_started: dict[str, float] = {}
        self.session = Session.open(_mixed(self.gate, self.body_started, self.running))
        self.run: asyncio.Task[Any] | None = None

    async def start(self) -> Session:
        self.run = asyncio.create_task(self.session.run())
        await self.running.wait()  # b's body is running
        return self.session

    async def finish(self) -> None:
        assert self.run is not None
        self.gate.set()
        await self.run
        await self.session.close()


def _mixed(
    gate: asyncio.Event, body_started: dict[str, float], running: asyncio.Event | None = None
) -> Workflow:
    """a, then b (held by `gate`) and c (fails) side by side, d after c (skipped), e
    after b: plain successes, a failure, a skip and a task that waits."""

    async def plain(ctx: object) -> None:
        return None

    async def held(ctx: object) -> None:
        body_started["b"] = time.time()
        if running is not None:
            running.set()
        await gate.wait()

    def fails(ctx: object) -> None:
        raise RuntimeError("boom")

    return Workflow(
        name="mixed",
        steps=[
            TaskStep("a", plain),
            TaskStep("b", held, ["a"]),
            TaskStep("c", fails, ["a"]),
            TaskStep("d", plain, ["c"]),
            TaskStep("e", plain, ["b"]),
        ],
        concurrency=1,
    )


async def _reference_order() -> list[tuple[str, str | None]]:
    """What a listener called inline hears of the same workflow."""
    gate = asyncio.Event()
    gate.set()
    session = Session.open(_mixed(gate, {}))
    heard: list[Event] = []
    session.subscribe(heard.append)
    await session.run()
    await session.close()
    return _heard(heard)


async def test_a_deferred_listener_hears_the_starts_and_ends_at_deliver_in_order() -> None:
    held = Held()
    heard: list[Event] = []
    held.session.subscribe(heard.append, deferred=True)
    session = await held.start()
    assert session.undelivered >= 2  # a's start and end, b's start: recorded, not sent
    assert ("task_start", "b") not in _heard(heard)
    session.deliver()
    assert session.undelivered == 0
    assert _heard(heard)[-1] == ("task_start", "b")
    start_b = heard[-1]
    assert isinstance(start_b, TaskStart) and start_b.started is not None
    assert start_b.started <= held.body_started["b"] <= time.time()  # when it ran, not heard
    await held.finish()
    # Each event once, in the order an inline listener hears them: the failure and the
    # skip (sent at once) came after the recorded starts and ends before them.
    assert _heard(heard) == await _reference_order()


async def test_an_inline_listener_joining_mid_run_loses_and_repeats_nothing() -> None:
    held = Held()
    deferred: list[Event] = []
    held.session.subscribe(deferred.append, deferred=True)
    session = await held.start()
    inline: list[Event] = []
    session.subscribe(inline.append)  # from now on every event is sent at once
    assert session.undelivered == 0
    await held.finish()
    assert _heard(deferred) == await _reference_order()
    assert _heard(inline)[0] == ("task_end", "b")


async def test_a_checkpoint_journals_each_end_at_once_while_only_deferred_listeners_listen(
    tmp_path: Path,
) -> None:
    """The checkpoint listens to task ends by name: it hears them as they happen (the
    journal has `a` durable before the non-idempotent `b` runs), not at deliver()."""
    gate = asyncio.Event()
    running = asyncio.Event()

    async def plain(ctx: object) -> int:
        return 1

    async def charge(ctx: object) -> None:
        running.set()
        await gate.wait()

    steps = [TaskStep("a", plain), TaskStep("b", charge, ["a"], idempotent=False)]
    checkpoint = tmp_path / "run.json"
    session = Session.open(Workflow(name="pay", steps=steps), SessionOptions(checkpoint=checkpoint))
    heard: list[Event] = []
    session.subscribe(heard.append, deferred=True)
    run = asyncio.create_task(session.run())
    await running.wait()
    assert session.undelivered >= 2  # the deferred listener has not heard of `a` yet ...
    # ... its end is durable: what a resume after a crash now would load
    assert journal_path(checkpoint).exists()
    assert statuses(Snapshot.load(checkpoint)) == {"a": TaskStatus.SUCCESS}
    gate.set()
    await run
    await session.close()
    assert _heard(heard).count(("task_end", "a")) == 1
    assert statuses(Snapshot.load(checkpoint)) == {
        "a": TaskStatus.SUCCESS,
        "b": TaskStatus.SUCCESS,
    }


def statuses(snapshot: Snapshot) -> dict[str, TaskStatus]:
    return {name: result.status for name, result in snapshot.results.items()}
