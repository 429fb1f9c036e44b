"""DaskInvoker: the TaskInvoker that calls task bodies on a Dask cluster.

Scheduling, events, snapshots, checkpoints and consent stay in the flow-tui process; only
the call of a body crosses to a worker (see `flow_tui.dask.worker` for the other side):

- the body, a copy of the context as it is at dispatch and the data of the task's
  dependencies (for `upstream()`) are pickled here with cloudpickle; the workflow's own
  modules (the body's module and the modules beside it) travel by value, so the workers
  need flow-tui and the third-party packages, not the workflow's code;
- what cannot be pickled, either way, fails that task with one sentence naming the task
  and the type; a module missing on a worker fails it naming the module;
- cancelling the awaiting coroutine (an interrupting pause, a timeout, a stop) cancels
  the Dask future; a body already running on a worker runs on (Dask cannot kill it);
- a lost worker fails the task "worker lost" (its retry policy may retry it); a task
  that is not idempotent ends interrupted instead and needs consent to run again. Dask
  never runs a call twice behind our back: a non-idempotent call that Dask reschedules
  after a worker loss finds its started-marker on the scheduler and does not run its
  body; on a scheduler that reschedules, an idempotent call fails at the first
  unexpected loss of its worker (the plugin `worker.install_claim` adds there);
- what a body prints or logs on the worker comes back with its end and is replayed here
  as the task's log lines.

Over 400 lines on purpose: the cluster's life (start, connect, close what was started),
the call of one body (pickling, the started-marker, cancellation, a lost worker) and the
scheduler-side guard installed at start are one contract with the worker side
(`flow_tui.dask.worker`); apart, each would need the others' keys and rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import uuid
import weakref
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any, cast

import cloudpickle
import dask
from distributed import Client, Future, LocalCluster

from flow_tui.core.invoke import (
    LocalInvoker,
    TaskInterrupted,
    is_async_callable,
    upstream_data,
)
from flow_tui.core.model import TaskResult, TaskStatus, TaskStep
from flow_tui.dask.worker import NO_RERUN_SUFFIX, Guard, install_claim, run_async, run_sync

log = logging.getLogger("flow_tui.dask")

#: The started-markers of one invoker live under these keys of the scheduler's metadata.
MARKER_ROOT = "flow-tui-started"
#: How long a cancelled call waits for the scheduler to let its future go (checks, s).
CANCEL_CHECKS = 100
CANCEL_CHECK_INTERVAL = 0.02


def _failure(error: str, message: str | None = None, tb: str | None = None) -> TaskResult:
    return TaskResult(TaskStatus.FAILURE, message=message, error=error, traceback=tb)


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


class DaskInvoker:
    """Calls task bodies on a Dask cluster (TaskStep(local=True) ones in this process).

    `address`: a running scheduler ("tcp://10.0.0.5:8786"); None starts a LocalCluster
    of worker processes, `workers` of them (default: one per core), one thread each.
    `client`: an asynchronous distributed Client to use as it is (not closed here).

    Started on first use (or `await start()`); `await close()` closes what it started:
    the LocalCluster and its client, or only the client of an address.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        client: Client | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if client is not None and (address is not None or workers is not None):
            raise ValueError("pass either a client, or an address / a number of workers")
        self.address = address
        self.workers = workers
        self.client: Client | None = client
        self.cluster: LocalCluster | None = None
        self._own_client = client is None
        self._local = LocalInvoker()
        self._id = uuid.uuid4().hex
        self._started: asyncio.Future[None] | None = None
        self._allowed_failures = 0
        self._claim_handler = False
        self._worker_count: int | None = None
        self._shipped: set[str] = set()  # modules registered to travel by value
        self._bodies: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()
        self._in_flight: dict[str, Future] = {}
        self._markers = False
        self._closed = False

    # -- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the LocalCluster or connect to the scheduler (once; later calls wait)."""
        if self._closed:
            raise RuntimeError("this DaskInvoker is closed")
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                await self._start()
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started.exception()  # retrieved: raised below, not logged
                raise
            self._started.set_result(None)
        else:
            await asyncio.shield(self._started)

    async def _start(self) -> None:
        if self.client is None:
            if self.address is None:
                _start_resource_tracker()
                workers = self.workers or os.cpu_count() or 1
                # Dask itself never runs a task again after a worker loss: the task fails
                # "worker lost" and its retry policy decides.
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self.cluster = await cast(
                        Awaitable[LocalCluster],
                        LocalCluster(
                            n_workers=workers,
                            threads_per_worker=1,
                            processes=True,
                            asynchronous=True,
                            dashboard_address=None,
                            silence_logs=logging.ERROR,
                        ),
                    )
                try:
                    self.client = await Client(self.cluster, asynchronous=True)
                except BaseException:
                    await cast(Awaitable[None], self.cluster.close())
                    self.cluster = None
                    raise
            else:
                self.client = await Client(self.address, asynchronous=True)
        await self._prepare_scheduler()
        scheduler: Any = self.client.scheduler
        with contextlib.suppress(Exception):
            identity = await scheduler.identity()
            self._worker_count = len(identity.get("workers", {}))

    async def _prepare_scheduler(self) -> None:
        """Install on the scheduler the one-round-trip started-marker handler and the
        plugin that keeps Dask from running an idempotent call again after a worker loss
        (`flow_tui.dask.worker.install_claim`), and learn how often it runs a task again
        after losing its worker. A scheduler that refuses (flow-tui not installed there,
        no pickled functions) keeps the two-round-trip marker of plain metadata calls,
        and when it may reschedule, every call carries one, not only the non-idempotent
        ones."""
        assert self.client is not None
        try:
            allowed = int(await self.client.run_on_scheduler(install_claim))
        except Exception:
            self._claim_handler = False
            self._allowed_failures = 0 if self.cluster is not None else 3
            return
        self._claim_handler = True
        self._allowed_failures = 0 if self.cluster is not None else allowed

    async def close(self) -> None:
        """Cancel what is still in flight and close what this invoker started."""
        if self._closed:
            return
        self._closed = True
        client = self.client
        if client is not None:
            with contextlib.suppress(Exception):
                if self._in_flight:
                    await cast(Awaitable[None], client.cancel(list(self._in_flight.values())))
                self._in_flight.clear()
                if self._markers:
                    scheduler: Any = client.scheduler
                    await scheduler.set_metadata(keys=[MARKER_ROOT, self._id], value=None)
            if self._own_client:
                with contextlib.suppress(Exception):
                    await cast(Awaitable[None], client.close())
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                await cast(Awaitable[None], self.cluster.close())
            self.cluster = None

    def close_now(self) -> None:
        """For exits that cannot await: stop the LocalCluster's worker processes."""
        self._closed = True
        cluster = self.cluster
        if cluster is None:
            return
        for worker in list(getattr(cluster, "workers", {}).values()):
            process = getattr(getattr(worker, "process", None), "process", None)
            with contextlib.suppress(Exception):
                if process is not None:
                    process.kill()

    async def __aenter__(self) -> DaskInvoker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def describe(self) -> dict[str, Any]:
        """The executor and its cluster, for the workflow_start event and the header."""
        info: dict[str, Any] = {"executor": "dask", "address": self.address, "workers": None}
        client = self.client
        if client is not None:
            with contextlib.suppress(Exception):
                scheduler: Any = client.scheduler
                info["address"] = scheduler.address
                info["workers"] = self._worker_count
        if self.cluster is not None:
            info["cluster"] = "LocalCluster"
        elif client is not None:
            info["cluster"] = "external"
        return info

    # -- TaskInvoker -------------------------------------------------------------------

    @property
    def busy(self) -> int:
        """Sync bodies of local=True tasks still running in threads of this process."""
        return self._local.busy

    def invoke(self, step: TaskStep[Any], context: Any) -> Awaitable[Any]:
        if step.local:
            return self._local.invoke(step, context)
        return self._remote(step, context)

    async def _remote(self, step: TaskStep[Any], context: Any) -> Any:
        if self._started is None or not self._started.done():
            await self.start()
        client = self.client
        assert client is not None
        name = step.name
        packed = self._payload(step, context)
        if isinstance(packed, TaskResult):
            return packed
        key = f"{name}-{uuid.uuid4().hex}"
        guard: Guard = None
        if not step.idempotent:
            guard = (self._claim_handler, (MARKER_ROOT, self._id, key))
            self._markers = True
        elif self._allowed_failures > 0:
            if self._claim_handler:  # the scheduler's plugin fails it at a worker loss
                key += NO_RERUN_SUFFIX
            else:
                guard = (False, (MARKER_ROOT, self._id, key))
                self._markers = True
        fn: Callable[..., Any] = run_async if is_async_callable(step.run) else run_sync
        future = client.submit(fn, packed, guard, key=key, pure=False, retries=0)
        self._in_flight[key] = future
        try:
            try:
                answer = await future
            except asyncio.CancelledError:
                # A stop, a timeout, an interrupting pause: the future goes too (a body
                # already running on a worker runs on; Dask cannot kill it).
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._cancel(client, future))
                raise
            except Exception as exc:
                return self._lost(step, exc)
        finally:
            self._in_flight.pop(key, None)
            del future
        return self._answer(step, answer)

    async def _cancel(self, client: Client, future: Future) -> None:
        """Cancel `future` and wait (a few seconds at most) until the scheduler has let
        it go: when a run ends, none of its futures is left there."""
        key = future.key
        await cast(Awaitable[None], client.cancel([future], reason="flow-tui stopped it"))
        scheduler: Any = client.scheduler
        for _ in range(CANCEL_CHECKS):
            status = await scheduler.get_task_status(keys=[key])
            if status.get(key) in (None, "forgotten"):
                return
            await asyncio.sleep(CANCEL_CHECK_INTERVAL)

    # -- sending -----------------------------------------------------------------------

    def _payload(self, step: TaskStep[Any], context: Any) -> bytes | TaskResult:
        """The pickled call, or the failure naming what could not be pickled."""
        name = step.name
        body = step.run
        self._ship_by_value(body)
        try:
            body_bytes = self._bodies.get(body)
        except TypeError:  # not weak-referenceable
            body_bytes = None
        if body_bytes is None:
            try:
                body_bytes = cloudpickle.dumps(body, protocol=5)
            except Exception as exc:
                return self._unpicklable(name, "body", body, exc)
            with contextlib.suppress(TypeError):
                self._bodies[body] = body_bytes
        data = upstream_data(step)
        try:
            rest = cloudpickle.dumps((context, step.dependencies, data), protocol=5)
        except Exception as exc:
            try:
                cloudpickle.dumps(context, protocol=5)
            except Exception:
                return self._unpicklable(name, "context", context, exc)
            return self._unpicklable(name, "dependencies' data", data, exc)
        return cloudpickle.dumps((name, body_bytes, rest), protocol=5)

    @staticmethod
    def _unpicklable(task: str, what: str, value: Any, exc: Exception) -> TaskResult:
        hint = (
            "; give the task local=True to run it in the flow-tui process"
            if what in ("body", "context")
            else ""
        )
        return _failure(
            f"task {task!r}: its {what} ({_type_name(value)}) cannot be pickled to send "
            f"it to a Dask worker: {type(exc).__name__}: {exc}{hint}",
            message="not sent to Dask",
        )

    def _ship_by_value(self, body: Any) -> None:
        """Register the body's module and the modules beside it (the workflow's helpers)
        to be pickled by value: the workers need not have them installed."""
        module_name = getattr(body, "__module__", None)
        if module_name is None or module_name in self._shipped:
            return
        self._shipped.add(module_name)
        module = sys.modules.get(module_name)
        folder = _folder_of(module)
        if module is None or folder is None or _installed_package(folder, module_name):
            return
        for name, other in list(sys.modules.items()):
            other_folder = _folder_of(other)
            if other_folder is None or name == "__main__" or _installed_package(other_folder, name):
                continue
            if (other_folder + os.sep).startswith(folder + os.sep):
                self._register(other)

    def _register(self, module: ModuleType) -> None:
        with contextlib.suppress(Exception):  # a module cloudpickle refuses stays by name
            cloudpickle.register_pickle_by_value(module)
            self._shipped.add(module.__name__)

    # -- answers -----------------------------------------------------------------------

    def _answer(self, step: TaskStep[Any], answer: bytes) -> Any:
        name = step.name
        try:
            packet = cloudpickle.loads(answer)
        except Exception as exc:
            return _failure(
                f"task {name!r}: its result cannot be unpickled in the flow-tui process: "
                f"{type(exc).__name__}: {exc}"
            )
        kind = packet[0]
        if kind == "ok":
            _replay(packet[2])
            try:
                return cloudpickle.loads(packet[1])
            except Exception as exc:
                return _failure(
                    f"task {name!r}: its result cannot be unpickled in the flow-tui process: "
                    f"{type(exc).__name__}: {exc}"
                )
        if kind == "raised":
            _replay(packet[3])
            return _failure(packet[1], tb=packet[2])
        if kind == "result":
            _replay(packet[3])
            return _failure(
                f"task {name!r}: its result ({packet[1]}) cannot be pickled to send it back "
                f"from the Dask worker: {packet[2]}",
                message="result not sent back",
            )
        if kind == "missing":
            return _failure(
                f"task {name!r}: module {packet[1]!r} is not installed on Dask worker "
                f"{packet[2]}: install it on the workers (only the workflow's own modules "
                "travel with the task)",
                message="missing on the worker",
            )
        if kind == "payload":
            return _failure(
                f"task {name!r}: Dask worker {packet[2]} could not unpickle the task: {packet[1]}"
            )
        if kind == "started":
            return self._lost(step, None, packet[1])
        return _failure(f"task {name!r}: unexpected answer from the Dask worker: {kind!r}")

    def _lost(self, step: TaskStep[Any], exc: Exception | None, worker: str | None = None) -> Any:
        """The call's worker was lost (KilledWorker, or Dask rescheduled a started call),
        or Dask could not run it at all."""
        from distributed.scheduler import KilledWorker

        name = step.name
        if exc is None or isinstance(exc, KilledWorker):
            where = f" (rescheduled to {worker}: not run again)" if worker else ""
            if not step.idempotent:
                raise TaskInterrupted(
                    f"worker lost: the Dask worker running task {name!r} died mid-body{where}; "
                    "it is not idempotent and may have partly run: it runs again only with "
                    "consent"
                )
            return _failure(
                f"worker lost: the Dask worker running task {name!r} died mid-body{where}",
                message="worker lost",
            )
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if not step.idempotent:
            # Whether the body ran is unknown: like a crash, not like a failure.
            raise TaskInterrupted(f"task {name!r}: Dask could not report its end: {text}")
        return _failure(f"task {name!r}: Dask could not run it: {text}", message="Dask error")


def _replay(output: list[tuple[Any, ...]]) -> None:
    """What the body printed and logged on the worker, written and logged here, in the
    task's context (the session's capture keeps them as the task's lines)."""
    for item in output:
        kind = item[0]
        try:
            if kind == "log":
                _, logger_name, level, message, created = item
                record = logging.makeLogRecord(
                    {
                        "name": logger_name,
                        "levelno": level,
                        "levelname": logging.getLevelName(level),
                        "msg": message,
                        "created": created,
                    }
                )
                logging.getLogger(logger_name).handle(record)
            elif kind == "stderr":
                sys.stderr.write(item[1])
            else:
                sys.stdout.write(item[1])
        except Exception:  # a closed stream must not fail the task
            continue
    with contextlib.suppress(Exception):
        sys.stdout.flush()


def _folder_of(module: ModuleType | None) -> str | None:
    path = getattr(module, "__file__", None) if module is not None else None
    return os.path.dirname(os.path.abspath(path)) if path else None


def _installed_package(folder: str, module_name: str) -> bool:
    """A module of an installed package (site-packages, the standard library) is
    imported by name on the workers, not shipped."""
    parts = folder.split(os.sep)
    return (
        "site-packages" in parts
        or "dist-packages" in parts
        or folder.startswith(os.path.dirname(os.__file__))
        or module_name.split(".")[0] == "flow_tui"
    )


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with a real stderr.

    The tracker is started, once, by the first worker process a LocalCluster makes, and is
    handed `sys.stderr`'s file descriptor. Under the dashboard `sys.stderr` is Textual's
    capture, whose descriptor the child cannot take ("bad value(s) in fds_to_keep", then
    "Nanny failed to start"): start it here, on the process's own stderr.
    """
    from multiprocessing import resource_tracker

    real = sys.__stderr__
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        usable = False
    else:
        usable = sys.stderr.fileno() >= 0
    if usable or real is None:
        resource_tracker.ensure_running()
        return
    captured = sys.stderr
    sys.stderr = real
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = captured
