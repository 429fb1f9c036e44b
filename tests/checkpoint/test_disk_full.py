"""Disk full and permission denied while saving: the previous checkpoint stays intact and
the failure is reported clearly (SnapshotError from Session.save; CheckpointFailed, exit 2
and one line from a headless run).

The OS is simulated by patching os functions in the file modules (for a few cases, in a
child process through a small wrapper around the real CLI entry point); one test uses a
real full disk, a 64 KiB tmpfs, when it can be mounted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ckhelpers import WORKFLOWS, child_env, dir_listing, flow_tui, resume_headless, step, workflow

from flow_tui import Snapshot, SnapshotError
from flow_tui.session import Session

GATED = WORKFLOWS / "gated.py"


def _raise(code: int) -> object:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize("suffix", [".json", ".toml"])
@pytest.mark.parametrize(
    ("function", "code", "reason"),
    [
        ("write", errno.ENOSPC, "No space left on device"),
        ("fsync", errno.EIO, "Input/output error"),
        ("replace", errno.EACCES, "Permission denied"),
        ("mkstemp", errno.EACCES, "Permission denied"),
    ],
)
def test_a_failed_save_leaves_the_previous_file_and_says_why(
    suffix: str,
    function: str,
    code: int,
    reason: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / f"run{suffix}"
    session = Session(workflow([step("a"), step("b")]))
    session.save(target)
    before = target.read_bytes()
    owner = tempfile if function == "mkstemp" else os
    monkeypatch.setattr(owner, function, _raise(code))
    with pytest.raises(SnapshotError) as failure:
        session.save(target)
    monkeypatch.undo()
    assert str(failure.value) == f"cannot write snapshot {target}: {reason}"
    assert target.read_bytes() == before
    assert dir_listing(tmp_path) == [target.name]  # no temp file left


# The real CLI, with os.<function> failing with ENOSPC/EACCES from its N-th call on.
FAULTY = """\
import errno, os, sys
name, after, code = sys.argv[1], int(sys.argv[2]), getattr(errno, sys.argv[3])
real = getattr(os, name)
calls = [0]
def faulty(*args):
    calls[0] += 1
    if calls[0] > after:
        raise OSError(code, os.strerror(code))
    return real(*args)
setattr(os, name, faulty)
from flow_tui.cli import main
sys.exit(main(sys.argv[4:]))
"""


def _faulty_run(
    tmp_path: Path, ck: Path, function: str, after: int, code: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = ["launch", str(GATED), "--headless", "--checkpoint", str(ck), *extra]
    return subprocess.run(
        [sys.executable, "-c", FAULTY, function, str(after), code, *args],
        cwd=tmp_path,
        env=child_env({"CK_TASKS": "40"}),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_journal_that_cannot_be_written_stops_the_run_with_exit_2_and_one_line(
    suffix: str, tmp_path: Path
) -> None:
    ck = tmp_path / f"ck{suffix}"
    done = _faulty_run(tmp_path, ck, "fdatasync", 2, "ENOSPC", "--output", "plain")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"flow-tui: checkpoint failed: cannot write journal {ck}.journal: No space left on device"
    ]
    loaded = Snapshot.load(ck)
    # The run stopped: most tasks never started (they end cancelled in the final file).
    assert loaded.counts()["success"] < 40
    assert loaded.counts()["cancelled"] > 0
    assert not ck.with_name(ck.name + ".lock").exists()
    assert [p for p in dir_listing(tmp_path) if p.endswith(".tmp")] == []


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_compaction_that_cannot_replace_the_file_keeps_the_old_one_and_its_journal(
    suffix: str, tmp_path: Path
) -> None:
    ck = tmp_path / f"ck{suffix}"
    # Open writes the checkpoint and the journal (2 renames); then every rename fails:
    # the compactions (forced often) and the final fold.
    wrapper = FAULTY.replace(
        "from flow_tui.cli import main",
        "import flow_tui.checkpoint as c\n"
        "c.MIN_COMPACT_BYTES = 512\nc.COMPACT_RATIO = 1\n"
        "from flow_tui.cli import main",
    )
    args = ["launch", str(GATED), "--headless", "--checkpoint", str(ck), "--output", "jsonl"]
    done = subprocess.run(
        [sys.executable, "-c", wrapper, "replace", "2", "EACCES", *args],
        cwd=tmp_path,
        env=child_env({"CK_TASKS": "40"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    failed = [e for e in events if e["event"] == "checkpoint_failed"]
    assert len(failed) == 1
    assert failed[0]["error"] == f"cannot write checkpoint {ck}: Permission denied"
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 2
    # The file of the open and its journal are still there and agree: what was durable
    # before the failure loads.
    loaded = Snapshot.load(ck)
    assert loaded.counts()["success"] >= 1
    assert ck.with_name(ck.name + ".journal").exists()
    assert [p for p in dir_listing(tmp_path) if p.endswith(".tmp")] == []


@contextlib.contextmanager
def small_tmpfs(size: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="flow-tui-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


def test_a_real_full_disk_mid_run_keeps_what_was_durable(tmp_path: Path) -> None:
    with small_tmpfs("64k") as disk:
        ck = disk / "ck.json"
        env = {"CK_TASKS": "60", "CK_DATA_BYTES": "2000"}  # 60 x 2 KB cannot fit in 64 KB
        done = flow_tui(
            "launch",
            GATED,
            "--headless",
            "--checkpoint",
            ck,
            "--output",
            "plain",
            cwd=disk,
            env=env,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            "flow-tui: checkpoint failed: cannot write journal "
            f"{ck}.journal: No space left on device"
        ]
        loaded = Snapshot.load(ck)
        assert 0 < len(loaded.results) < 60
        assert all(r.data == "x" * 2000 for r in loaded.results.values())
        assert [p for p in dir_listing(disk) if p.endswith(".tmp")] == []


def test_a_full_disk_at_resume_leaves_the_checkpoint_byte_for_byte(tmp_path: Path) -> None:
    with small_tmpfs("64k") as disk:
        ck = disk / "ck.toml"
        env = {"CK_TASKS": "10", "CK_DATA_BYTES": "1000"}
        first = flow_tui("launch", GATED, "--headless", "--checkpoint", ck, cwd=disk, env=env)
        assert first.returncode == 0, first.stderr
        before = ck.read_bytes()
        filler = disk / "filler"
        with open(filler, "wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 1024)
        again = resume_headless(GATED, ck, cwd=disk, env=env)
        assert again.returncode == 2
        assert again.stderr.splitlines() == [
            f"flow-tui: error: cannot write checkpoint {ck}: No space left on device"
        ]
        assert ck.read_bytes() == before
        assert sorted(dir_listing(disk)) == ["ck.toml", "filler"]
