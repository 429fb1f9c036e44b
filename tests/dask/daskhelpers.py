"""Shared by the Dask tests (each imports its fixtures from here): skipped as a whole
without the dask extra; one LocalCluster of two worker processes per test module (started
once, closed at the module's end); what the scheduler holds, the workers' pids, bodies
held until their test ends."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

import dask
from distributed import Client, LocalCluster

from flow_tui.dask import DaskInvoker


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # As DaskInvoker starts its own: Dask never reruns a task after a worker loss.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def invoker(cluster: LocalCluster) -> AsyncIterator[DaskInvoker]:
    client = await Client(cluster.scheduler_address, asynchronous=True)
    invoker = DaskInvoker(client=client)
    try:
        await invoker.start()
        yield invoker
    finally:
        await invoker.close()
        await client.close()


@pytest.fixture
def release(tmp_path: Path) -> Iterator[Path]:
    """A file the test's held bodies wait for (daskhelpers.hold): written at the test's
    end, so that no body of it keeps a worker busy for the next test."""
    path = tmp_path / "release"
    try:
        yield path
    finally:
        path.write_text("go\n")


async def scheduler_keys(client: Any) -> list[str]:
    """Every task key the scheduler holds now."""

    def keys(dask_scheduler: Any) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks]

    result: list[str] = await client.run_on_scheduler(keys)
    return result


async def worker_pids(client: Any) -> set[int]:
    pids: dict[str, int] = await client.run(os.getpid)
    return set(pids.values())


async def wait_for_file(path: Path) -> str:
    """The text of `path` once a body has written it (the test's timeout bounds this)."""
    while True:
        if path.exists():
            text = path.read_text()
            if text.endswith("\n"):
                return text
        await asyncio.sleep(0.02)


def hold(release: Path) -> None:
    """In a sync body: wait until the test writes `release` (Dask cannot stop a running
    body; this one ends when its test does)."""
    import time

    while not release.exists():
        time.sleep(0.02)


async def hold_async(release: Path) -> None:
    while not release.exists():
        await asyncio.sleep(0.02)
