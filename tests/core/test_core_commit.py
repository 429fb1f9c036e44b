"""GroupCommit: ends held until a commit covers them, each slot given back exactly once;
parked workers hold no slot."""

from __future__ import annotations

import asyncio
import random

import pytest

from flow_tui.core import GroupCommit


class Gate:
    """A barrier whose commits end when the test says so (or fail)."""

    def __init__(self) -> None:
        self.started = 0
        self.done = 0
        self.fail_next = False
        self._release: asyncio.Event | None = None

    async def commit(self) -> None:
        self.started += 1
        self._release = asyncio.Event()
        await self._release.wait()
        self.done += 1
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")

    def release(self) -> None:
        assert self._release is not None, "no commit is waiting"
        self._release.set()


class Owner:
    """What the executor gives a GroupCommit, recorded."""

    def __init__(self, gate: Gate | None) -> None:
        self.queued: list[int] = []
        self.dispatches = 0
        self.failures = 0
        self.idles = 0
        self.commit = GroupCommit(
            gate,
            queue=self.queued.extend,
            dispatch=self.dispatch,
            failed=self.failed,
            idle=self.idle,
        )

    def dispatch(self) -> None:
        self.dispatches += 1

    def failed(self) -> None:
        self.failures += 1

    def idle(self) -> None:
        self.idles += 1


async def turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_ends_keep_their_slots_and_ready_tasks_until_a_commit_covers_them() -> None:
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    commit.hold([1])
    commit.hold([2, 3])
    assert commit.held == 2 and commit.busy
    await turns()
    assert gate.started == 1
    commit.hold([4])  # after the commit began: the next one covers it
    gate.release()
    await turns()
    assert owner.queued == [1, 2, 3]
    assert commit.held == 1  # the end the first commit did not cover
    assert owner.dispatches == 1  # no worker waited: the executor fills the slots
    assert gate.started == 2
    gate.release()
    await turns()
    assert owner.queued == [1, 2, 3, 4]
    assert commit.held == 0 and not commit.busy
    assert owner.idles == 1 and owner.failures == 0


async def test_parked_workers_hold_no_slot_and_are_woken_one_at_a_time() -> None:
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    parked = [asyncio.ensure_future(commit.park()) for _ in range(3)]
    await turns()
    assert commit.parked == 3 and commit.held == 0 and not commit.busy
    assert commit.wake_one()  # the one parked last: it takes a free slot
    await turns()
    assert [p.done() for p in parked] == [False, False, True] and parked[2].result()
    assert commit.parked == 2
    commit.release_parked()  # the run is over: the others end
    assert await asyncio.gather(*parked) == [False, False, True]
    assert commit.parked == 0 and not commit.wake_one()


async def test_a_parked_worker_cancelled_is_parked_no_more() -> None:
    owner = Owner(Gate())
    commit = owner.commit
    worker = asyncio.ensure_future(commit.park())
    await turns()
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    assert commit.parked == 0 and not commit.wake_one()


async def test_no_commit_begins_while_a_worker_yields_of_its_own_accord() -> None:
    gate = Gate()
    yielding = True
    commit = GroupCommit(
        gate,
        queue=lambda ready: None,
        dispatch=lambda: None,
        failed=lambda: None,
        idle=lambda: None,
        yielding=lambda: yielding,
    )
    commit.hold([1])
    await turns()
    assert gate.started == 0  # that worker goes on with more ends for the same commit
    commit.hold([2])
    yielding = False
    await turns()
    assert gate.started == 1
    gate.release()
    await turns()
    assert commit.held == 0 and not commit.busy and gate.started == 1  # both in one


async def test_a_failed_commit_is_reported_and_still_accounts_every_slot() -> None:
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    gate.fail_next = True
    commit.hold([1])
    await turns()
    gate.release()
    await turns()
    assert owner.failures == 1
    assert commit.held == 0 and not commit.busy


async def test_without_a_barrier_nothing_is_held() -> None:
    owner = Owner(None)
    assert owner.commit.held == 0 and not owner.commit.busy


@pytest.mark.parametrize("seed", range(20))
async def test_the_invariant_holds_over_random_interleavings(seed: int) -> None:
    # held == ends whose slots are not given back: every hold() until the commit that
    # covers it (the first to begin after it) completes. Parked workers hold none.
    rng = random.Random(seed)
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    outstanding_holds: list[int] = []  # gate.started count when each hold() was made
    parked: list[asyncio.Future[bool]] = []
    for step in range(60):
        action = rng.choice(["hold", "hold", "park", "wake", "release", "cancel", "turn"])
        if action == "hold":
            outstanding_holds.append(gate.started)
            commit.hold([step])
        elif action == "park":
            parked.append(asyncio.ensure_future(commit.park()))
        elif action == "wake":
            commit.wake_one()
        elif action == "release" and gate.started > gate.done:
            gate.release()
        elif action == "cancel":
            live = [w for w in parked if not w.done()]
            if live:
                rng.choice(live).cancel()
        await turns(rng.randint(1, 3))
        # A hold made while commit k ran (started == k) is covered by commit k + 1.
        uncovered = [k for k in outstanding_holds if k + 1 > gate.done]
        assert commit.held == len(uncovered), f"step {step}: {action}"
        assert commit.parked == len([w for w in parked if not w.done()]), f"step {step}"
    while commit.busy:
        if gate.started > gate.done:
            gate.release()
        await turns()
    commit.release_parked()
    await asyncio.gather(*parked, return_exceptions=True)
    assert commit.held == 0 and commit.parked == 0
    assert sorted(owner.queued) == sorted(set(owner.queued))  # each released once
    assert len(owner.queued) == len(outstanding_holds)  # and every one of them
