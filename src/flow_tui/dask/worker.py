"""What runs on a Dask worker: one task body per call, its output kept, its result packed.

The flow-tui process sends a payload pickled with cloudpickle (the body, a copy of the
context, the dependencies' data for `upstream()`); this module unpacks it, checks the
started-marker of a guarded call, runs the body (an async body on the worker's event
loop, a sync one in the worker's thread) and answers with one packed tuple:

    ("ok", pickled value, output)
    ("raised", "Type: text", traceback, output)
    ("result", type name, error text, output)      the value could not be pickled back
    ("missing", module name, worker address)       a module the payload needs is missing
    ("payload", "Type: text", worker address)      the payload could not be unpacked
    ("started", worker address)                    the marker says this call already ran

`output` is what the body printed or logged: (stream, text) and ("log", logger name,
level number, message, created) tuples, in order; the flow-tui process replays them as
the task's log lines.

Only the standard library, cloudpickle and distributed are imported here: the workers
need flow-tui installed (this module, `upstream`, TaskResult), not the workflow's code.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TextIO, cast

import cloudpickle
from distributed.diagnostics.plugin import SchedulerPlugin

from flow_tui.core.invoke import FixedUpstream, current_task_name, current_upstream

Output = list[tuple[Any, ...]]
#: (the scheduler has the CLAIM_OP handler, the marker's metadata keys), or None: no guard
Guard = tuple[bool, tuple[str, ...]] | None

#: The output list of the call running in this context (None outside our calls).
_output: contextvars.ContextVar[Output | None] = contextvars.ContextVar(
    "flow_tui_dask_output", default=None
)
_install_lock = threading.Lock()
_installed = False
#: Bodies unpickled on this worker, by their pickled bytes: a workflow's bodies are sent
#: again with every task, and unpickling a function by value is not free.
_bodies: dict[bytes, Callable[[Any], Any]] = {}
_MAX_BODIES = 256


class _OutputStream:
    """sys.stdout / sys.stderr of the worker: writes made in a call are kept for it,
    every other write goes to the stream underneath."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        output = _output.get()
        if output is None:
            return int(self._stream.write(text))
        output.append((self._name, text))
        return len(text)

    def flush(self) -> None:
        if _output.get() is None:
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _OutputHandler(logging.Handler):
    """Log records made in a call, kept for it."""

    def emit(self, record: logging.LogRecord) -> None:
        output = _output.get()
        if output is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info))
        except Exception:  # a bad format string: logging's own rule, never raise
            message = str(record.msg)
        output.append(("log", record.name, record.levelno, message, record.created))


def _install_output_capture() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        sys.stdout = cast(TextIO, _OutputStream(sys.stdout, "stdout"))
        sys.stderr = cast(TextIO, _OutputStream(sys.stderr, "stderr"))
        root = logging.getLogger()
        root.addHandler(_OutputHandler())
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)  # as in the flow-tui process: INFO and above
        _installed = True


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return "?"


#: The scheduler handler `install_claim` adds: one round trip sets a started-marker and
#: says whether it was already set (test-and-set in the scheduler's event loop).
CLAIM_OP = "flow_tui_claim"


def install_claim(dask_scheduler: Any) -> int:
    """Run on the scheduler (`client.run_on_scheduler`) by the flow-tui process at start:
    add the CLAIM_OP handler (stateless, over the scheduler's task metadata; installing it
    twice is harmless) and answer the scheduler's allowed-failures (how often it runs a
    task again after losing its worker)."""

    def flow_tui_claim(keys: list[str], value: str) -> bool:
        if dask_scheduler.get_metadata(keys=keys, default=None):
            return False
        dask_scheduler.set_metadata(keys=keys, value=value)
        return True

    dask_scheduler.handlers[CLAIM_OP] = flow_tui_claim
    if NO_RERUN_PLUGIN not in dask_scheduler.plugins:
        dask_scheduler.add_plugin(_NoRerun())
    return int(dask_scheduler.allowed_failures)


#: A key ending so is a call Dask must not run again after an unexpected worker loss:
#: the scheduler plugin `install_claim` adds counts the loss as the last one allowed.
NO_RERUN_SUFFIX = "-once"
NO_RERUN_PLUGIN = "flow-tui-no-rerun"


class _NoRerun(SchedulerPlugin):
    """Scheduler plugin: a task whose key ends in NO_RERUN_SUFFIX enters the scheduler as
    suspicious as its allowed-failures allow, so the first worker that dies running it
    fails it (KilledWorker: "worker lost" in flow-tui) instead of Dask running it again,
    as on a scheduler of allowed-failures 0. Stateless; other keys are left alone."""

    name = NO_RERUN_PLUGIN

    def update_graph(self, scheduler: Any, *, tasks: Sequence[Any] = (), **kwargs: Any) -> None:
        allowed = int(scheduler.allowed_failures)
        for key in tasks:
            if isinstance(key, str) and key.endswith(NO_RERUN_SUFFIX):
                ts = scheduler.tasks.get(key)
                if ts is not None and ts.suspicious < allowed:
                    ts.suspicious = allowed


async def _claim(guard: tuple[bool, tuple[str, ...]]) -> bool:
    """Set the started-marker `keys` on the scheduler; False when it was already set
    (this call ran before on a worker that was lost: Dask rescheduled it). With the
    CLAIM_OP handler installed one round trip, else two (get, then set, metadata: enough,
    as a call runs on one worker at a time)."""
    from distributed import get_worker

    handler, keys = guard
    worker = get_worker()
    scheduler = worker.scheduler
    if handler:
        return bool(await getattr(scheduler, CLAIM_OP)(keys=list(keys), value=worker.address))
    if await scheduler.get_metadata(keys=list(keys), default=None):
        return False
    await scheduler.set_metadata(keys=list(keys), value=worker.address)
    return True


def _unpack(payload: bytes) -> tuple[Any, ...]:
    name, body_bytes, rest = cloudpickle.loads(payload)
    body = _bodies.get(body_bytes)
    if body is None:
        body = cloudpickle.loads(body_bytes)
        if len(_bodies) >= _MAX_BODIES:
            _bodies.clear()
        _bodies[body_bytes] = body
    context, dependencies, data = cloudpickle.loads(rest)
    return name, body, context, dependencies, data


def _unpack_failure(exc: BaseException) -> tuple[Any, ...]:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return ("missing", exc.name, _worker_address())
    return ("payload", _describe(exc), _worker_address())


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_HERE = __file__


def _body_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _HERE:
        tb = tb.tb_next  # the body's frames, not ours
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _pack(value: Any, output: Output) -> bytes:
    try:
        pickled = cloudpickle.dumps(value, protocol=5)
    except Exception as exc:
        return cloudpickle.dumps(("result", type(value).__qualname__, _describe(exc), output))
    return cloudpickle.dumps(("ok", pickled, output))


def _raised(exc: BaseException, output: Output) -> bytes:
    return cloudpickle.dumps(("raised", _describe(exc), _body_traceback(exc), output))


def _enter(name: str, dependencies: Sequence[str], data: dict[str, Any]) -> Output:
    _install_output_capture()
    output: Output = []
    _output.set(output)
    current_task_name.set(name)
    current_upstream.set(FixedUpstream(dependencies, data))
    return output


def run_sync(payload: bytes, guard: Guard) -> bytes:
    """Run a sync body in this worker thread (a fresh context per call)."""
    return contextvars.copy_context().run(_run_sync, payload, guard)


def _run_sync(payload: bytes, guard: Guard) -> bytes:
    try:
        name, body, context, dependencies, data = _unpack(payload)
    except Exception as exc:
        return cloudpickle.dumps(_unpack_failure(exc))
    if guard is not None:
        from distributed import get_worker
        from distributed.utils import sync

        if not sync(get_worker().loop, _claim, guard):
            return cloudpickle.dumps(("started", _worker_address()))
    output = _enter(name, dependencies, data)
    try:
        value = body(context)
        if inspect.isawaitable(value):  # a sync callable that returned a coroutine
            value = asyncio.run(_awaited(value))
    except BaseException as exc:
        return _raised(exc, output)
    return _pack(value, output)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def run_async(payload: bytes, guard: Guard) -> bytes:
    """Run an async body on the worker's event loop (its own context: this coroutine
    runs as a task of its own there)."""
    try:
        name, body, context, dependencies, data = _unpack(payload)
    except Exception as exc:
        return cloudpickle.dumps(_unpack_failure(exc))
    if guard is not None and not await _claim(guard):
        return cloudpickle.dumps(("started", _worker_address()))
    output = _enter(name, dependencies, data)
    try:
        value = body(context)
        if inspect.isawaitable(value):
            value = await value
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return _raised(exc, output)
    return _pack(value, output)
