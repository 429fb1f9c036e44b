"""Test workflows whose bodies print, write to stderr and log, for the output capture.

`workflow`: two async bodies and two sync bodies (in worker threads), each pair printing
at the same time: a barrier makes each body write half a line, wait for the other, then
finish it, so lines of two tasks are interleaved write by write. `levels` logs at every
level and writes to stderr. `failing` raises ValueError from a nested call.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any

from flow_tui import TaskStep, Workflow

log = logging.getLogger("chatty")

_async_barrier: list[asyncio.Barrier] = []
_thread_barrier = threading.Barrier(2, timeout=20)


def _barrier() -> asyncio.Barrier:
    if not _async_barrier:  # made on the run's loop
        _async_barrier.append(asyncio.Barrier(2))
    return _async_barrier[0]


def async_talker(name: str) -> Any:
    async def run(ctx: object) -> str:
        for i in range(3):
            print(f"{name} says", end=" ")
            await _barrier().wait()  # the other task writes its half line now
            print(f"line {i}", flush=True)
            await _barrier().wait()
        log.info("%s logged at info", name)
        return name

    return run


def sync_talker(name: str) -> Any:
    def run(ctx: object) -> str:
        for i in range(3):
            sys.stdout.write(f"{name} says ")
            _thread_barrier.wait()
            sys.stdout.write(f"line {i}\n")
            _thread_barrier.wait()
        log.warning("%s logged at warning", name)
        return name

    return run


async def quiet(ctx: object) -> None:
    return None


workflow = Workflow(
    name="chatty",
    concurrency=4,
    steps=[
        TaskStep("async_a", async_talker("async_a")),
        TaskStep("async_b", async_talker("async_b")),
        TaskStep("sync_a", sync_talker("sync_a")),
        TaskStep("sync_b", sync_talker("sync_b")),
        TaskStep("quiet", quiet, ["async_a", "async_b", "sync_a", "sync_b"]),
    ],
)


async def leveled(ctx: object) -> None:
    log.debug("debug from leveled")
    log.info("info from leveled")
    log.warning("warning from leveled")
    log.error("error from leveled")
    print("stdout from leveled")
    sys.stderr.write("stderr from leveled\n")


def sync_leveled(ctx: object) -> None:
    log.error("error from sync_leveled")
    print("stdout from sync_leveled")
    print("stderr from sync_leveled", file=sys.stderr)


levels = Workflow(
    name="levels",
    steps=[TaskStep("leveled", leveled), TaskStep("sync_leveled", sync_leveled)],
)


def parse(payload: str) -> None:
    raise ValueError(f"bad {payload}")


async def ingest(ctx: object) -> None:
    print("ingesting")
    parse("payload")


failing = Workflow(
    name="failing",
    steps=[TaskStep("ingest", ingest), TaskStep("after", quiet, ["ingest"])],
)
