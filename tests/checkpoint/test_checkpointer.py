"""The checkpoint of a run, in process: what is durable when, compaction, close, recovery.

Task bodies read the checkpoint from disk (Snapshot.load, as a resume after a crash at
that instant would) to see what was durable before they started.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from ckhelpers import dir_listing, journal_records, statuses, step, success, wait_for, workflow

from flow_tui import Snapshot, TaskStatus
from flow_tui import checkpoint as checkpoint_module
from flow_tui.core.events import Event
from flow_tui.session import CheckpointFailed, Session, SessionOptions
from flow_tui.snapshot.journal import journal_path


@pytest.fixture(params=["json", "toml"])
def ck(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"ck.{request.param}"


def successes(path: Path) -> set[str]:
    return {n for n, r in Snapshot.load(path).results.items() if r.status is TaskStatus.SUCCESS}


async def test_the_checkpoint_exists_and_loads_before_the_first_task(ck: Path) -> None:
    gate = asyncio.Event()

    async def first(ctx: Any) -> None:
        await gate.wait()

    session = Session.open(
        workflow([step("a", first), step("b", deps=("a",))]), SessionOptions(checkpoint=ck)
    )
    loaded = Snapshot.load(ck)
    assert loaded.results == {} and loaded.tasks == ["a", "b"]
    run = asyncio.create_task(session.run())
    await wait_for(lambda: session.running == ["a"])
    assert Snapshot.load(ck).results == {}
    gate.set()
    await run
    await session.close()
    assert statuses(Snapshot.load(ck)) == {"a": "success", "b": "success"}


async def test_an_end_is_durable_before_its_dependents_start(ck: Path) -> None:
    seen: dict[str, set[str]] = {}

    def body(name: str) -> Any:
        async def run(ctx: Any) -> None:
            seen[name] = successes(ck)
            await asyncio.sleep(0)

        return run

    deps = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c"), "e": ("d",), "f": ("a", "e")}
    steps = [step(n, body(n), d) for n, d in deps.items()]
    session = Session.open(workflow(steps, concurrency=None), SessionOptions(checkpoint=ck))
    await session.run()
    await session.close()
    for name, before in seen.items():
        assert set(deps[name]) <= before, f"{name} started before {deps[name]} were durable"


async def test_a_slot_is_reused_only_after_the_end_that_freed_it_is_durable(ck: Path) -> None:
    order: list[str] = []
    seen: dict[str, set[str]] = {}

    def body(name: str) -> Any:
        async def run(ctx: Any) -> None:
            seen[name] = successes(ck)
            order.append(name)
            await asyncio.sleep(0)

        return run

    names = [f"t{i:02d}" for i in range(30)]
    session = Session.open(
        workflow([step(n, body(n)) for n in names], concurrency=3), SessionOptions(checkpoint=ck)
    )
    await session.run()
    await session.close()
    for k, name in enumerate(order):
        # Independent tasks, 3 slots: when the k-th starts, at most 2 others may be in
        # flight, so at least k - 2 of those that started before it are durable.
        assert len(seen[name] & set(order[:k])) >= k - 2, (name, k, seen[name])


async def test_a_non_idempotent_start_is_durable_before_its_body_runs(ck: Path) -> None:
    seen: list[Snapshot] = []

    async def charge(ctx: Any) -> None:
        seen.append(Snapshot.load(ck))

    steps = [step("a"), step("charge", charge, ("a",), idempotent=False), step("c")]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck))
    await session.run()
    await session.close()
    assert "charge" in seen[0].interrupted
    assert "charge" not in seen[0].results
    final = Snapshot.load(ck)
    assert final.interrupted == [] and statuses(final)["charge"] == "success"


async def test_a_crash_mid_run_leaves_a_checkpoint_with_the_running_tasks_interrupted(
    ck: Path, tmp_path: Path
) -> None:
    """The files as they are mid-run are what a crash at that instant would leave."""
    gate = asyncio.Event()
    in_body: list[str] = []

    def slow(name: str) -> Any:
        async def body(ctx: Any) -> None:
            in_body.append(name)
            await gate.wait()

        return body

    steps = [
        step("a"),
        step("b", deps=("a",)),
        step("pay", slow("pay"), ("a",), idempotent=False),
        step("wait", slow("wait"), ("a",)),
        step("after", deps=("pay",)),
    ]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck))
    run = asyncio.create_task(session.run())
    # Both bodies have begun (a task dispatched but not yet begun is not interrupted).
    await wait_for(lambda: sorted(in_body) == ["pay", "wait"] and "b" in session.results)
    await session.checkpointer.commit()  # type: ignore[union-attr]
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for path in (ck, journal_path(ck)):
        (crashed / path.name).write_bytes(path.read_bytes())
    gate.set()
    await run
    await session.close()
    loaded = Snapshot.load(crashed / ck.name)
    assert statuses(loaded) == {"a": "success", "b": "success"}
    assert sorted(loaded.interrupted) == ["pay", "wait"]
    # Resuming from it asks before re-running the non-idempotent task.
    plan = Session(workflow(steps)).plan_for(loaded)
    assert plan.needs_consent == ["pay"]
    assert plan.rerun == {"pay": "interrupted", "wait": "interrupted"}


async def test_close_folds_the_journal_into_the_file_and_leaves_nothing_else(
    ck: Path,
) -> None:
    steps = [step(f"t{i}") for i in range(50)]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck))
    await session.run()
    assert journal_path(ck).exists()
    assert len(Snapshot.load(ck).results) == 50  # durable before the fold
    await session.close()
    assert dir_listing(ck.parent) == [ck.name]
    text = ck.read_text()
    assert "checkpoint_id" not in text
    final = Snapshot.load(ck)
    assert set(statuses(final).values()) == {"success"} and len(final.results) == 50
    assert final.status == "finished"


async def test_compaction_keeps_the_journal_short_and_every_instant_loadable(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Plain successes journal in ~40 bytes and render in ~150: a ratio under 1 to compact
    # several times in 200 tasks.
    monkeypatch.setattr(checkpoint_module, "MIN_COMPACT_BYTES", 1024)
    monkeypatch.setattr(checkpoint_module, "COMPACT_RATIO", 0.25)
    seen: list[int] = []

    async def body(ctx: Any) -> None:
        seen.append(len(Snapshot.load(ck).results))

    steps = [step(f"t{i:03d}", body, (f"t{i - 1:03d}",) if i % 10 else ()) for i in range(200)]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck))
    await session.run()
    checkpointer = session.checkpointer
    assert checkpointer is not None
    assert checkpointer.writes >= 5  # the open, and several compactions
    assert len(journal_records(ck)) <= 2 * max(2048, ck.stat().st_size) + 4096
    await session.close()
    assert len(Snapshot.load(ck).results) == 200
    assert seen == sorted(seen)  # what is durable only grows, across every rewrite
    assert dir_listing(ck.parent) == [ck.name]


async def test_stale_temp_files_of_dead_writers_are_removed_when_the_checkpoint_opens(
    ck: Path,
) -> None:
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()  # reaped: its pid names no process
    folder = ck.parent
    stale = [
        folder / f".{ck.name}.{dead_pid.pid}.k3j2h1.tmp",
        folder / f".{ck.name}.journal.{dead_pid.pid}.a1b2c3.tmp",
    ]
    live = folder / f".{ck.name}.{os.getpid()}.zzzzzz.tmp"
    other = folder / f".notes.txt.{dead_pid.pid}.q.tmp"
    for path in [*stale, live, other]:
        path.write_bytes(b"half a file")
    session = Session.open(workflow([step("a")]), SessionOptions(checkpoint=ck))
    await session.run()
    await session.close()
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists()  # a live writer's, and another file's


async def test_an_interrupted_task_stays_interrupted_until_it_really_runs_again(
    ck: Path, tmp_path: Path
) -> None:
    """Consent covers one re-run: if the resumed run stops before the task starts, the
    checkpoint still says it was interrupted, and the next resume asks again."""
    gate = asyncio.Event()

    async def slow(ctx: Any) -> None:
        await gate.wait()

    steps = [step("a", slow), step("pay", deps=("a",), idempotent=False)]
    saved = tmp_path / "saved.json"
    Snapshot(workflow="w", tasks=["a", "pay"], interrupted=["a", "pay"]).save(saved)
    ck.write_bytes(b"")
    ck.unlink()
    opts = SessionOptions(checkpoint=ck, resume=saved, rerun_interrupted=True)
    session = Session.open(workflow(steps), opts)
    run = asyncio.create_task(session.run())
    await wait_for(lambda: session.running == ["a"])
    await session.checkpointer.compact()  # type: ignore[union-attr]
    mid = Snapshot.load(ck)
    assert "pay" in mid.interrupted
    assert Session(workflow(steps)).plan_for(mid).needs_consent == ["pay"]
    gate.set()
    await run
    await session.close()
    final = Snapshot.load(ck)
    assert final.interrupted == [] and statuses(final) == {"a": "success", "pay": "success"}


async def test_a_pre_run_checkpoint_keeps_the_versions_its_results_were_made_by(
    ck: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.json"
    Snapshot(
        results={"a": success(), "b": success()},
        workflow="w",
        tasks=["a", "b"],
        versions={"a": "1", "b": None},
    ).save(saved)
    steps = [step("a", version="2"), step("b", deps=("a",))]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck, resume=saved))
    # A crash now, before anything ran: the checkpoint must not claim a ran at version 2.
    plan = Session(workflow(steps)).plan_for(Snapshot.load(ck))
    assert plan.rerun == {"a": "version changed", "b": "upstream version changed"}
    await session.run()
    await session.close()
    assert Snapshot.load(ck).versions["a"] == "2"


async def run_chain(ck: Path, body: Any, n: int = 30) -> None:
    """A chain of `n` tasks running `body`, one at a time, checkpointed to `ck`: one
    journal batch per task. Every task succeeds."""
    steps = [step(f"t{i}", body, deps=(f"t{i - 1}",) if i else ()) for i in range(n)]
    session = Session.open(workflow(steps, concurrency=1), SessionOptions(checkpoint=ck))
    await session.run()
    await session.close()
    assert all(r.ok for r in session.results.values())


def _no_space(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


async def _journal_fails_when_a_ends(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Session, asyncio.Task[Any], list[Event], Snapshot]:
    """Task a, then 20 tasks after it (concurrency 2); the journal's syncs fail from
    the moment a ends. Returns once the failure was reported, with the checkpoint as it
    stood before."""
    events: list[Event] = []
    gate = asyncio.Event()

    async def held(ctx: Any) -> None:
        await gate.wait()

    steps = [step("a", held), *(step(f"t{i}", deps=("a",)) for i in range(20))]
    session = Session.open(workflow(steps, concurrency=2), SessionOptions(checkpoint=ck))
    session.subscribe(events.append)
    run = asyncio.create_task(session.run())
    await wait_for(lambda: session.running == ["a"])
    before = Snapshot.load(ck)
    monkeypatch.setattr(os, "fdatasync", _no_space)
    gate.set()
    await wait_for(lambda: any(isinstance(e, CheckpointFailed) for e in events))
    return session, run, events, before


async def test_a_journal_failure_reports_once_stops_dispatching_and_keeps_the_file(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, run, events, before = await _journal_fails_when_a_ends(ck, monkeypatch)
    await wait_for(lambda: not session.running)
    failed = [e for e in events if isinstance(e, CheckpointFailed)]
    assert len(failed) == 1
    assert str(journal_path(ck)) in str(failed[0].error)
    assert "No space left on device" in str(failed[0].error)
    # "a" ended, but that end is not durable: nothing was started on top of it.
    assert session.runner is not None and session.runner.is_paused
    assert [n for n in session.results if n.startswith("t")] == []
    assert Snapshot.load(ck).results == before.results  # the durable state, unchanged
    session.cancel()
    await run
    monkeypatch.undo()
    await session.close()


async def test_after_a_failure_a_resume_rewrites_the_checkpoint_and_carries_on(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's path: the run pauses on a checkpoint failure; once the disk has
    room again, resuming makes the state durable by a full rewrite and goes on."""
    session, run, _, _ = await _journal_fails_when_a_ends(ck, monkeypatch)
    monkeypatch.undo()
    session.resume()
    await run
    checkpointer = session.checkpointer
    assert checkpointer is not None and checkpointer.error is None
    assert len(successes(ck)) == 21  # durable before the close
    await session.close()
    assert len(successes(ck)) == 21


async def test_session_save_failure_says_which_file_and_why(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    target = ck.with_name("saved" + ck.suffix)
    session = Session(workflow([step("a")]))
    session.save(target)
    before = target.read_bytes()

    def denied(src: str, dst: str) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(Exception) as failure:
        session.save(target)
    assert type(failure.value).__name__ == "SnapshotError"
    assert str(target) in str(failure.value) and "Permission denied" in str(failure.value)
    assert target.read_bytes() == before
    assert dir_listing(target.parent) == [target.name]


async def test_a_non_idempotent_body_does_not_run_when_its_start_cannot_be_made_durable(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []
    syncs: list[int] = []
    real = os.fdatasync

    def second_fails(fd: int) -> None:
        syncs.append(fd)
        if len(syncs) >= 2:  # the first batch holds the end of "a"; the second, "pay"'s start
            _no_space(fd)
        real(fd)

    async def pay(ctx: Any) -> None:
        ran.append("pay")

    steps = [step("a"), step("pay", pay, ("a",), idempotent=False)]
    session = Session.open(workflow(steps), SessionOptions(checkpoint=ck))
    events: list[Event] = []
    session.subscribe(events.append)
    monkeypatch.setattr(os, "fdatasync", second_fails)
    run = asyncio.create_task(session.run())
    await wait_for(lambda: any(isinstance(e, CheckpointFailed) for e in events))
    session.cancel()
    await run
    monkeypatch.undo()
    await session.close()
    assert ran == []
    final = Snapshot.load(ck)
    assert statuses(final)["a"] == "success"
    assert final.results["pay"].status is not TaskStatus.SUCCESS
    assert "pay" not in final.interrupted  # its body never ran: no consent needed


async def test_journal_syncs_move_to_the_loop_thread_while_fast_and_back_when_slow(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each task runs alone (concurrency 1), so each end is one commit; the thread that
    # syncs the journal is recorded per commit.
    loop_thread = threading.get_ident()
    synced_on: list[bool] = []  # True: synced on the event loop's thread
    slow = False
    recording = False  # from the first task on (opening the checkpoint syncs too)
    # A disk whose syncs take no time, then 40 ms: against a 20 ms threshold, a busy
    # machine delaying a thread for a few ms cannot make a fast sync look slow.
    monkeypatch.setattr(checkpoint_module, "INLINE_SYNC_SECONDS", 0.02)

    def recording_fdatasync(fd: int) -> None:
        if slow:
            time.sleep(checkpoint_module.INLINE_SYNC_SECONDS * 2)  # a slow disk
        if recording:
            synced_on.append(threading.get_ident() == loop_thread)

    monkeypatch.setattr(os, "fdatasync", recording_fdatasync)
    slow_from = 12

    async def body(ctx: Any) -> None:
        nonlocal slow, recording
        recording = True
        slow = len(synced_on) >= slow_from

    await run_chain(ck, body)
    fast = checkpoint_module.FAST_SYNCS_BEFORE_INLINE
    # Fast syncs: the first ones in a thread, then on the loop's thread.
    assert synced_on[:fast] == [False] * fast
    assert all(synced_on[fast + 1 : slow_from])
    # Slow syncs: one more on the loop's thread, then threads, with a try on the loop's
    # thread after PROBE_FIRST batches, then after twice as many, and so on.
    after = synced_on[slow_from:-1]  # the last sync is the close, always in a thread
    tries = [i for i, inline in enumerate(after) if inline]
    expected, gap = [0], checkpoint_module.PROBE_FIRST
    while expected[-1] + gap + 1 < len(after):
        expected.append(expected[-1] + gap + 1)
        gap *= 2
    assert tries == expected
    assert len(tries) >= 3


async def test_syncs_that_only_look_slow_in_a_thread_come_back_to_the_loop_thread(
    ck: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fast disk, but a sync timed in a thread waits for the GIL (here: sleeps) and looks
    # slow: one slow sync on the loop's thread must not keep every later one in threads.
    loop_thread = threading.get_ident()
    synced_on: list[bool] = []  # True: synced on the event loop's thread
    hiccup_at = 10  # the one slow sync on the loop's thread
    monkeypatch.setattr(checkpoint_module, "INLINE_SYNC_SECONDS", 0.02)
    recording = False

    def recording_fdatasync(fd: int) -> None:
        inline = threading.get_ident() == loop_thread
        if not inline or len(synced_on) == hiccup_at:
            time.sleep(checkpoint_module.INLINE_SYNC_SECONDS * 2)
        if recording:
            synced_on.append(inline)

    monkeypatch.setattr(os, "fdatasync", recording_fdatasync)

    async def body(ctx: Any) -> None:
        nonlocal recording
        recording = True

    await run_chain(ck, body)
    probe = checkpoint_module.PROBE_FIRST
    first = checkpoint_module.FAST_SYNCS_BEFORE_INLINE
    # The first ones in threads (all looking slow), then a try on the loop's thread, fast:
    # from there on the loop's thread, but for PROBE_FIRST after the hiccup.
    assert synced_on[:first] == [False] * first
    assert all(synced_on[first : hiccup_at + 1])
    assert synced_on[hiccup_at + 1 : hiccup_at + 1 + probe] == [False] * probe
    assert all(synced_on[hiccup_at + 1 + probe : -1])
