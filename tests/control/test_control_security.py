"""The control socket of a live run against another user and against broken clients:
refused or dropped, never blocking, crashing or steering the run. One run is shared by
the tests of this module; the last one lets it finish and checks its results."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flowcli import Running, base_env, check_jsonl, wait_until

from flow_tui import Snapshot, TaskStatus
from flow_tui.control.protocol import MAX_MESSAGE, encode

from .steer import RawClient, Steer, as_nobody_prefix, events, run_id

TASKS = {"first", "charge", "load", "report"}

PEER_CLIENT = """
import sys
from flow_tui.control.client import ControlClient
from flow_tui.control.registry import ControlError, RunInfo
info = RunInfo(id="x", pid=0, workflow="steered", socket=sys.argv[1], started="")
try:
    with ControlClient(info, timeout=10) as client:
        client.request("pause", interrupt=True)
    print("ACCEPTED")
except ControlError as exc:
    print("REFUSED", exc)
"""

#: hello and a command in one write, read only afterwards: the command must not run
EAGER_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"type":"hello","version":1}\\n{"id":1,"cmd":"pause","interrupt":true}\\n')
except OSError:
    pass  # refused before it was all sent
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


@dataclass
class Live:
    steer: Steer
    run: Running
    ident: str

    @property
    def socket(self) -> Path:
        return self.steer.runtime / f"{self.ident}.sock"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    runtime = Path(tempfile.mkdtemp(prefix="ft", dir="/tmp"))
    steer = Steer(tmp_path_factory.mktemp("live"), runtime)
    try:
        run = steer.launch("--checkpoint", "ck.toml")
        ident = run_id(run)
        steer.ws.wait_started("charge", "load")
        yield Live(steer, run, ident)
    finally:
        steer.close()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="module")
def nobody() -> list[str]:
    prefix = as_nobody_prefix()
    if prefix is None:
        pytest.skip(
            "cannot run a client as uid 65534: needs root and a working `setpriv` or "
            "`runuser`, and flow_tui importable by that user"
        )
    return prefix


def as_nobody(prefix: list[str], live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *args],
        capture_output=True,
        text=True,
        cwd="/",
        env=base_env(FLOW_TUI_RUNTIME_DIR=str(live.steer.runtime)),
        timeout=30,
    )


def assert_undisturbed(live: Live) -> None:
    """Still running, never paused, nothing started twice."""
    status = live.steer.run("ps", "--output", "json")
    assert status.returncode == 0, status
    assert '"state": "running"' in status.stdout, status
    assert not any(e["event"] == "workflow_paused" for e in events(live.run))
    assert sorted(live.steer.ws.started()) == ["charge", "first", "load"]


def test_another_user_cannot_list_or_steer_runs(live: Live, nobody: list[str]) -> None:
    flow_tui = str(Path(sys.executable).with_name("flow-tui"))
    for args in (["ps"], ["pause", live.ident], ["stop", live.ident]):
        result = as_nobody(nobody, live, flow_tui, *args)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and "not a folder owned by you" in result.stderr
    # the folder (0700) keeps it from the socket itself
    result = as_nobody(nobody, live, sys.executable, "-c", PEER_CLIENT, str(live.socket))
    assert result.stdout.startswith("REFUSED permission denied"), result
    assert_undisturbed(live)


def test_peer_credentials_refuse_another_user_with_open_modes(
    live: Live, nobody: list[str]
) -> None:
    folder = live.steer.runtime
    os.chmod(folder, 0o755)
    os.chmod(live.socket, 0o666)
    try:
        result = as_nobody(nobody, live, sys.executable, "-c", PEER_CLIENT, str(live.socket))
        assert result.stdout.startswith("REFUSED run x: permission denied"), result
        assert "another user" in result.stdout, result
        eager = as_nobody(nobody, live, sys.executable, "-c", EAGER_CLIENT, str(live.socket))
        assert eager.returncode == 0, eager
        assert '"kind":"permission"' in eager.stdout and '"ok":true' not in eager.stdout
    finally:
        os.chmod(live.socket, 0o600)
        os.chmod(folder, 0o700)
    assert_undisturbed(live)


def fuzz(rng: random.Random, path: Path, target: Path) -> None:
    """One connection doing one broken thing."""
    kind = rng.choice(
        ["bytes", "bytes_after_hello", "huge", "half", "nested", "nonsense", "burst", "save"]
    )
    client = RawClient(path)
    try:
        if kind == "bytes":
            client.send(rng.randbytes(rng.randint(1, 4096)) + rng.choice([b"", b"\n"]))
        elif kind == "bytes_after_hello":
            client.hello()
            for _ in range(rng.randint(1, 20)):
                client.send(rng.randbytes(rng.randint(1, 512)).replace(b"\n", b"") + b"\n")
        elif kind == "huge":
            if rng.random() < 0.5:
                client.hello()
            client.send(b'{"id":1,"cmd":"pause","pad":"' + b"x" * (MAX_MESSAGE + 10) + b'"}\n')
        elif kind == "half":
            client.hello()
            whole = encode({"id": 1, "cmd": "pause", "interrupt": True})
            client.send(whole[: rng.randint(1, len(whole) - 1)])
            client.sock.shutdown(socket.SHUT_WR)
        elif kind == "nested":
            client.hello()
            client.send(b"[" * rng.randint(10_000, 500_000) + b"\n")
        elif kind == "nonsense":
            client.hello()
            for message in (
                {"cmd": 5},
                {"id": [1], "cmd": "pause", "interrupt": "yes"},
                {"id": 2, "cmd": "stop", "grace": -1},
                {"id": 3, "cmd": "save", "path": "relative.toml"},
                {"id": 4, "cmd": "resume", "mark_done": "charge"},
                {"id": 5, "cmd": "__import__('os')"},
                {"type": "hello", "version": 99},
            ):
                client.message(message)
                reply = client.receive()
                assert reply is not None and reply["ok"] is False, (message, reply)
        elif kind == "burst":
            client.hello()
            client.send(b'{"id":1,"cmd":"status"}\n' * rng.randint(100, 5000))
        elif kind == "save":
            # a save asked, then gone at once: the file is whole or absent, never half
            client.hello()
            client.message({"id": 1, "cmd": "save", "path": str(target)})
    except OSError:
        pass  # the server may drop us first: that is the point
    finally:
        client.close()


def test_fuzzed_clients_never_disturb_the_run(live: Live) -> None:
    seed = int(os.environ.get("FLOW_TUI_FUZZ_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    hung = [RawClient(live.socket) for _ in range(8)]  # connect and never speak
    try:
        wrong = RawClient(live.socket)
        wrong.message({"type": "hello", "version": 2})
        refused = wrong.receive()
        assert refused is not None and refused["kind"] == "version", refused
        assert wrong.receive() is None
        wrong.close()
        saves = live.steer.path / "saves"
        saves.mkdir()
        for i in range(150):
            fuzz(rng, live.socket, saves / f"s{i}.json")
        # a client that speaks after all that gets its answers at once
        client = RawClient(live.socket)
        client.hello()
        reply = client.request("status")
        assert reply["ok"] and reply["status"]["state"] == "running", (seed, reply)
        client.close()
    finally:
        for h in hung:
            h.close()
    # saves asked by clients that left at once finish on their own: whole files, and no
    # temporary file left behind
    wait_until(lambda: not list(saves.glob(".*.tmp")), f"saves to finish (seed {seed})")
    for path in saves.iterdir():
        assert path.suffix == ".json", (seed, path)
        Snapshot.load(path)
    assert_undisturbed(live)


def test_the_run_finishes_undisturbed(live: Live) -> None:
    ws = live.steer.ws
    ws.open_gate("charge")
    ws.open_gate("load")
    result = live.run.wait()
    assert result.returncode == 0, result
    out = check_jsonl(result, TASKS)
    assert [e["event"] for e in out].count("notice") == 0, out
    assert sorted(ws.started()) == sorted(TASKS)
    assert "Traceback" not in result.stderr and result.stderr == "", result
    final = Snapshot.load(ws.path / "ck.toml")
    assert {r.status for r in final.results.values()} == {TaskStatus.SUCCESS}
    assert list(live.steer.runtime.iterdir()) == []
