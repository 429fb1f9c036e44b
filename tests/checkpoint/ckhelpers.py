"""Shared pieces of the checkpoint tests: small workflows, results, and file helpers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flow_tui import Snapshot, TaskResult, TaskStatus, TaskStep, Workflow
from flow_tui.core.model import ClockMetrics
from flow_tui.snapshot.journal import (
    JournalWriter,
    encode_starts,
    journal_path,
)
from flow_tui.snapshot.render import CheckpointRenderer


def success() -> TaskResult:
    return TaskResult(TaskStatus.SUCCESS, metrics=ClockMetrics.from_clock(time.time(), 0.002, 1))


def name_json(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def start_record(name: str) -> bytes:
    return encode_starts([name])


def end_record(name: str, result: TaskResult) -> bytes:
    return CheckpointRenderer(".json").end_record(name, result)


def write_checkpoint(
    path: Path, records: list[bytes], snapshot: Snapshot | None = None, cid: str = "c0ffee"
) -> Path:
    """A checkpoint file (with checkpoint_id `cid`) and a journal of `records` beside it."""
    snap = snapshot or Snapshot(workflow="w", tasks=["a", "b", "c", "d"])
    snap.checkpoint_id = cid
    snap.save(path)
    writer = JournalWriter(path, cid)
    writer.start()
    if records:
        writer.write(b"".join(records))
    writer.close()
    return journal_path(path)


def journal_records(checkpoint: Path) -> bytes:
    """The bytes of the records in the journal of `checkpoint`: without the zeros the
    writer lays ahead of them."""
    return journal_path(checkpoint).read_bytes().rstrip(b"\0")


def statuses(snapshot: Snapshot) -> dict[str, str]:
    return {n: r.status.value for n, r in snapshot.results.items()}


def workflow(steps: list[TaskStep[Any]], name: str = "w", concurrency: int | None = 4) -> Workflow:
    return Workflow(name=name, steps=steps, concurrency=concurrency)


def step(
    name: str,
    body: Callable[[Any], Any] | None = None,
    deps: tuple[str, ...] = (),
    **kw: Any,
) -> TaskStep[Any]:
    async def noop(ctx: Any) -> None:
        return None

    return TaskStep(name=name, run=body or noop, dependencies=deps, **kw)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `predicate` on the loop until it holds (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


def dir_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


WORKFLOWS = Path(__file__).with_name("workflows")
FLOW_TUI = Path(sys.executable).with_name("flow-tui")


def flow_tui(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `flow-tui` command to its end."""
    return subprocess.run(
        [str(FLOW_TUI), *map(str, args)],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def resume_headless(
    workflow: str | Path, checkpoint: Path, *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The normal way to continue a run: `launch WF --headless --resume CK --checkpoint CK`."""
    return flow_tui(
        "launch",
        workflow,
        "--headless",
        "--resume",
        checkpoint,
        "--checkpoint",
        checkpoint,
        cwd=cwd,
        env=env,
    )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FLOW_TUI_DEBUG", None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env
