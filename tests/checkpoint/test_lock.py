"""One process at a time per checkpoint: the second is refused naming the holder; the lock
of a process that is gone is taken over."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from ckhelpers import FLOW_TUI, WORKFLOWS, child_env, resume_headless, step, workflow

from flow_tui.checkpoint import CheckpointLock, CheckpointLockError
from flow_tui.session import Session, SessionOptions

GATED = WORKFLOWS / "gated.py"


def _lock_file(ck: Path) -> Path:
    return ck.with_name(ck.name + ".lock")


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: the pid names no process now
    return child.pid


def _wait_until(predicate: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _start_gated(ck: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = child_env({"CK_GATE": str(tmp_path / "gate"), "CK_CALLS": str(tmp_path / "calls")})
    return subprocess.Popen(
        [str(FLOW_TUI), "launch", str(GATED), "--headless", "--checkpoint", str(ck), *extra],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls"
    return path.read_text().split() if path.exists() else []


def test_a_second_process_is_refused_naming_the_pid_and_host(tmp_path: Path) -> None:
    ck = tmp_path / "ck.toml"
    first = _start_gated(ck, tmp_path)
    try:
        _wait_until(lambda: "wait" in _calls(tmp_path), "the first run to start")
        second = resume_headless(GATED, ck, cwd=tmp_path, env={"CK_GATE": str(tmp_path / "gate")})
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1, second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert f"host {socket.gethostname()}" in second.stderr
        assert _calls(tmp_path) == ["wait"]  # the refused process ran nothing
    finally:
        (tmp_path / "gate").touch()
    _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert not _lock_file(ck).exists()


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    ck = tmp_path / "ck.json"
    first = _start_gated(ck, tmp_path)
    _wait_until(lambda: "wait" in _calls(tmp_path), "the first run to start")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    holder = json.loads(_lock_file(ck).read_text())
    assert holder["pid"] == first.pid  # the killed run left its lock behind
    (tmp_path / "gate").touch()
    again = resume_headless(GATED, ck, cwd=tmp_path, env={"CK_GATE": str(tmp_path / "gate")})
    assert again.returncode == 0, again.stderr
    assert not _lock_file(ck).exists()


def test_a_stale_lock_file_of_a_dead_pid_is_taken_over(tmp_path: Path) -> None:
    ck = tmp_path / "ck.toml"
    _lock_file(ck).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    session = Session.open(workflow([step("a")]), SessionOptions(checkpoint=ck))
    try:
        holder = json.loads(_lock_file(ck).read_text())
        assert holder["pid"] == os.getpid()
        with pytest.raises(CheckpointLockError, match=f"pid {os.getpid()} on host"):
            Session.open(workflow([step("a")]), SessionOptions(checkpoint=ck, resume=ck))
    finally:
        session.close_now()
    assert not _lock_file(ck).exists()


def test_a_lock_written_on_another_host_is_respected(tmp_path: Path) -> None:
    ck = tmp_path / "ck.json"
    _lock_file(ck).write_text(json.dumps({"pid": 4242, "host": "build-7.example"}))
    with pytest.raises(CheckpointLockError) as refused:
        Session.open(workflow([step("a")]), SessionOptions(checkpoint=ck))
    assert "pid 4242 on host build-7.example" in str(refused.value)
    assert str(_lock_file(ck)) in str(refused.value)  # what to delete if it is stale
    assert not ck.exists()


def test_without_flock_the_pid_in_the_file_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    ck = tmp_path / "ck.json"
    live = subprocess.Popen(["sleep", "60"])
    try:
        _lock_file(ck).write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        with pytest.raises(CheckpointLockError, match=f"pid {live.pid}"):
            CheckpointLock(ck).acquire()
    finally:
        live.kill()
        live.wait()
    lock = CheckpointLock(ck)
    lock.acquire()  # that pid is gone now
    assert json.loads(_lock_file(ck).read_text())["pid"] == os.getpid()
    lock.release()
    assert not _lock_file(ck).exists()
