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
    barrier commit that began after its end has completed. Ends are recorded by `hold`
    (the worker ends) or `wait` (the worker waits for the commit, then goes on with the
    next task in the same slot). One commit loop runs while ends are uncommitted; each
    round commits every end recorded so far, then `queue`s the tasks they made ready and
    wakes the workers waiting on it (or, if none waits, calls `dispatch` to fill the
    freed slots).

    Invariant: `held` counts the slots of ended tasks not given back yet, and each end
    gives its slot back exactly once. `hold` and `wait` add 1. A waiting worker gives its
    own back when its wait ends (woken, or cancelled), so the slot passes straight to its
    next task and no dispatch can take it meanwhile; the commit loop gives back the
    others: of `covered` ends, `covered - waiting`, where `waiting` counts the workers
    waiting on that very commit. So `held` is 0 whenever every end is committed and
    every waiting worker has woken, and the executor may finish only then (`busy`).
    """

    def __init__(
        self,
        barrier: CommitBarrier | None,
        *,
        queue: Callable[[list[int]], None],
        dispatch: Callable[[], None],
        failed: Callable[[], None],
        idle: Callable[[], None],
    ) -> None:
        """`queue(ready)` puts tasks a commit released on the ready heap; `dispatch()`
        fills free slots; `failed()` is called when a commit raised (those ends are not
        durable: the executor pauses); `idle()` when the commit loop stops. Without a
        barrier nothing is ever held (`held` stays 0)."""
        self.barrier = barrier
        self.held = 0  # slots of ended tasks not given back yet (see the invariant)
        self.committing = False  # the commit loop runs
        self._uncommitted = 0  # ends no commit covers yet
        self._waiting = 0  # of those, the ones whose worker waits in `wait`
        self._next: asyncio.Future[None] | None = None  # what those workers await
        self._ready: list[int] = []  # tasks those ends made ready
        self._queue = queue
        self._dispatch = dispatch
        self._failed = failed
        self._idle = idle

    @property
    def busy(self) -> bool:
        """Ends are still held or being committed: the run cannot be over yet."""
        return bool(self.held or self.committing)

    def hold(self, ready: list[int]) -> None:
        """An end whose worker ends: its slot, and `ready`, wait for a commit."""
        self.held += 1
        self._uncommitted += 1
        self._ready.extend(ready)
        if not self.committing:
            self.committing = True
            asyncio.get_running_loop().create_task(self._commit_loop())

    async def wait(self, ready: list[int]) -> None:
        """An end whose worker goes on: hold it, and return once a commit covers it (the
        slot is then the worker's again). A cancellation of the worker passes through."""
        self.hold(ready)
        self._waiting += 1
        committed = self._next
        if committed is None:
            committed = self._next = asyncio.get_running_loop().create_future()
        try:
            await committed
        finally:
            self.held -= 1  # this end's slot, given back by its own worker

    async def _commit_loop(self) -> None:
        barrier = self.barrier
        assert barrier is not None, "hold() needs a barrier"
        try:
            while self._uncommitted:
                covered = self._uncommitted
                waiting = self._waiting
                committed = self._next
                ready = self._ready
                self._ready = []
                self._waiting = 0
                self._next = None
                try:
                    await barrier.commit()
                except Exception:
                    # Those ends are not durable: start nothing on top of them (the
                    # barrier reported why); the executor pauses.
                    self._failed()
                finally:
                    self._uncommitted -= covered
                    self.held -= covered - waiting  # the waiting ones give back their own
                    self._queue(ready)
                    if committed is not None and not committed.done():
                        committed.set_result(None)
                if not waiting:
                    self._dispatch()  # else the woken workers take the ready tasks first
        finally:
            self.committing = False
            self._idle()
