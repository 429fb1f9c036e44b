"""The registry of runs (one private folder, a socket and a record per run) and the
protocol's framing: unit tests, no run process."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flow_tui.control.protocol import (
    COMMANDS,
    MAX_MESSAGE,
    PROTOCOL_VERSION,
    ProtocolError,
    as_messages,
    decode,
    encode,
    event_line,
)
from flow_tui.control.registry import (
    DIR_ENV,
    ControlError,
    RunInfo,
    list_runs,
    resolve_run,
    runtime_dir,
    write_info,
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DIR_ENV, str(tmp_path / "rt"))
    return tmp_path / "rt"


def info(
    ident: str,
    pid: int,
    workflow: str,
    checkpoint: str | None = None,
    source: str | None = None,
) -> RunInfo:
    return RunInfo(
        id=ident,
        pid=pid,
        workflow=workflow,
        socket=f"/nowhere/{ident}.sock",
        started=f"2026-01-01T00:00:0{len(ident) % 10}+00:00",
        checkpoint=checkpoint,
        source=source,
    )


RUNS = [
    info("a1b2c3d4", 101, "nightly", "/data/state/n.toml"),
    info("a1ff0000", 202, "hourly"),
    info("b0000000", 303, "hourly", "/data/h.json"),
    info("c0000000", 404, "train-model", source="/srv/flows/train_model.py"),
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("a1b2c3d4", "a1b2c3d4"),  # id
        ("a1b", "a1b2c3d4"),  # unique prefix
        ("202", "a1ff0000"),  # pid
        ("nightly", "a1b2c3d4"),  # workflow name, one run has it
        ("/data/h.json", "b0000000"),  # checkpoint path
        ("/data/state/../state/n.toml", "a1b2c3d4"),  # the same path, spelled otherwise
        ("train_model.py", "c0000000"),  # the workflow's file
        ("train_model", "c0000000"),  # ... without .py
        ("/srv/flows/train_model.py", "c0000000"),
        ("train", "c0000000"),  # the start of one workflow name
    ],
)
def test_resolve_run_forms(spec: str, expected: str) -> None:
    assert resolve_run(spec, RUNS).id == expected


def test_resolve_run_refusals_list_what_exists() -> None:
    with pytest.raises(ControlError, match=r"'a1' matches 2 runs: a1b2c3d4 nightly .*a1ff0000"):
        resolve_run("a1", RUNS)
    with pytest.raises(ControlError, match=r"'hourly' matches 2 runs: a1ff0000 .*b0000000"):
        resolve_run("hourly", RUNS)
    with pytest.raises(ControlError, match=r"no run matches 'weekly'; running: a1b2c3d4 nightly"):
        resolve_run("weekly", RUNS)
    with pytest.raises(ControlError, match=r"'h' matches 2 runs"):  # two workflows start so
        resolve_run("h", RUNS)
    with pytest.raises(ControlError, match="4 runs are running; name one"):
        resolve_run(None, RUNS)
    with pytest.raises(ControlError, match="no flow-tui run of yours"):
        resolve_run("a1", [])
    assert resolve_run(None, RUNS[:1]).id == "a1b2c3d4"


def test_resolve_checkpoint_relative_to_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = info("c0ffee00", 1, "w", str(tmp_path / "state" / "ck.toml"))
    monkeypatch.chdir(tmp_path)
    assert resolve_run("state/ck.toml", [run]).id == "c0ffee00"


def test_runtime_folder_private_and_an_open_one_refused(folder: Path) -> None:
    made = runtime_dir()
    assert made == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    folder.chmod(0o755)
    for create in (True, False):
        with pytest.raises(ControlError, match=r"open to other users \(mode 0755\)"):
            runtime_dir(create=create)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # not changed behind your back
    with pytest.raises(ControlError, match="chmod 700"):
        list_runs()


def test_runtime_folder_of_another_user_or_a_link_refused(folder: Path, tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("chown to another user needs root")
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(ControlError, match="not a folder owned by you"):
        runtime_dir()
    folder.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ControlError, match="not a folder owned by you"):
        runtime_dir()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _socket_file(path: Path, listening: bool) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    if listening:
        sock.listen()
        return sock
    sock.close()  # the file stays, nothing answers: a dead run's socket
    return None


def test_list_runs_cleans_the_files_of_dead_runs(folder: Path) -> None:
    runtime_dir()
    live_sock = _socket_file(folder / "11111111.sock", listening=True)
    starting = _socket_file(folder / "22222222.sock", listening=True)  # no record yet
    try:
        live = RunInfo("11111111", os.getpid(), "w", str(folder / "11111111.sock"), "t1")
        write_info(live, folder)
        # a dead process; a live pid whose socket does not answer (a reused pid)
        for ident, pid in (("33333333", _dead_pid()), ("44444444", os.getpid())):
            _socket_file(folder / f"{ident}.sock", listening=False)
            write_info(RunInfo(ident, pid, "w", str(folder / f"{ident}.sock"), "t0"), folder)
        _socket_file(folder / "55555555.sock", listening=False)  # a socket without record
        (folder / "66666666.json").write_text("{not json", encoding="utf-8")
        (folder / "77777777.json").write_text(json.dumps({"id": 7}), encoding="utf-8")

        assert [r.id for r in list_runs(clean=False)] == ["11111111"]
        assert len(list(folder.iterdir())) == 10  # nothing removed without `clean`
        assert [r.id for r in list_runs()] == ["11111111"]
        assert sorted(p.name for p in folder.iterdir()) == [
            "11111111.json",
            "11111111.sock",
            "22222222.sock",
        ]
    finally:
        for sock in (live_sock, starting):
            assert sock is not None
            sock.close()


def test_record_private_and_round_trips(folder: Path) -> None:
    runtime_dir()
    run = info("abcdef01", 42, "nightly", "/x.toml")
    path = write_info(run, folder)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert RunInfo.from_dict(json.loads(path.read_text())) == run
    with pytest.raises(ValueError):
        RunInfo.from_dict({"id": 1, "pid": "x", "workflow": "w", "socket": "s", "started": ""})


def test_protocol_lines() -> None:
    message = {"type": "hello", "version": PROTOCOL_VERSION, "name": "nœud"}
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == message
    assert MAX_MESSAGE == 1 << 20
    assert set(COMMANDS) == {
        "status",
        "state",
        "subscribe",
        "snapshot",
        "pause",
        "resume",
        "retry",
        "save",
        "stop",
    }
    for bad in (b"{", b"[1, 2]", b"\xff\xfe\n", b"null", b"[" * 100_000, b'"text"'):
        with pytest.raises(ProtocolError):
            decode(bad)


def test_event_lines_are_the_jsonl_objects_plus_type() -> None:
    """The fast path of task_start / task_end writes the same objects as event_fields."""
    from datetime import UTC, datetime

    from flow_tui import TaskResult, TaskStatus, TaskStep
    from flow_tui.control.protocol import EventLines, event_fields
    from flow_tui.core.events import Event, TaskEnd, TaskStart, WorkflowEnd
    from flow_tui.core.model import RunStatus, TaskMetrics

    async def body(ctx: object) -> None:
        return None

    step = TaskStep('odd "name" \\ é', body)
    now = datetime.now(UTC)
    metrics = TaskMetrics(now, now, 1234.56789, 2)
    samples: list[Event] = [
        TaskStart(step, 3),
        TaskEnd(step, TaskResult(TaskStatus.SUCCESS, metrics=metrics)),
        TaskEnd(step, TaskResult(TaskStatus.SUCCESS, metrics=TaskMetrics(now, now, 0.0, 0))),
        TaskEnd(step, TaskResult(TaskStatus.SKIPPED, metrics=metrics)),
        TaskEnd(step, TaskResult(TaskStatus.SUCCESS)),  # no metrics
        TaskEnd(step, TaskResult(TaskStatus.FAILURE, error="boom", metrics=metrics)),
        TaskEnd(step, TaskResult(TaskStatus.CANCELLED, message="m", metrics=metrics), True),
        WorkflowEnd(results={}, status=RunStatus.FINISHED),
    ]
    lines = EventLines("wf", "/run/x.sock")
    for event in samples:
        line = lines.line(event)
        assert lines.line(event) is line  # told again (the server after the reporter)
        message = as_messages([line])  # as the server sends it
        for text in (line, message):
            assert text.endswith(b"\n") and text.count(b"\n") == 1
        got = decode(line)
        sent = decode(message)
        expected = event_fields(event, "wf", "/run/x.sock")
        # Byte for byte what json.dumps writes (scripts grep `"task": "name"`).
        same_ts = {**expected, "ts": got["ts"]}
        assert line == (json.dumps(same_ts, ensure_ascii=False) + "\n").encode(), event
        for obj in (got, sent, expected):
            ts = datetime.fromisoformat(obj.pop("ts"))  # ISO 8601 with milliseconds, UTC
            assert ts.utcoffset() is not None and not ts.utcoffset()
        assert list(got) == list(expected), event  # same keys, same order
        assert got == expected, event
        assert sent == {"type": "event", **expected}, event


_TEXT = st.text(st.sampled_from(["a", "{", "}", "\n", '"', "\\", "é", " ", ":", ","]), max_size=8)


@given(
    st.lists(
        st.dictionaries(
            _TEXT.filter(lambda k: k != "type"),
            st.one_of(_TEXT, st.integers(), st.none(), st.lists(_TEXT, max_size=2)),
            min_size=1,
            max_size=4,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_batch_of_jsonl_events_becomes_messages_with_type_first(
    objects: list[dict[str, object]],
) -> None:
    lines = [event_line(obj) for obj in objects]
    batch = as_messages(lines)
    sent = batch.split(b"\n")
    assert sent.pop() == b""  # every message ends its line
    assert [decode(line) for line in sent] == [{"type": "event", **obj} for obj in objects]
    assert all(next(iter(decode(line))) == "type" for line in sent)
    assert as_messages(lines[:1]) == sent[0] + b"\n"
