"""The dashboard serves its run's control socket: commands from another process act like
its keys (one `Controls` for both), and viewers hear how the run ended when it quits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flow_tui.control.client import AsyncControlClient, CommandRefused
from flow_tui.control.registry import list_runs
from flow_tui.session import RunState, SessionOptions

from .helpers import SIZE, footer_action, make_app, messages_text, run_state, settle, until
from .workflows.gated import Bodies, pipeline


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Viewer:
    """An asyncio client of the dashboard's socket that keeps what it was sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed = False

    def on_message(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def on_closed(self) -> None:
        self.closed = True

    def events(self) -> list[str]:
        return [m["event"] for m in self.messages if m.get("type") == "event"]

    def bye(self) -> dict[str, Any] | None:
        return next((m for m in self.messages if m.get("type") == "bye"), None)


async def test_socket_commands_steer_the_dashboard_like_its_keys() -> None:
    bodies = Bodies()
    bodies.fail_next["publish"] = 1
    app = make_app(pipeline(bodies, gate=("merge",)))
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        server = app.control_server
        assert server is not None and server.info is not None
        assert server.info.front_end == "dashboard"
        assert [r.id for r in list_runs()] == [server.info.id]
        await until(pilot, lambda: session.running == ["merge"], "merge running")

        viewer = Viewer()
        client = AsyncControlClient(server.info, viewer.on_message, viewer.on_closed)
        await client.connect()
        state = (await client.request("subscribe"))["state"]
        assert state["running"] == ["merge"] and state["attempts"]["merge"]["attempt"] == 1
        # Read from what the dashboard keeps (its clock: frozen in these tests).
        assert state["attempts"]["merge"]["running_s"] == 0.0
        assert state["is_running"] and not state["paused"]

        # `flow-tui pause`: the footer offers Resume, as after p.
        await client.request("pause")
        await settle(pilot)
        assert run_state(session) is RunState.PAUSING
        assert footer_action(app, "p") == "resume"

        # p (the key) resumes through the same controls; the viewer sees both.
        await pilot.press("p")
        assert run_state(session) is RunState.RUNNING
        await until(pilot, lambda: "workflow_resumed" in viewer.events(), "the resume event")
        assert "workflow_paused" in viewer.events()

        # The run's rules hold for a socket command: no retry while running.
        with pytest.raises(CommandRefused) as refused:
            await client.request("retry", tasks=["publish"])
        assert refused.value.kind == "state"

        bodies.release("merge")
        await until(pilot, lambda: run_state(session) is RunState.FAILED, "the run to fail")
        # The task events reach the viewer too, in order (the dashboard takes them in
        # batches: the socket hands them on at its next tick).
        await until(pilot, lambda: "workflow_end" in viewer.events(), "the run's end event")
        heard = [(m["event"], m.get("task")) for m in viewer.messages if m.get("type") == "event"]
        assert (
            heard.index(("task_end", "merge"))
            < heard.index(("task_start", "publish"))
            < heard.index(("task_end", "publish"))
            < heard.index(("workflow_end", None))
        )
        # `retry` over the socket once the run ended (the only time it can): the same
        # controls as R start the new run, and a viewer follows it.
        await settle(pilot)
        reply = await client.request("retry", tasks=["publish"])
        assert reply["tasks"] == ["publish", "report"]  # and what was skipped after it
        await until(pilot, lambda: run_state(session) is RunState.FINISHED, "the retry")
        await until(pilot, lambda: viewer.events().count("workflow_end") == 2, "its end")
        assert "run_prepared" in viewer.events()
        await settle(pilot)
        assert "Run finished" in messages_text(app)

        await pilot.press("q")  # every task succeeded: quits at once
        await until(pilot, lambda: viewer.closed, "the viewer's connection to end")
    assert viewer.bye() == {"type": "bye", "status": "finished", "exit_code": 0}
    assert list_runs() == []


async def test_stop_from_the_socket_is_a_graceful_sigterm() -> None:
    bodies = Bodies()
    app = make_app(pipeline(bodies), grace=30.0)
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        await until(pilot, lambda: session.running == ["merge"], "merge running")
        server = app.control_server
        assert server is not None and server.info is not None
        viewer = Viewer()
        client = AsyncControlClient(server.info, viewer.on_message, viewer.on_closed)
        await client.connect()
        await client.request("subscribe")
        await client.request("stop")
        await settle(pilot)
        assert "stop asked by flow-tui stop" in messages_text(app).lower()
        assert footer_action(app, "p") == "resume"  # nothing new starts
        bodies.release("merge")  # merge finishes within the grace period
        await until(pilot, lambda: viewer.closed, "the dashboard to close")
    assert app.return_value == 143
    bye = viewer.bye()
    assert bye is not None and bye["exit_code"] == 143 and bye["status"] == "cancelled"


async def test_no_control_serves_no_socket() -> None:
    app = make_app(pipeline(Bodies(), gate=()), SessionOptions(control=False))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: run_state(app.session).is_over, "the run to end")
        assert app.control_server is None
        assert list_runs() == []
