"""Driving runs and their control sockets from the control tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowcli import Result, Running, Workspace, wait_until

from flow_tui.control.protocol import decode, encode

HERE = Path(__file__).resolve().parent
STEERED = HERE / "workflows" / "steered.py"
NOBODY = 65534


class Steer:
    """A Workspace (tests/cli/flowcli.py) whose flow-tui processes share one private
    runtime folder: the runs it starts are those its `ps` and `pause` see."""

    def __init__(self, path: Path, runtime: Path) -> None:
        self.ws = Workspace(path)
        self.path = path
        self.runtime = runtime
        self.ws.env["FLOW_TUI_RUNTIME_DIR"] = str(runtime)

    def start(self, *args: str | Path, env: dict[str, str] | None = None) -> Running:
        return self.ws.start(*args, env=env)

    def launch(self, *extra: str | Path, workflow: str | Path = STEERED) -> Running:
        return self.start("launch", workflow, "--headless", "--output", "jsonl", *extra)

    def run(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        return self.ws.run(*args, env=env)

    def close(self) -> None:
        self.ws.close()


def events(running: Running) -> list[dict[str, Any]]:
    """The JSON Lines the run printed so far (a last line being written is left out)."""
    out = []
    for line in running.stdout.splitlines(keepends=True):
        if line.endswith("\n"):
            out.append(json.loads(line))
    return out


def run_id(running: Running) -> str:
    """The id of a run, from the socket its `workflow_start` names."""
    found: list[str] = []

    def started() -> bool:
        if running.proc.poll() is not None:
            raise AssertionError(f"the run exited early:\n{running.result()}")
        for event in events(running):
            if event["event"] == "workflow_start":
                found.append(Path(event["control"]).stem)
                return True
        return False

    wait_until(started, "the run's workflow_start")
    return found[0]


def socket_of(steer: Steer, ident: str) -> Path:
    return steer.runtime / f"{ident}.sock"


def has_event(running: Running, name: str, **fields: Any) -> bool:
    return any(
        e["event"] == name and all(e.get(k) == v for k, v in fields.items())
        for e in events(running)
    )


class RawClient:
    """A connection that sends whatever a test wants: bytes, half lines, nothing."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def message(self, obj: dict[str, Any]) -> None:
        self.send(encode(obj))

    def hello(self) -> dict[str, Any]:
        self.message({"type": "hello", "version": 1})
        reply = self.receive()
        assert reply is not None and reply["type"] == "hello", reply
        return reply

    def receive(self) -> dict[str, Any] | None:
        """The next message; None when the server closed the connection."""
        while b"\n" not in self.buffer:
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return decode(line)

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        self.message({"id": 1, "cmd": cmd, **args})
        while True:
            reply = self.receive()
            assert reply is not None, f"no reply to {cmd}"
            if reply.get("type") == "reply":
                return reply

    def close(self) -> None:
        self.sock.close()


def as_nobody_prefix() -> list[str] | None:
    """A command prefix that runs a program as uid/gid 65534, or None where none works."""
    if os.getuid() != 0:
        return None
    candidates = []
    if shutil.which("setpriv"):
        candidates.append(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        )
    if shutil.which("runuser"):
        candidates.append(["runuser", "-u", "nobody", "--"])
    for prefix in candidates:
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import os, flow_tui; print(os.getuid())"],
            capture_output=True,
            text=True,
            cwd="/",
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(NOBODY):
            return prefix
    return None
