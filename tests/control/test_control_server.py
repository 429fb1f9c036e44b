"""The control server in-process, on a run of its own: its files, how it ends, and the
races around its end (a client connecting or saving while the run closes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from flow_tui import RetryPolicy, Snapshot, TaskStep, Workflow
from flow_tui.control import ControlError, Controls, ControlServer
from flow_tui.control.client import AsyncControlClient
from flow_tui.control.registry import DIR_ENV, list_runs
from flow_tui.session import Session, SessionOptions


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DIR_ENV, str(tmp_path / "rt"))
    return tmp_path / "rt"


def gated_workflow(gate: asyncio.Event) -> Workflow:
    async def wait(ctx: object) -> str:
        await gate.wait()
        return "done"

    return Workflow(
        name="inproc", steps=[TaskStep("wait", wait), TaskStep("after", wait, ["wait"])]
    )


async def serve(gate: asyncio.Event) -> tuple[Session, ControlServer, list[str]]:
    session = Session.open(gated_workflow(gate), SessionOptions())
    notices: list[str] = []
    server = ControlServer(Controls(session), front_end="headless", notice=notices.append)
    await server.start()
    return session, server, notices


def viewer(messages: list[dict[str, Any]], closed: asyncio.Event, info: Any) -> AsyncControlClient:
    return AsyncControlClient(info, messages.append, closed.set)


async def subscribed(
    server: ControlServer,
) -> tuple[list[dict[str, Any]], asyncio.Event, dict[str, Any]]:
    """A viewer subscribed to `server`: what it hears, set when its connection ends,
    and the subscribe reply."""
    assert server.info is not None
    messages: list[dict[str, Any]] = []
    closed = asyncio.Event()
    client = viewer(messages, closed, server.info)
    await client.connect()
    return messages, closed, await client.request("subscribe")


async def run_to_its_end(session: Session, server: ControlServer, gate: asyncio.Event) -> None:
    """Open `gate`, run the session to its end, close it, then the server (bye:
    finished, exit code 0)."""
    run = asyncio.ensure_future(session.run())
    gate.set()
    await run
    await session.close()
    await server.close({"status": "finished", "exit_code": 0})


async def test_files_private_bye_then_gone(runtime: Path) -> None:
    gate = asyncio.Event()
    session, server, notices = await serve(gate)
    assert server.info is not None
    sock = Path(server.info.socket)
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
    assert stat.S_IMODE((runtime / f"{server.info.id}.json").stat().st_mode) == 0o600
    assert [r.id for r in list_runs()] == [server.info.id]
    assert session.control_path == str(sock)

    messages, closed, reply = await subscribed(server)
    assert reply["state"]["workflow"] == "inproc"
    await run_to_its_end(session, server, gate)
    await closed.wait()
    assert messages[-1] == {"type": "bye", "status": "finished", "exit_code": 0}
    ends = [m["task"] for m in messages if m.get("event") == "task_end"]
    assert ends == ["wait", "after"]
    start = next(m for m in messages if m.get("event") == "workflow_start")
    assert start["control"] == str(sock) and start["tasks"] == 2
    assert start["executor"] == session.executor_info  # as --output jsonl writes it
    assert list(runtime.iterdir()) == []  # socket and record removed
    assert notices == []
    with pytest.raises(ControlError, match="no longer running"):
        await viewer([], asyncio.Event(), server.info).connect()


async def test_a_notice_reaches_viewers_as_the_jsonl_output_writes_it(runtime: Path) -> None:
    gate = asyncio.Event()
    session, server, _ = await serve(gate)
    assert server.info is not None
    messages, closed, _ = await subscribed(server)
    text = 'stop asked\n{"event": "fake"} é'  # a newline and a brace in the text
    server.notify(text)
    await run_to_its_end(session, server, gate)
    await closed.wait()
    notices = [m for m in messages if m.get("event") == "notice"]
    assert len(notices) == 1 and notices[0]["message"] == text
    assert list(notices[0]) == ["type", "event", "ts", "message"]  # "type" first, as events
    assert all(next(iter(m)) == "type" for m in messages)
    assert [m["task"] for m in messages if m.get("event") == "task_end"] == ["wait", "after"]


async def test_commands_after_the_end_and_during_close(runtime: Path, tmp_path: Path) -> None:
    gate = asyncio.Event()
    gate.set()
    session, server, _ = await serve(gate)
    assert server.info is not None
    client = viewer([], asyncio.Event(), server.info)
    await client.connect()
    await session.run()
    # the run has ended, its process not yet: steering is refused, a save still works
    for cmd, args in (("pause", {}), ("resume", {}), ("stop", {"grace": 0})):
        with pytest.raises(ControlError, match="already ended"):
            await client.request(cmd, **args)
    saving = asyncio.ensure_future(client.request("save", path=str(tmp_path / "late.toml")))
    connecting = asyncio.ensure_future(viewer([], asyncio.Event(), server.info).connect())
    await asyncio.sleep(0)
    await server.close({"status": "finished", "exit_code": 0})
    # whatever the order, the newcomer is told the run is gone and never hangs
    with pytest.raises(ControlError, match=r"already ended|no longer running"):
        await asyncio.wait_for(connecting, 10)
    with contextlib.suppress(ControlError):  # closed before the reply
        await asyncio.wait_for(saving, 10)
    late = tmp_path / "late.toml"
    if late.exists():
        assert len(Snapshot.load(late).results) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "rt") in ([], ["late.toml"])
    await session.close()
    assert list(runtime.iterdir()) == []


async def test_the_full_state_describes_every_task_and_the_lines_of_those_that_wrote(
    runtime: Path,
) -> None:
    gate = asyncio.Event()
    waiting = asyncio.Event()

    async def chatty(ctx: object) -> int:
        print("hello")
        print("world")
        return 1

    async def wait(ctx: object) -> None:
        waiting.set()
        await gate.wait()

    workflow = Workflow(
        name="logs",
        steps=[TaskStep("chatty", chatty), TaskStep("quiet", wait, ["chatty"], tags=["t"])],
    )
    session = Session.open(workflow, SessionOptions())
    notices: list[str] = []
    server = ControlServer(Controls(session), front_end="headless", notice=notices.append)
    await server.start()
    assert server.info is not None
    run = asyncio.ensure_future(session.run())
    await waiting.wait()
    states = []
    for _ in range(2):  # the second viewer reads the same task list
        closed = asyncio.Event()
        client = viewer([], closed, server.info)
        await client.connect()
        states.append((await client.request("subscribe"))["state"])
    for state in states:
        assert [(t["name"], t["deps"], t["tags"]) for t in state["tasks"]] == [
            ("chatty", [], []),
            ("quiet", ["chatty"], ["t"]),
        ]
        assert list(state["logs"]) == ["chatty"]  # only the task that wrote
        assert [line.split()[-1] for line in state["logs"]["chatty"]] == ["hello", "world"]
        assert state["running"] == ["quiet"]
    gate.set()
    await run
    await session.close()
    await server.close({"status": "finished", "exit_code": 0})


async def test_the_state_carries_the_snapshot_document_of_every_kind_of_result(
    runtime: Path,
) -> None:
    # The state's snapshot is written by the snapshot's own JSON writer (plain results
    # from a template) and put in the reply as it is: a viewer reads the same document
    # as to_dict() gives, whatever a result holds (data, a message, an error, a retry).
    attempts: list[int] = []

    async def data(ctx: object) -> dict[str, object]:
        return {"rows": [1, 2.5, None], "text": 'line\n"two" é'}

    async def flaky(ctx: object) -> str:
        attempts.append(1)
        if len(attempts) < 2:
            raise RuntimeError("first try fails")
        return "ok"

    async def fails(ctx: object) -> None:
        raise ValueError("boom")

    async def plain(ctx: object) -> None:
        return None

    steps = [
        TaskStep("data", data),
        TaskStep("flaky", flaky, retry=RetryPolicy(attempts=2, delay=0.0)),
        TaskStep("fails", fails),
        TaskStep("after", plain, ["fails"]),
        *(TaskStep(f"plain-{i}", plain) for i in range(3)),
    ]
    session = Session.open(Workflow(name="kinds", steps=steps), SessionOptions())
    server = ControlServer(Controls(session), front_end="headless", notice=lambda text: None)
    await server.start()
    assert server.info is not None
    await session.run()
    client = viewer([], asyncio.Event(), server.info)
    await client.connect()
    sent = (await asyncio.wait_for(client.request("state"), 30))["state"]["snapshot"]
    expected = session.snapshot().to_dict()
    assert sent.pop("created_at") and expected.pop("created_at")
    assert sent == expected
    assert list(sent["results"]) == [s.name for s in steps]
    assert sent["results"]["data"]["data"] == {"rows": [1, 2.5, None], "text": 'line\n"two" é'}
    assert sent["results"]["after"]["status"] == "skipped"
    await client.close()
    await session.close()
    await server.close({"status": session.state.value, "exit_code": session.exit_code()})


async def test_a_state_over_the_buffers_reaches_its_viewer_a_client_not_reading_goes(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The full state of a large run (12 MB at 60k tasks) is more than a viewer may leave
    # unread of events: a viewer that takes it in is not dropped for its size, while its
    # events keep coming, and sees the run to its end; a client that asks and never reads
    # is dropped once it took nothing of its reply for a while. The limits are made small
    # here instead of the run large.
    import flow_tui.control.server as server_module

    monkeypatch.setattr(server_module, "MAX_BUFFERED", 4 << 10)
    monkeypatch.setattr(server_module, "MAX_BUFFERED_HARD", 8 << 10)
    monkeypatch.setattr(server_module, "SEND_BUFFER", 4 << 10)
    monkeypatch.setattr(server_module, "REPLY_STALL_SECONDS", 0.3)
    gate = asyncio.Event()

    async def first(ctx: object) -> None:
        await gate.wait()

    async def noop(ctx: object) -> None:
        return None

    steps = [TaskStep("first", first)]
    steps += [TaskStep(f"task-{i:05d}", noop, ["first"]) for i in range(3000)]
    session = Session.open(Workflow(name="large", steps=steps), SessionOptions())
    notices: list[str] = []
    dropped = asyncio.Event()

    def notice(text: str) -> None:
        notices.append(text)
        dropped.set()

    server = ControlServer(Controls(session), front_end="headless", notice=notice)
    await server.start()
    assert server.info is not None
    run = asyncio.ensure_future(session.run())

    # A client that asks for the state twice and reads nothing: dropped while the run
    # goes on (its second command is never read).
    reader, writer = await asyncio.open_unix_connection(server.info.socket)
    writer.write(b'{"type": "hello", "version": 1}\n')
    await reader.readline()
    writer.write(b'{"id": 1, "cmd": "subscribe"}\n{"id": 2, "cmd": "subscribe"}\n')
    await asyncio.wait_for(dropped.wait(), 30)
    assert not run.done()

    messages: list[dict[str, Any]] = []
    closed = asyncio.Event()
    client = viewer(messages, closed, server.info)
    await client.connect()
    state = (await client.request("subscribe"))["state"]
    assert len(state["tasks"]) == 3001
    gate.set()
    await run
    await session.close()
    await server.close({"status": "finished", "exit_code": 0})
    await closed.wait()
    writer.close()
    assert messages[-1] == {"type": "bye", "status": "finished", "exit_code": 0}
    assert sum(m.get("event") == "task_end" for m in messages) == 3001
    assert len(notices) == 1 and "did not read the replies to its commands" in notices[0]


async def test_a_client_still_taking_a_reply_when_the_run_ends_is_not_said_dropped(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run ends while a client has not taken its large reply yet: it gets at most
    # CLOSE_SECONDS, then the connection goes with the run, and the run's output does not
    # say a viewer was dropped, even when its time to take the reply runs out meanwhile
    # (the end explains what happens to it).
    import flow_tui.control.server as server_module

    monkeypatch.setattr(server_module, "SEND_BUFFER", 4 << 10)
    monkeypatch.setattr(server_module, "REPLY_STALL_SECONDS", 0.3)
    monkeypatch.setattr(server_module, "CLOSE_SECONDS", 1.5)
    steps = [TaskStep(f"task-{i:05d}", _noop) for i in range(3000)]
    session = Session.open(Workflow(name="large", steps=steps), SessionOptions())
    notices: list[str] = []
    server = ControlServer(Controls(session), front_end="headless", notice=notices.append)
    await server.start()
    assert server.info is not None
    await session.run()
    reader, writer = await asyncio.open_unix_connection(server.info.socket)
    writer.write(b'{"type": "hello", "version": 1}\n')
    await reader.readline()
    writer.write(b'{"id": 1, "cmd": "state"}\n')
    assert await reader.read(1) == b"{"  # answered: the rest of the reply waits in the run
    await session.close()
    await server.close({"status": "finished", "exit_code": 0})
    writer.close()
    assert notices == []


async def _noop(ctx: object) -> None:
    return None


async def test_a_run_about_to_exit_keeps_its_clients_connections_until_it_is_gone(
    runtime: Path,
) -> None:
    # close(hold=True), the front ends' last step: a client hears `bye`, then its
    # connection stays open until the process exits (here: until the test closes what the
    # process would), so that a viewer leaving at the run's end leaves after the run.
    import os

    import flow_tui.control.server as server_module

    gate = asyncio.Event()
    gate.set()
    session, server, _ = await serve(gate)
    assert server.info is not None
    reader, writer = await asyncio.open_unix_connection(server.info.socket)
    writer.write(b'{"type": "hello", "version": 1}\n{"id": 1, "cmd": "subscribe"}\n')
    assert json.loads(await reader.readline())["type"] == "hello"
    assert json.loads(await reader.readline())["type"] == "reply"  # subscribed
    await session.run()
    await session.close()
    await server.close({"status": "finished", "exit_code": 0}, hold=True)
    held = list(server_module._HELD_UNTIL_EXIT)
    assert len(held) == 1
    types: list[str] = []
    while not types or types[-1] != "bye":
        types.append(json.loads(await reader.readline())["type"])
    assert set(types[:-1]) == {"event"}
    with pytest.raises(TimeoutError):  # open: no end of stream while the process lives
        await asyncio.wait_for(reader.read(1), 0.2)
    for fd in held:  # what the kernel does when the process exits
        server_module._HELD_UNTIL_EXIT.remove(fd)
        os.close(fd)
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
