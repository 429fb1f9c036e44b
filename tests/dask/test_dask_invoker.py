"""DaskInvoker on a real LocalCluster (two worker processes): bodies on workers, upstream,
local=True, context copies, pickling failures, missing modules, logs, policies,
cancellation, lost workers."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import daskhelpers
import pytest
from daskhelpers import hold, hold_async, scheduler_keys, wait_for_file, worker_pids
from distributed import Client, LocalCluster

from flow_tui import (
    LoopPolicy,
    RetryPolicy,
    TaskResult,
    TaskRunner,
    TaskRunnerBuilder,
    TaskStatus,
    TaskStep,
    upstream,
)
from flow_tui.capture import TaskOutputCapture
from flow_tui.core.graph import build_graph
from flow_tui.core.resume import plan_resume
from flow_tui.dask import DaskInvoker
from flow_tui.dask.invoker import MARKER_ROOT

# The module's fixtures (a LocalCluster for the module, an invoker per test).
cluster = daskhelpers.cluster
invoker = daskhelpers.invoker
release = daskhelpers.release


def runner(invoker: DaskInvoker, context: Any = None) -> TaskRunner[Any]:
    built: TaskRunner[Any] = TaskRunnerBuilder(context).with_invoker(invoker).build()
    return built


async def test_sync_and_async_bodies_run_on_workers_and_local_ones_here(
    invoker: DaskInvoker,
) -> None:
    async def extract(ctx: Any) -> list[int]:
        return [os.getpid(), 1, 2]

    def transform(ctx: Any) -> dict[str, Any]:
        rows = upstream("extract")
        return {"pid": os.getpid(), "sum": sum(rows[1:])}

    steps: list[TaskStep[Any]] = [
        TaskStep("extract", extract),
        TaskStep("transform", transform, dependencies=["extract"]),
        TaskStep("here", lambda ctx: os.getpid(), dependencies=["transform"], local=True),
    ]
    results = await runner(invoker).execute(steps)
    assert invoker.client is not None
    pids = await worker_pids(invoker.client)
    assert results["extract"].data[0] in pids
    assert results["transform"].data["pid"] in pids
    assert results["transform"].data["sum"] == 3
    assert results["here"].data == os.getpid()


async def test_context_changes_on_a_worker_stay_there_local_ones_do_not(
    invoker: DaskInvoker,
) -> None:
    def remote(ctx: dict[str, Any]) -> int:
        ctx["seen"] = "worker"
        return len(ctx)

    def here(ctx: dict[str, Any]) -> None:
        ctx["seen_here"] = True

    context: dict[str, Any] = {"a": 1}
    steps: list[TaskStep[Any]] = [
        TaskStep("remote", remote),
        TaskStep("here", here, local=True),
    ]
    results = await runner(invoker, context).execute(steps)
    assert results["remote"].data == 2  # its copy had the change
    assert context == {"a": 1, "seen_here": True}


async def test_upstream_of_a_task_that_is_not_a_dependency_fails_clearly(
    invoker: DaskInvoker,
) -> None:
    steps: list[TaskStep[Any]] = [
        TaskStep("a", lambda ctx: 1),
        TaskStep("b", lambda ctx: upstream("a")),
    ]
    result = (await runner(invoker).execute(steps))["b"]
    assert result.status is TaskStatus.FAILURE
    assert result.error is not None
    assert result.error.startswith("UpstreamError: task 'b' asked upstream('a')")


async def test_an_unpicklable_context_fails_the_task_naming_it_and_the_type(
    invoker: DaskInvoker,
) -> None:
    result = (
        await runner(invoker, {"lock": threading.Lock()}).execute([TaskStep("send", lambda ctx: 1)])
    )["send"]
    assert result.status is TaskStatus.FAILURE
    assert result.error is not None
    assert result.error.startswith("task 'send': its context (dict) cannot be pickled")
    assert "_thread.lock" in result.error
    assert result.traceback is None  # one sentence, no traceback wall


async def test_an_unpicklable_result_fails_the_task_naming_it_and_the_type(
    invoker: DaskInvoker,
) -> None:
    result = (await runner(invoker).execute([TaskStep("lock", lambda ctx: threading.Lock())]))[
        "lock"
    ]
    assert result.status is TaskStatus.FAILURE
    assert result.error is not None
    assert result.error.startswith("task 'lock': its result (lock) cannot be pickled")


async def test_a_module_missing_on_the_workers_fails_the_task_naming_it(
    invoker: DaskInvoker, tmp_path: Path
) -> None:
    # A package importable here but not on the workers (their sys.path was set at spawn).
    package = tmp_path / "only_here_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("class Payload:\n    value = 7\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import only_here_pkg  # type: ignore[import-not-found]

        payload = only_here_pkg.Payload()
        result = (await runner(invoker, payload).execute([TaskStep("use", lambda ctx: ctx.value)]))[
            "use"
        ]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("only_here_pkg", None)
    assert result.status is TaskStatus.FAILURE
    assert result.error is not None
    assert result.error.startswith(
        "task 'use': module 'only_here_pkg' is not installed on Dask worker tcp://"
    )


async def test_a_body_that_raises_fails_with_its_exception_and_traceback(
    invoker: DaskInvoker,
) -> None:
    def broken(ctx: Any) -> None:
        raise ValueError("bad payload")

    result = (await runner(invoker).execute([TaskStep("broken", broken)]))["broken"]
    assert result.status is TaskStatus.FAILURE
    assert result.error == "ValueError: bad payload"
    assert result.traceback is not None and "in broken" in result.traceback


async def test_what_a_body_prints_and_logs_on_a_worker_becomes_its_log_lines(
    invoker: DaskInvoker,
) -> None:
    def chatty(ctx: Any) -> int:
        print("hello from", "the worker")
        logging.getLogger("etl").warning("careful: %d rows", 3)
        return 1

    async def quiet_async(ctx: Any) -> int:
        print("async line")
        return 2

    capture = TaskOutputCapture()
    capture.install(asyncio.get_running_loop())
    try:
        await runner(invoker).execute([TaskStep("chatty", chatty), TaskStep("async", quiet_async)])
    finally:
        capture.uninstall()
    lines = capture.task_lines("chatty")
    assert any(line.endswith("stdout  hello from the worker") for line in lines), lines
    assert any("WARNING etl: careful: 3 rows" in line for line in lines), lines
    assert any(line.endswith("stdout  async line") for line in capture.task_lines("async"))


async def test_retries_loops_conditions_and_priorities_behave_as_locally(
    invoker: DaskInvoker, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts"

    def flaky(ctx: Any) -> str:
        with attempts.open("a") as f:
            f.write("x")
        if len(attempts.read_text()) < 3:
            raise RuntimeError("not yet")
        return "third time"

    def count(ctx: Any) -> int:
        return 1

    steps: list[TaskStep[Any]] = [
        TaskStep("flaky", flaky, retry=RetryPolicy(attempts=3, delay=0.01, backoff="exponential")),
        TaskStep("looped", count, loop=LoopPolicy(until=lambda ctx, r: True, max_iterations=3)),
        TaskStep("never", count, condition=lambda ctx: False),
    ]
    results = await runner(invoker).execute(steps)
    assert results["flaky"].data == "third time"
    assert results["flaky"].metrics is not None and results["flaky"].metrics.attempts == 3
    assert results["looped"].status is TaskStatus.SUCCESS
    assert results["never"].status is TaskStatus.SKIPPED


async def test_the_concurrency_limit_caps_tasks_in_flight_on_the_cluster(
    invoker: DaskInvoker,
) -> None:
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, len(invoker._in_flight))
            await asyncio.sleep(0.001)

    def sleepy(ctx: Any) -> None:
        import time

        time.sleep(0.02)

    steps: list[TaskStep[Any]] = [TaskStep(f"t{i}", sleepy) for i in range(12)]
    watcher = asyncio.ensure_future(watch())
    try:
        results = await runner(invoker).execute(steps, concurrency=2)
    finally:
        watcher.cancel()
    assert all(r.ok for r in results.values())
    assert most == 2


async def test_a_timeout_cancels_the_dask_future_and_leaves_nothing_on_the_scheduler(
    invoker: DaskInvoker, release: Path
) -> None:
    async def slow(ctx: Any) -> None:
        await hold_async(release)

    def slow_sync(ctx: Any) -> None:
        hold(release)

    steps: list[TaskStep[Any]] = [
        TaskStep("slow", slow, timeout=0.5),
        TaskStep("slow_sync", slow_sync, timeout=0.5),
    ]
    results = await runner(invoker).execute(steps)
    assert results["slow"].message == "timed out after 0.5s"
    assert results["slow_sync"].message == "timed out after 0.5s"
    assert invoker.client is not None
    assert await scheduler_keys(invoker.client) == []


async def test_an_interrupting_pause_and_a_cancel_cancel_the_futures(
    invoker: DaskInvoker, tmp_path: Path, release: Path
) -> None:
    started = tmp_path / "started"

    async def slow(ctx: Any) -> None:
        started.write_text(f"{os.getpid()}\n")
        await hold_async(release)

    built = runner(invoker)
    run = asyncio.ensure_future(built.execute([TaskStep("slow", slow)]))
    await wait_for_file(started)
    built.pause(interrupt=True)
    assert invoker.client is not None
    while built.running:
        await asyncio.sleep(0.02)
    assert await scheduler_keys(invoker.client) == []
    built.cancel()
    results = await run
    assert results["slow"].status is TaskStatus.CANCELLED
    assert await scheduler_keys(invoker.client) == []


async def _kill_worker_running(path: Path) -> None:
    pid = int((await wait_for_file(path)).strip())
    os.kill(pid, signal.SIGKILL)


async def test_a_lost_worker_fails_an_idempotent_task_and_its_retry_runs_it_again(
    invoker: DaskInvoker, tmp_path: Path, release: Path
) -> None:
    first = tmp_path / "first"

    def once_killed(ctx: Any) -> str:
        if not first.exists():
            first.write_text(f"{os.getpid()}\n")
            hold(release)
        return "second attempt"

    retries: list[TaskResult] = []
    built = runner(invoker)
    built.events.on("task_retry", lambda e: retries.append(e.result))
    steps: list[TaskStep[Any]] = [TaskStep("ingest", once_killed, retry=RetryPolicy(attempts=1))]
    run = asyncio.ensure_future(built.execute(steps))
    await _kill_worker_running(first)
    results = await run
    assert results["ingest"].data == "second attempt"
    assert [r.error for r in retries] == [
        "worker lost: the Dask worker running task 'ingest' died mid-body"
    ]


async def test_a_lost_worker_never_reruns_a_non_idempotent_task_it_ends_interrupted(
    invoker: DaskInvoker, tmp_path: Path, release: Path
) -> None:
    calls = tmp_path / "calls"

    def charge(ctx: Any) -> None:
        with calls.open("a") as f:
            f.write(f"{os.getpid()}\n")
        hold(release)

    steps: list[TaskStep[Any]] = [
        TaskStep("charge", charge, idempotent=False, retry=RetryPolicy(attempts=2)),
        TaskStep("receipt", lambda ctx: 1, dependencies=["charge"]),
    ]
    built = runner(invoker)
    run = asyncio.ensure_future(built.execute(steps))
    await _kill_worker_running(calls)
    results = await run
    assert results["charge"].status is TaskStatus.CANCELLED
    assert results["charge"].message is not None
    assert results["charge"].message.startswith("worker lost:")
    assert results["receipt"].status is TaskStatus.SKIPPED
    assert len(calls.read_text().splitlines()) == 1  # never run a second time
    snapshot = built.snapshot()
    assert snapshot.interrupted == ["charge"]
    assert plan_resume(snapshot, build_graph(steps)).needs_consent == ["charge"]


@pytest.mark.parametrize("claim_handler", [True, False], ids=["claim-handler", "metadata"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_call_whose_started_marker_is_set_does_not_run_its_body(
    invoker: DaskInvoker, tmp_path: Path, claim_handler: bool, is_async: bool
) -> None:
    """What a call that Dask reschedules after a worker loss meets: its marker is there.
    Both ways of setting it: the scheduler's one-round-trip handler, plain metadata."""
    import cloudpickle

    from flow_tui.dask.worker import run_async, run_sync

    calls = tmp_path / "calls"

    def charge(ctx: Any) -> int:
        with calls.open("a") as f:
            f.write("charged\n")
        return 7

    async def charge_async(ctx: Any) -> int:
        return charge(ctx)

    packed = invoker._payload(TaskStep("charge", charge_async if is_async else charge), None)
    guard = (claim_handler, (MARKER_ROOT, invoker._id, f"charge-{claim_handler}-{is_async}"))
    invoker._markers = True  # its markers go when it closes
    client = invoker.client
    assert client is not None
    assert invoker._claim_handler  # installed at start (flow-tui is on this scheduler)
    fn = run_async if is_async else run_sync
    first = cloudpickle.loads(await client.submit(fn, packed, guard, pure=False))
    again = cloudpickle.loads(await client.submit(fn, packed, guard, pure=False))
    assert first[0] == "ok" and cloudpickle.loads(first[1]) == 7
    assert again[0] == "started"
    assert calls.read_text() == "charged\n"  # never run a second time


def test_invoker_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="workers must be at least 1"):
        DaskInvoker(workers=0)


async def test_the_dashboard_header_names_the_cluster_the_bodies_run_on(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flow_tui import Workflow
    from flow_tui.session import RunState, Session, SessionOptions
    from flow_tui.tui.app import DashboardApp
    from flow_tui.tui.clock import FrozenClock

    monkeypatch.setenv("FLOW_TUI_RUNTIME_DIR", str(tmp_path))
    # The lost-worker tests before this one killed workers: their nannies restart them.
    async with Client(cluster.scheduler_address, asynchronous=True) as client:
        await client.wait_for_workers(2, timeout=30)
    workflow = Workflow("on-dask", [TaskStep("one", lambda ctx: os.getpid())])
    options = SessionOptions(dask_address=cluster.scheduler_address)
    session = Session.open(workflow, options)
    app = DashboardApp(session, clock=FrozenClock())
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(500):
            if session.state is RunState.FINISHED:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        header = app.run_header
        assert header.executor == (f"⚙ dask external · 2 workers · {cluster.scheduler_address}"), (
            header.executor
        )
        assert header.executor in str(header.render())
        await pilot.press("q")
    assert session.results["one"].data != os.getpid()  # ran on a worker
