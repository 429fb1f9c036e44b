"""Group commit: task ends made durable in batches before anything builds on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class CommitBarrier(Protocol):
    """Makes durable everything recorded so far (by event listeners).

    The executor awaits `commit()` after a batch of task ends and before their slots or
    dependents are released, and before the body of a non-idempotent task runs. One call
    must cover every event delivered before it was made (group commit).
    """

    async def commit(self) -> None: ...


class GroupCommit:
    """The executor's side of a CommitBarrier: one commit covers every end before it.

    An ended task keeps its concurrency slot, and the tasks it made ready wait, until a
    barrier commit that began after its end has completed: `hold` records the end. One
    commit loop runs while ends are held; each round commits every end recorded so far,
    gives their slots back, `queue`s the tasks they made ready and calls `dispatch` to
    fill the free slots. A worker whose task ended and that finds no free slot (or no
    ready task) `park`s: it waits, holding no slot, until the executor wakes it
    (`wake_one`) to take a free slot, or lets it end (`release_parked`).

    Invariant: `held` is the number of ended tasks whose slots are not given back yet:
    `hold` adds 1, and the commit round that covers an end (the first to begin after
    it) subtracts it once, when that round completes, whether the commit succeeded or
    raised. So `held` is 0 exactly when every end is committed, and the executor may
    finish only then (`busy`). A parked worker holds nothing: woken, it takes a slot
    only if one is free.

    A commit does not start while a worker is in a voluntary yield (`yielding()`): that
    worker goes on with more tasks right after, and the commit then covers its ends
    too, so a worker that runs many tasks without suspending does not cut the batches.
    """

    def __init__(
        self,
        barrier: CommitBarrier | None,
        *,
        queue: Callable[[list[int]], None],
        dispatch: Callable[[], None],
        failed: Callable[[], None],
        idle: Callable[[], None],
        yielding: Callable[[], bool] = lambda: False,
    ) -> None:
        """`queue(ready)` puts tasks a commit released on the ready heap; `dispatch()`
        fills free slots; `failed()` is called when a commit raised (those ends are not
        durable: the executor pauses); `idle()` when the commit loop stops; `yielding()`
        tells whether a worker is in a voluntary yield. Without a barrier nothing is
        ever held (`held` stays 0)."""
        self.barrier = barrier
        self.held = 0  # slots of ended tasks not given back yet (see the invariant)
        self.committing = False  # the commit loop runs
        self._ready: list[int] = []  # tasks the held ends made ready
        self._parked: list[asyncio.Future[bool]] = []  # workers waiting for a slot
        self._queue = queue
        self._dispatch = dispatch
        self._failed = failed
        self._idle = idle
        self._yielding = yielding

    @property
    def busy(self) -> bool:
        """Ends are still held or being committed: the run cannot be over yet."""
        return bool(self.held or self.committing)

    @property
    def parked(self) -> int:
        """Workers parked, waiting for a slot."""
        return sum(not worker.done() for worker in self._parked)

    def hold(self, ready: list[int]) -> None:
        """An end: its slot, and `ready`, wait for a commit."""
        self.held += 1
        self._ready.extend(ready)
        if not self.committing:
            self.committing = True
            asyncio.get_running_loop().create_task(self._commit_loop())

    async def park(self) -> bool:
        """Wait, holding no slot, until woken: True to take a free slot, False to end.
        A cancellation of the worker passes through (it is no longer parked)."""
        parked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._parked.append(parked)
        try:
            return await parked
        finally:
            if parked.cancelled() and parked in self._parked:
                self._parked.remove(parked)  # the worker was cancelled while parked

    def wake_one(self) -> bool:
        """Wake the worker parked last to take a slot; False when none is parked."""
        parked = self._parked
        while parked:
            worker = parked.pop()
            if not worker.done():  # else cancelled, and not yet out of the list
                worker.set_result(True)
                return True
        return False

    def release_parked(self) -> None:
        """Let every parked worker end (the run is over)."""
        parked, self._parked = self._parked, []
        for worker in parked:
            if not worker.done():
                worker.set_result(False)

    async def _commit_loop(self) -> None:
        barrier = self.barrier
        assert barrier is not None, "hold() needs a barrier"
        try:
            while self.held:
                while self._yielding():
                    await asyncio.sleep(0)  # the yielding worker goes on first
                covered = self.held
                ready = self._ready
                self._ready = []
                try:
                    await barrier.commit()
                except Exception:
                    # Those ends are not durable: start nothing on top of them (the
                    # barrier reported why); the executor pauses.
                    self._failed()
                finally:
                    self.held -= covered
                    self._queue(ready)
                self._dispatch()
        finally:
            self.committing = False
            self._idle()
