"""Task output capture in process: what bodies print and log is kept per task for the
dashboard (`Session.task_logs`), announced as `task_log` events, and never reaches the
streams underneath; the capture nests with Textual's own replacement of sys.stdout."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
import threading

from textual import events
from textual.app import App

from flow_tui import TaskStep, Workflow
from flow_tui.capture import TaskLog
from flow_tui.core.events import Event
from flow_tui.session import Session

log = logging.getLogger("tests.output")


def chatty_workflow() -> Workflow:
    gate = threading.Barrier(2, timeout=20)

    async def async_body(ctx: object) -> None:
        print("print from a")
        sys.stderr.write("stderr from a\n")
        log.error("logged by a")

    def sync_body(ctx: object) -> None:
        sys.stdout.write("half ")
        gate.wait()  # `c` writes now: lines are kept per task, not per stream
        print("a line from b")
        log.warning("logged by b")

    def sync_other(ctx: object) -> None:
        gate.wait()
        print("a line from c")

    return Workflow(
        name="chatty",
        concurrency=3,
        steps=[TaskStep("a", async_body), TaskStep("b", sync_body), TaskStep("c", sync_other)],
    )


async def test_task_logs_hold_the_print_and_logging_lines_of_that_task_only() -> None:
    stdout, stderr, root = sys.stdout, sys.stderr, logging.getLogger()
    handlers, level = list(root.handlers), root.level
    session = Session.open(chatty_workflow())
    await session.run()
    a, b, c = (session.task_logs(name) for name in "abc")
    assert [line.split(" ", 2)[2] for line in a[:2]] == [
        "stdout  print from a",
        "stderr  stderr from a",
    ]
    assert a[2].endswith("ERROR   tests.output: logged by a")
    assert len(a) == 3
    assert b[0].endswith("stdout  half a line from b") and len(b) == 2
    assert b[1].endswith("WARNING tests.output: logged by b")
    assert len(c) == 1 and c[0].endswith("stdout  a line from c")
    await session.close()
    assert (sys.stdout, sys.stderr) == (stdout, stderr)  # put back as they were
    assert root.handlers == handlers and root.level == level
    assert session.task_logs("a") == a  # the dashboard still shows them after the run


async def test_listeners_get_a_task_log_per_line_on_the_loops_thread() -> None:
    session = Session.open(chatty_workflow())
    heard: list[tuple[TaskLog, int]] = []

    def listener(event: Event) -> None:
        if isinstance(event, TaskLog):
            heard.append((event, threading.get_ident()))
            print(f"listener saw {event.message}")  # a listener's own print: no new event

    session.subscribe(listener)
    below = io.StringIO()
    with contextlib.redirect_stdout(below):
        await session.run()
        await session.close()
    logs = {(e.task, e.stream, e.level, e.message) for e, _ in heard}
    assert logs == {
        ("a", "stdout", None, "print from a"),
        ("a", "stderr", None, "stderr from a"),
        ("a", "log", "ERROR", "logged by a"),
        ("b", "stdout", None, "half a line from b"),
        ("b", "log", "WARNING", "logged by b"),
        ("c", "stdout", None, "a line from c"),
    }
    assert len(heard) == len(logs)
    assert {thread for _, thread in heard} == {threading.get_ident()}
    # The listener's prints went on to the stream below; the bodies' never did.
    printed = below.getvalue().splitlines()
    assert "listener saw a line from c" in printed
    assert all(line.startswith("listener saw ") for line in printed), printed


async def test_a_partial_last_line_is_kept_when_the_session_closes() -> None:
    async def body(ctx: object) -> None:
        print("no newline at the end", end="")

    session = Session.open(Workflow(name="w", steps=[TaskStep("t", body)]))
    heard: list[Event] = []
    session.subscribe(heard.append)
    await session.run()
    assert session.task_logs("t") == []
    await session.close()
    assert session.task_logs("t")[0].endswith("stdout  no newline at the end")
    assert [e.message for e in heard if isinstance(e, TaskLog)] == ["no newline at the end"]


class Host(App[None]):
    """A Textual app that records what reaches it through its capture of print()."""

    def __init__(self) -> None:
        super().__init__()
        self.printed: list[str] = []

    def on_mount(self) -> None:
        self.begin_capture_print(self)

    def on_print(self, event: events.Print) -> None:
        self.printed.append(event.text)


def printing_workflow(during_run: asyncio.Event, go_on: asyncio.Event) -> Workflow:
    async def body(ctx: object) -> None:
        print("body output")
        during_run.set()
        await go_on.wait()

    return Workflow(name="w", steps=[TaskStep("t", body)])


async def test_body_output_never_reaches_the_dashboard_and_capture_nests_with_textual() -> None:
    stdout = sys.stdout
    during_run, go_on = asyncio.Event(), asyncio.Event()
    session = Session.open(printing_workflow(during_run, go_on))
    app = Host()
    async with app.run_test() as pilot:
        textual_stdout = sys.stdout
        assert textual_stdout is not stdout  # Textual's capture of print()
        run = asyncio.create_task(session.run())
        await during_run.wait()
        print("the app's own print")  # outside any task: goes on to Textual
        go_on.set()
        await run
        await pilot.pause()
        await session.close()  # inside the app: puts Textual's capture back
        assert sys.stdout is textual_stdout
        await pilot.pause()
        assert "".join(app.printed) == "the app's own print\n"
    assert sys.stdout is stdout
    assert session.task_logs("t")[0].endswith("body output")


async def test_textual_leaving_first_keeps_its_restore_and_the_capture_steps_aside() -> None:
    stdout = sys.stdout
    during_run, go_on = asyncio.Event(), asyncio.Event()
    session = Session.open(printing_workflow(during_run, go_on))
    go_on.set()
    async with Host().run_test():
        await session.run()  # installs over Textual's capture
    assert sys.stdout is stdout  # Textual put back what it found
    await session.close()  # and the capture does not undo that
    assert sys.stdout is stdout
    assert session.task_logs("t")[0].endswith("body output")
