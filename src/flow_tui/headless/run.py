"""A headless run from start to exit code: signals through the SignalGuard, the final
checkpoint, the summary, and leaving without threads that ignore cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

from flow_tui.control import ControlServer, serve_controls
from flow_tui.core.errors import FlowError
from flow_tui.core.events import Event
from flow_tui.core.model import TaskStatus
from flow_tui.core.resume import check_consent
from flow_tui.exit_codes import EXIT_USAGE
from flow_tui.headless.reporters import Reporter, make_reporter
from flow_tui.session import CheckpointFailed, RunState, Session
from flow_tui.shutdown import SignalGuard


def exit_code_for(session: Session, guard: SignalGuard) -> int:
    """128 + the signal that stopped the run, else the run's own code."""
    code = guard.exit_code
    return session.exit_code() if code is None else code


def _summary(session: Session, guard: SignalGuard, code: int) -> dict[str, Any]:
    results = session.results
    failed = [
        s.name
        for s in session.steps
        if (r := results.get(s.name)) and r.status is TaskStatus.FAILURE
    ]
    extra: dict[str, Any] = {
        "workflow": session.workflow.name,
        "status": session.state.value,
        "exit_code": code,
        "elapsed_s": round(session.elapsed(), 3),
        "paused_s": round(session.paused_seconds(), 3),
        "counts": session.counts(),
        "failed": failed,
        "checkpoint": str(session.options.checkpoint) if session.options.checkpoint else None,
    }
    if guard.received is not None:
        extra["signal"] = guard.received.name
    if session.checkpointer is not None and session.checkpointer.error is not None:
        extra["checkpoint_error"] = str(session.checkpointer.error)
    return extra


async def run_session(session: Session, reporter: Reporter, grace: float) -> int:
    session.subscribe(reporter.show)
    loop = asyncio.get_running_loop()

    def force_exit() -> None:
        # Tasks ignored their cancellation: save synchronously and leave without them.
        session.close_now()
        code = exit_code_for(session, guard)
        if session.checkpointer is not None and session.checkpointer.error is not None:
            code = EXIT_USAGE
        if server is not None:
            server.close_now({"status": RunState.CANCELLED.value, "exit_code": code})
        extra = _summary(session, guard, code)
        extra["status"] = RunState.CANCELLED.value
        reporter.summary(RunState.CANCELLED, code, extra)
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)

    server: ControlServer | None = None

    def notice(text: str) -> None:
        # What the operator reads, the run's viewers read too.
        reporter.notice(text)
        if server is not None:
            server.notify(text)

    guard = SignalGuard(session, notice, grace, force_exit)
    remove = guard.install(loop)
    server = await serve_controls(
        session,
        front_end="headless",
        notice=reporter.notice,
        stop=guard.request_stop,
        lines=reporter.lines,
    )
    checkpoint_error: list[FlowError] = []

    def on_checkpoint_failed(event: Event) -> None:
        if isinstance(event, CheckpointFailed):
            checkpoint_error.append(event.error)
            session.cancel()

    session.subscribe(on_checkpoint_failed)
    try:
        await session.run()
    finally:
        guard.cancel_timers()
        try:
            await session.close()
        finally:
            remove()
            code = exit_code_for(session, guard)
            if checkpoint_error or (session.checkpointer and session.checkpointer.error):
                code = EXIT_USAGE
            if server is not None:
                # Viewers hear how the run ended; then the socket and its record go.
                await server.close({"status": session.state.value, "exit_code": code}, hold=True)
    reporter.summary(session.state, code, _summary(session, guard, code))
    return code


def run_headless(
    session: Session, output: str = "auto", grace: float = 10.0, *, verbose: bool = False
) -> int:
    """Run `session` to its end in this process; return the exit code.

    `verbose`: plain and rich output show every line a task printed or logged, not only
    those at WARNING and above (JSON Lines always carries them all).
    """
    stream = sys.stdout  # taken before the run captures task output on it
    reporter = make_reporter(session, output, stream, verbose)
    check_consent(session.needs_consent)
    if session.start_notice is not None:
        reporter.notice(session.start_notice)  # what --continue decided
    plan = session.plan
    if (
        plan is not None
        and session.resumed_from is not None
        and (plan.graph_changed or output in ("jsonl", "json"))
    ):
        reporter.plan(plan, str(session.resumed_from))
    loop_factory = _uvloop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        code = runner.run(run_session(session, reporter, grace))
        if session.bodies_in_threads:
            # A sync task body ignores cancellation: do not wait for it at exit.
            stream.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if os.environ.get("FLOW_TUI_NO_UVLOOP"):
        return None
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
