"""Session resume paths that both front ends share: loading a snapshot into a live
session (the dashboard's `o`), consent for tasks held by an interrupting pause, and who
marked a task done."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flow_tui import TaskStep, Workflow
from flow_tui.core.events import TaskEnd
from flow_tui.core.resume import InterruptedTaskError
from flow_tui.session import Session, SessionOptions


def counter_workflow(calls: list[str]) -> Workflow:
    """`count` adds one to ctx["n"]; the saved context is ctx["n"]."""

    async def count(ctx: dict[str, Any]) -> int:
        calls.append("count")
        ctx["n"] += 1
        return int(ctx["n"])

    async def report(ctx: dict[str, Any]) -> int:
        calls.append("report")
        return int(ctx["n"])

    return Workflow(
        name="counter",
        steps=[TaskStep("count", count), TaskStep("report", report, ["count"])],
        context=lambda: {"n": 0},
        save_context=lambda ctx: {"n": ctx["n"]},
        restore_context=lambda data, ctx: ctx.update(data),
    )


async def test_loading_a_snapshot_restores_its_context_like_resume(tmp_path: Path) -> None:
    calls: list[str] = []
    workflow = counter_workflow(calls)
    first = Session(workflow)
    await first.run()
    saved = first.save(tmp_path / "after-one.toml")  # n == 1, every task succeeded
    # The session goes on in memory: n grows to 2 in a second run of `count`.
    session = Session(workflow)
    await session.run()
    session.context["n"] = 41  # what the in-memory context says now
    loaded = session.preview(saved)
    # Make `count` run again from the snapshot, to see which context it starts from.
    loaded.snapshot.results.pop("count")
    loaded.snapshot.results.pop("report")
    await session.apply(loaded)
    session.resume()
    results = await session.run()
    # A fresh context from the factory, then restore_context(n=1): count makes it 2, not 42.
    assert results["report"].data == 2
    await session.close()


async def test_resume_asks_for_consent_for_a_task_held_by_an_interrupting_pause() -> None:
    started = asyncio.Event()
    calls: list[str] = []

    async def migrate(ctx: object) -> str:
        calls.append("migrate")
        started.set()
        await asyncio.sleep(30)
        return "migrated"

    async def after(ctx: object) -> str:
        calls.append("after")
        return "ok"

    workflow = Workflow(
        name="deploy",
        steps=[
            TaskStep("migrate", migrate, idempotent=False),
            TaskStep("after", after, ["migrate"]),
        ],
    )
    session = Session(workflow)
    cut_off = asyncio.Event()
    session.subscribe(lambda e: cut_off.set() if isinstance(e, TaskEnd) else None)
    run = asyncio.create_task(session.run())
    await started.wait()
    session.pause(interrupt=True)
    await cut_off.wait()  # the cut-off body unwound and ended cancelled
    assert session.needs_consent == ["migrate"]
    with pytest.raises(InterruptedTaskError):
        session.resume()
    assert session.runner is not None and session.runner.is_paused  # nothing changed
    assert calls == ["migrate"]
    # The operator says it completed: recorded as their word, and the run goes on.
    session.consent(rerun_interrupted=False, mark_done=["migrate"])
    session.resume()
    results = await run
    assert calls == ["migrate", "after"]
    assert results["migrate"].message == "marked done by the operator"
    await session.close()


async def test_mark_done_flag_names_only_interrupted_tasks(tmp_path: Path) -> None:
    calls: list[str] = []
    workflow = counter_workflow(calls)
    session = Session(workflow)
    await session.run()
    path = session.save(tmp_path / "done.json")
    options = SessionOptions(resume=path, mark_done=("count",))
    with pytest.raises(Exception) as info:
        Session.open(workflow, options)
    assert "count" in str(info.value) and "interrupted" in str(info.value)


async def test_the_snapshots_of_a_session_own_the_task_list_and_versions() -> None:
    """Before a run and after it, every snapshot takes the graph's names and versions
    (made once per graph) as copies of its own: changing one changes no other."""
    steps = [TaskStep("a", _noop, version="1"), TaskStep("b", _noop, dependencies=["a"])]
    session = Session.open(Workflow(name="w", steps=steps))

    def each_its_own() -> None:
        first = session.snapshot()
        assert first.tasks == ["a", "b"] and first.versions == {"a": "1", "b": None}
        first.tasks.append("x")
        first.versions["a"] = "changed"
        again = session.snapshot()
        assert again.tasks == ["a", "b"] and again.versions == {"a": "1", "b": None}

    each_its_own()  # before the run
    await session.run()
    each_its_own()  # after it
    await session.close()


async def _noop(ctx: Any) -> None:
    return None
