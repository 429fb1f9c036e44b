"""--continue: what one command run every night does with the checkpoint the last run left.

No checkpoint: a fresh run. An unfinished run (failed, cancelled, interrupted, killed):
resume it. A finished run: move its file aside (its finish time in the name, the last
`keep` kept) and start fresh. A file that cannot be read is an error, never moved.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from flow_tui.core.errors import FlowError
from flow_tui.core.model import TaskStatus
from flow_tui.core.snapshot import Snapshot


class ContinueError(FlowError):
    """The checkpoint left by the last run cannot be moved aside."""


@dataclass(frozen=True, slots=True)
class ContinueDecision:
    notice: str  # what happened, in one line for the operator
    resume: Snapshot | None = None  # the checkpoint to resume, as read (else a fresh run)


def check_continue_options(
    continue_run: bool, checkpoint: Path | None, resume: Path | None
) -> None:
    """--continue needs --checkpoint and decides about --resume itself (ContinueError)."""
    if not continue_run:
        return
    if checkpoint is None:
        raise ContinueError("--continue needs --checkpoint PATH: the run to continue")
    if resume is not None:
        raise ContinueError(
            "--continue decides by itself whether to resume --checkpoint; drop --resume"
        )


def decide_continue(path: Path, keep: int) -> ContinueDecision:
    """Decide, and move a finished checkpoint aside (the one side effect)."""
    decision, snapshot = continue_decision(path)
    if decision == "fresh":
        return ContinueDecision(f"no checkpoint at {path}: starting a fresh run")
    assert snapshot is not None
    if decision == "resume":
        return ContinueDecision(f"resuming the unfinished run in {path}", snapshot)
    moved = move_aside(path, snapshot, keep)
    return ContinueDecision(
        f"the run in {path} finished at {snapshot.created_at:%Y-%m-%d %H:%M:%S} UTC: "
        f"moved it to {moved.name}, starting a fresh run",
    )


def continue_decision(path: Path) -> tuple[str, Snapshot | None]:
    """What --continue does with checkpoint `path`: "fresh" (there is none), "resume"
    (it holds an unfinished run: failed, cancelled, interrupted or killed) or "finished"
    (every task it lists succeeded: moved aside, then a fresh run). A file that cannot be
    read is an error (SnapshotError), never moved or overwritten."""
    if not path.exists():
        return "fresh", None
    snapshot = Snapshot.load(path)
    results = snapshot.results
    done = (
        bool(snapshot.tasks)
        and not snapshot.interrupted
        and all(
            (r := results.get(n)) is not None and r.status is TaskStatus.SUCCESS
            for n in snapshot.tasks
        )
    )
    return ("finished" if done else "resume"), snapshot


def move_aside(path: Path, snapshot: Snapshot, keep: int) -> Path:
    """Rename a finished checkpoint to `STEM-YYYYmmdd-HHMMSS.SUFFIX` (its finish time) and
    delete the oldest such files beyond `keep`. Returns the new path."""
    stamp = snapshot.created_at.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}-{stamp}-{n}{path.suffix}")
    try:
        path.replace(target)
    except OSError as exc:
        raise ContinueError(
            f"cannot move the finished checkpoint {path} aside: {exc.strerror or exc}"
        ) from exc
    pattern = f"{path.stem}-[0-9]*-[0-9]*{path.suffix}"
    old = sorted(path.parent.glob(pattern), key=lambda p: p.name)
    for stale in old[: max(0, len(old) - keep)]:
        with contextlib.suppress(OSError):
            stale.unlink()
    return target
