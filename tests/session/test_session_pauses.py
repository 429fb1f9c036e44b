"""The run's paused time (Session.paused_seconds): what `ps`, the headless summary and an
attached dashboard read. A pause counts from the end of the last task it let finish, as
the dashboard's own clock counts it, until the run resumes or ends."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from flow_tui import TaskStep, Workflow
from flow_tui.core.events import Event
from flow_tui.session import RunState, Session, SessionOptions


def gated_pair() -> tuple[Workflow, asyncio.Event, asyncio.Event]:
    """`slow` runs until the gate opens, then `after` runs."""
    gate = asyncio.Event()
    started = asyncio.Event()

    async def slow(ctx: object) -> None:
        started.set()
        await gate.wait()

    async def after(ctx: object) -> None:
        return None

    workflow = Workflow(
        name="pauses", steps=[TaskStep("slow", slow), TaskStep("after", after, ["slow"])]
    )
    return workflow, gate, started


def heard(session: Session, name: str) -> asyncio.Event:
    """Set when `session` tells an event called `name`."""
    told = asyncio.Event()

    def listener(event: Event) -> None:
        if event.name == name:
            told.set()

    session.subscribe(listener)
    return told


async def test_a_pause_counts_from_the_drain_to_the_resume() -> None:
    workflow, gate, started = gated_pair()
    session = Session.open(workflow)
    ended = heard(session, "task_end")
    run = asyncio.create_task(session.run())
    await started.wait()
    session.pause()
    assert session.state is RunState.PAUSING
    assert session.paused_seconds() == 0  # slow still runs: running time, not paused
    gate.set()
    await ended.wait()
    assert session.state is RunState.PAUSED
    metrics = session.results["slow"].metrics
    assert metrics is not None and metrics.finished_at is not None
    slow_end = metrics.finished_at
    first = session.paused_seconds()
    assert 0 < first <= time.time() - slow_end.timestamp()
    assert session.paused_seconds() > first  # it grows while paused

    session.resume()
    resumed = session.paused_seconds()
    await run
    assert session.state is RunState.FINISHED
    assert session.paused_seconds() == resumed  # not after the resume
    assert session.paused_seconds() < session.elapsed()
    await session.close()


async def test_a_pause_the_run_makes_itself_counts_too() -> None:
    """A failed checkpoint or commit pauses the runner itself, not through
    Session.pause: the paused time follows the runner's own pause and resume."""
    workflow, gate, started = gated_pair()
    session = Session.open(workflow)
    ended = heard(session, "task_end")
    run = asyncio.create_task(session.run())
    await started.wait()
    assert session.runner is not None
    session.runner.pause()  # what Session._checkpoint_failed does
    gate.set()
    await ended.wait()
    assert session.state is RunState.PAUSED
    first = session.paused_seconds()
    assert first > 0
    session.resume()
    resumed = session.paused_seconds()
    await run
    assert session.paused_seconds() == resumed >= first
    await session.close()


async def test_a_run_started_paused_is_paused_from_its_start_and_a_stop_ends_it() -> None:
    workflow, gate, started = gated_pair()
    gate.set()
    session = Session.open(workflow, SessionOptions(paused=True))
    began = heard(session, "workflow_start")
    run = asyncio.create_task(session.run())
    await began.wait()
    assert session.state is RunState.PAUSED
    first = session.paused_seconds()
    assert first > 0
    session.cancel()  # stopped while paused: paused until its end
    await run
    assert session.state is RunState.CANCELLED
    at_end = session.paused_seconds()
    assert at_end >= first
    assert session.paused_seconds() == at_end
    assert not started.is_set()
    await session.close()


async def test_a_retry_goes_on_counting_from_where_the_run_before_ended() -> None:
    """As the dashboard's clock: the run's time survives a retry (the wait between is
    not counted), and so does the time it spent paused."""
    failed_once: list[str] = []

    async def flaky(ctx: object) -> None:
        if not failed_once:
            failed_once.append("x")
            raise RuntimeError("first time")

    workflow = Workflow(name="retry", steps=[TaskStep("flaky", flaky)])
    session = Session.open(workflow)
    await session.run()
    assert session.state is RunState.FAILED
    first = session.elapsed()
    assert first > 0
    assert session.elapsed() == first  # ended: the wait before the retry does not count

    session.retry(["flaky"])
    await session.run()
    assert session.state is RunState.FINISHED
    assert session.started_at is not None and session.finished_at is not None
    this_run = session.finished_at - session.started_at
    assert session.elapsed() == pytest.approx(first + this_run)
    await session.close()


async def test_a_loaded_snapshot_starts_a_clock_of_its_own(tmp_path: Path) -> None:
    """As the dashboard's clock: a run loaded from a snapshot (`o`, a resume in the same
    session) counts from zero, its time and its paused time alike."""
    workflow, gate, _started = gated_pair()
    gate.set()
    session = Session.open(workflow, SessionOptions(paused=True))
    began = heard(session, "workflow_start")
    run = asyncio.create_task(session.run())
    await began.wait()
    session.cancel()  # stopped while paused: some paused time
    await run
    session.retry(["slow"])  # a second run: its time goes on from the first
    await session.run()
    assert session.paused_seconds() > 0 and session.elapsed() > 0
    path = tmp_path / "snap.json"
    session.snapshot().save(path)
    await session.apply(session.preview(path))
    assert session.elapsed() == 0
    assert session.paused_seconds() == 0
    await session.close()
