"""GroupCommit: ends held until a commit covers them, each slot given back exactly once."""

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


async def test_a_waiting_worker_gives_its_own_slot_back_when_woken() -> None:
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    held_when_woken: list[int] = []

    async def worker(ready: list[int]) -> None:
        await commit.wait(ready)
        held_when_woken.append(commit.held)

    workers = [asyncio.ensure_future(worker([i])) for i in range(3)]
    commit.hold([9])  # and one end whose worker ended
    await turns()
    assert commit.held == 4
    gate.release()
    await asyncio.gather(*workers)
    # The commit gave back only the slot of the end with no worker; each woken worker
    # gave back its own, one after the other.
    assert sorted(held_when_woken) == [0, 1, 2]
    assert owner.dispatches == 0  # woken workers take the ready tasks first
    assert sorted(owner.queued) == [0, 1, 2, 9]
    await turns()
    assert not commit.busy and owner.idles == 1


async def test_a_waiting_worker_cancelled_gives_its_slot_back_once() -> None:
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    waiter = asyncio.ensure_future(commit.wait([5]))
    await turns()
    assert commit.held == 1 and gate.started == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert commit.held == 0  # given back by the cancelled wait itself
    gate.release()
    await turns()
    assert commit.held == 0  # and not a second time by the commit
    assert owner.queued == [5]  # its dependents are still released by the commit
    assert not commit.busy


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
    # held == ends not given back: every hold() until the commit that covers it ends,
    # every wait() until it returns or is cancelled.
    rng = random.Random(seed)
    gate = Gate()
    owner = Owner(gate)
    commit = owner.commit
    outstanding_holds: list[int] = []  # gate.started count when each hold() was made
    waiters: list[asyncio.Future[None]] = []
    for step in range(60):
        action = rng.choice(["hold", "wait", "wait", "release", "cancel", "turn"])
        if action == "hold":
            outstanding_holds.append(gate.started)
            commit.hold([step])
        elif action == "wait":
            waiters.append(asyncio.ensure_future(commit.wait([step])))
        elif action == "release" and gate.started > gate.done:
            gate.release()
        elif action == "cancel":
            live = [w for w in waiters if not w.done()]
            if live:
                rng.choice(live).cancel()
        await turns(rng.randint(1, 3))
        # A hold made while commit k ran (started == k) is covered by commit k + 1.
        uncovered = [k for k in outstanding_holds if k + 1 > gate.done]
        live = [w for w in waiters if not w.done()]
        assert commit.held == len(uncovered) + len(live), f"step {step}: {action}"
    while commit.busy:
        if gate.started > gate.done:
            gate.release()
        await turns()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert commit.held == 0
    assert sorted(owner.queued) == sorted(set(owner.queued))  # each released once
