"""Viewers of a live run: several at once; one that does not read is dropped with a line
in the run's output, and the others (and the run) go on to the end."""

from __future__ import annotations

import threading
from typing import Any

from flowcli import check_jsonl, wait_until

from .steer import STEERED, RawClient, Steer, events, run_id

LINES = 5_000  # 3 KB each: more than a viewer's 8 MiB of buffered events and the kernel's


def test_slow_viewer_is_dropped_others_read_to_the_end(steer: Steer) -> None:
    ws = steer.ws
    run = steer.start(
        "launch",
        f"{STEERED}:chatty",
        "--headless",
        "--output",
        "jsonl",
        env={"FLOW_TUI_TEST_LINES": str(LINES)},
    )
    ident = run_id(run)
    ws.wait_started("hold")
    socket_path = steer.runtime / f"{ident}.sock"

    reader = RawClient(socket_path, timeout=60)
    reader.hello()
    state = reader.request("subscribe")["state"]
    assert [t["name"] for t in state["tasks"]] == ["hold", "talk", "last"]
    assert state["running"] == ["hold"]
    seen: list[dict[str, Any]] = []

    def read() -> None:
        while (message := reader.receive()) is not None:
            seen.append(message)
            if message["type"] == "bye":
                return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()

    sleeper = RawClient(socket_path)
    sleeper.hello()
    assert sleeper.request("subscribe")["ok"]  # and never reads again

    ws.open_gate("hold")
    wait_until(
        lambda: any("dropped" in e.get("message", "") for e in events(run)), "the drop notice"
    )
    ws.open_gate("last")
    result = run.wait()
    thread.join(30)
    sleeper.close()
    reader.close()
    assert result.returncode == 0, result.stderr
    out = check_jsonl(result, {"hold", "talk", "last"})
    notices = [e["message"] for e in out if e["event"] == "notice"]
    assert len(notices) == 1, notices
    assert notices[0].startswith("viewer (pid ") and "did not read" in notices[0]
    # the reading viewer saw every event of the run, then how it ended
    assert seen[-1] == {"type": "bye", "status": "finished", "exit_code": 0}
    logs = [m for m in seen if m.get("event") == "task_log"]
    assert len(logs) == LINES
    ends = [m["task"] for m in seen if m.get("event") == "task_end"]
    assert ends == ["hold", "talk", "last"]
    assert all(m["type"] == "event" for m in seen[:-1])
    # what the run's operator read, its viewers read too
    assert [m["message"] for m in seen if m.get("event") == "notice"] == notices
