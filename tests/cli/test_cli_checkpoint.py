"""`--checkpoint` and `--resume` through the real process: refusals (exit 2, file untouched)
and the normal `--resume PATH --checkpoint PATH` continuation."""

from __future__ import annotations

import os
import shutil

import pytest
from flowcli import WORKFLOWS, Workspace, assert_usage_error, wait_until

from flow_tui import Snapshot, TaskStatus

SIMPLE = WORKFLOWS / "simple.py"


def test_checkpoint_is_written_and_a_resume_runs_only_what_did_not_succeed(
    ws: Workspace,
) -> None:
    first = ws.run(
        "launch", SIMPLE, "--headless", "--checkpoint", "ck.toml", env={"FAIL_TRANSFORM": "1"}
    )
    assert first.returncode == 1, first
    assert ws.started() == ["extract", "transform"]
    saved = Snapshot.load(ws.path / "ck.toml")
    assert saved.workflow == "simple"
    assert {n: r.status for n, r in saved.results.items()} == {
        "extract": TaskStatus.SUCCESS,
        "transform": TaskStatus.FAILURE,
        "load": TaskStatus.SKIPPED,
    }
    assert not (ws.path / "ck.toml.lock").exists()
    assert not (ws.path / "ck.toml.journal").exists()

    ws.reset_calls()
    second = ws.run(
        "launch", SIMPLE, "--headless", "--resume", "ck.toml", "--checkpoint", "ck.toml"
    )
    assert second.returncode == 0, second
    assert ws.started() == ["transform", "load"]  # extract succeeded: never again
    resumed = Snapshot.load(ws.path / "ck.toml")
    assert all(r.status is TaskStatus.SUCCESS for r in resumed.results.values())
    assert resumed.status == "finished"

    ws.reset_calls()
    third = ws.run("launch", SIMPLE, "--headless", "--resume", "ck.toml", "--checkpoint", "ck.toml")
    assert third.returncode == 0, third
    assert ws.started() == []


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_existing_checkpoint_without_resume_is_refused_and_untouched(
    ws: Workspace, suffix: str
) -> None:
    name = f"ck{suffix}"
    assert ws.run("launch", SIMPLE, "--headless", "--checkpoint", name).returncode == 0
    path = ws.path / name
    before = path.read_bytes()
    mtime = os.stat(path).st_mtime_ns
    ws.reset_calls()

    result = ws.run("launch", SIMPLE, "--headless", "--checkpoint", name)
    line = assert_usage_error(result, name, "already exists", f"--resume {name}")
    assert "Traceback" not in line
    assert path.read_bytes() == before
    assert os.stat(path).st_mtime_ns == mtime
    assert ws.calls() == []
    assert sorted(p.name for p in ws.path.iterdir() if p.name.startswith("ck")) == [name]


def test_resume_of_one_file_with_checkpoint_in_another_that_exists_is_refused(
    ws: Workspace,
) -> None:
    assert ws.run("launch", SIMPLE, "--headless", "--checkpoint", "a.json").returncode == 0
    assert ws.run("launch", SIMPLE, "--headless", "--checkpoint", "b.json").returncode == 0
    before = (ws.path / "b.json").read_bytes()
    ws.reset_calls()
    result = ws.run("launch", SIMPLE, "--headless", "--resume", "a.json", "--checkpoint", "b.json")
    assert_usage_error(result, "b.json", "already exists", "--resume b.json")
    assert (ws.path / "b.json").read_bytes() == before
    assert ws.calls() == []


def test_resume_into_a_new_checkpoint_file(ws: Workspace) -> None:
    assert ws.run("launch", SIMPLE, "--headless", "--checkpoint", "a.toml").returncode == 0
    ws.reset_calls()
    result = ws.run("launch", SIMPLE, "--headless", "--resume", "a.toml", "--checkpoint", "b.json")
    assert result.returncode == 0, result
    assert ws.calls() == []
    assert set(Snapshot.load(ws.path / "b.json").results) == {"extract", "transform", "load"}


#: case -> (file name, content, what the one error line names)
CORRUPT: dict[str, tuple[str, str | bytes, tuple[str, ...]]] = {
    "toml syntax": ("bad.toml", "results = [\n", ("bad.toml", "TOML")),
    "json syntax": ("bad.json", '{"format": "flow-tui-snapshot",', ("bad.json", "JSON")),
    "not a snapshot": ("bad.json", '{"hello": "world"}\n', ("bad.json", "not a flow-tui snapshot")),
    "bad status": (
        "bad.json",
        '{"format": "flow-tui-snapshot", "version": 2, "results": {"extract": {"status": "done"}}}',
        ("bad.json", "extract", "'done'"),
    ),
    "binary": ("bad.toml", b"\xff\xfe\x00garbage", ("bad.toml", "UTF-8")),
}


@pytest.mark.parametrize("case", list(CORRUPT), ids=list(CORRUPT))
def test_corrupt_snapshot_is_refused(ws: Workspace, case: str) -> None:
    name, content, needles = CORRUPT[case]
    path = ws.path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = path.read_bytes()
    assert_usage_error(ws.run("launch", SIMPLE, "--headless", "--resume", name), *needles)
    assert_usage_error(
        ws.run("launch", SIMPLE, "--headless", "--resume", name, "--checkpoint", name), *needles
    )
    assert_usage_error(ws.run("inspect", name), *needles)
    assert_usage_error(ws.run("graph", SIMPLE, "--snapshot", name), *needles)
    assert path.read_bytes() == before
    assert ws.calls() == []


def test_missing_snapshot_is_refused(ws: Workspace) -> None:
    assert_usage_error(
        ws.run("launch", SIMPLE, "--headless", "--resume", "nowhere.toml"),
        "nowhere.toml",
        "does not exist",
    )


def test_snapshot_of_another_workflow_is_refused_unless_forced(ws: Workspace) -> None:
    assert ws.run("launch", SIMPLE, "--headless", "--checkpoint", "simple.toml").returncode == 0
    ws.reset_calls()
    mixed = WORKFLOWS / "mixed.py"
    result = ws.run("launch", mixed, "--headless", "--resume", "simple.toml")
    assert_usage_error(result, "simple.toml", "'simple'", "'mixed'", "--force")
    assert ws.calls() == []

    forced = ws.run("launch", mixed, "--headless", "--resume", "simple.toml", "--force")
    assert forced.returncode == 1, forced  # mixed has a failing task, by design
    assert "broken" in ws.started()
    # The graph differs: the plan is printed, naming kept, re-run, new and removed tasks.
    assert "the task graph changed" in forced.stderr
    assert "new: flaky, broken, after_broken, polished, conditional" in forced.stderr
    assert "removed: extract, transform, load" in forced.stderr

    assert_usage_error(ws.run("inspect", "simple.toml", "--workflow", mixed), "'simple'", "'mixed'")
    assert ws.run("inspect", "simple.toml", "--workflow", mixed, "--force").returncode == 0
    assert_usage_error(ws.run("graph", mixed, "--snapshot", "simple.toml"), "'simple'", "'mixed'")


def test_changed_graph_prints_the_resume_plan_and_goes_on(ws: Workspace) -> None:
    v1 = ws.write(
        "flow.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): return 1\n"
        "workflow = Workflow('flow', steps=[TaskStep('a', body), TaskStep('b', body, ['a']),\n"
        "    TaskStep('old', body)])\n",
    )
    assert ws.run("launch", v1, "--headless", "--checkpoint", "ck.json").returncode == 0
    ws.write(
        "flow.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): return 1\n"
        "workflow = Workflow('flow', steps=[TaskStep('a', body), TaskStep('b', body, ['a'],\n"
        "    version='2'), TaskStep('c', body, ['b'])])\n",
    )
    result = ws.run("launch", v1, "--headless", "--resume", "ck.json", "--checkpoint", "ck.json")
    assert result.returncode == 0, result
    err = result.stderr
    assert "resuming from ck.json: the task graph changed" in err
    assert "kept: a" in err
    assert "re-run: b (version changed)" in err
    assert "new: c" in err
    assert "removed: old" in err


@pytest.mark.parametrize(
    ("where", "needles"),
    [
        ("/proc/no_such_folder/ck.toml", ("/proc/no_such_folder", "cannot create")),
        ("a_file/ck.toml", ("a_file",)),
        ("/proc/flow-tui-ck.toml", ("/proc/flow-tui-ck.toml",)),
        ("ck.yaml", ("ck.yaml", ".json or .toml")),
    ],
    ids=["uncreatable folder", "under a regular file", "unwritable folder", "unknown suffix"],
)
def test_checkpoint_that_cannot_be_written_is_refused_before_any_task(
    ws: Workspace, where: str, needles: tuple[str, ...]
) -> None:
    (ws.path / "a_file").write_text("not a folder\n")
    result = ws.run("launch", SIMPLE, "--headless", "--checkpoint", where)
    assert_usage_error(result, *needles)
    assert ws.calls() == []
    assert (ws.path / "a_file").read_text() == "not a folder\n"


def test_checkpoint_creates_missing_parent_folders(ws: Workspace) -> None:
    result = ws.run("launch", SIMPLE, "--headless", "--checkpoint", "state/nightly/ck.toml")
    assert result.returncode == 0, result
    assert (ws.path / "state" / "nightly" / "ck.toml").is_file()


def test_checkpoint_under_a_regular_file_says_it_is_not_a_folder(ws: Workspace) -> None:
    (ws.path / "a_file").write_text("x")
    result = ws.run("launch", SIMPLE, "--headless", "--checkpoint", "a_file/ck.toml")
    assert_usage_error(result, "a_file", "not a folder")


def test_dry_run_with_a_checkpoint_is_refused(ws: Workspace) -> None:
    # A dry run "succeeds" every task without running it; a checkpoint of that would make
    # a later --resume skip all the real work.
    result = ws.run("launch", SIMPLE, "--headless", "--dry-run", "--checkpoint", "ck.toml")
    assert_usage_error(result, "--dry-run", "--checkpoint")
    assert not (ws.path / "ck.toml").exists()
    assert ws.calls() == []


def test_checkpoint_in_use_by_a_live_run_is_refused(ws: Workspace) -> None:
    recorder = WORKFLOWS / "recorder.py"
    running = ws.start("launch", recorder, "--headless", "--checkpoint", "ck.json", "--grace", "0")
    ws.wait_started("finishes_in_grace", "outlives_grace")
    result = ws.run(
        "launch", recorder, "--headless", "--resume", "ck.json", "--checkpoint", "ck.json"
    )
    assert_usage_error(result, "ck.json", "in use", str(running.proc.pid))
    ws.open_gate("finishes_in_grace")
    ws.open_gate("outlives_grace")
    assert running.wait().returncode == 0


def test_checkpoint_holds_every_ended_task_during_the_run_and_survives_a_kill(
    ws: Workspace,
) -> None:
    recorder = WORKFLOWS / "recorder.py"
    running = ws.start("launch", recorder, "--headless", "--checkpoint", "ck.toml")
    ws.wait_started("finishes_in_grace", "outlives_grace")
    ws.open_gate("finishes_in_grace")
    wait_until(lambda: "after_in_grace:done" in ws.calls(), "after_in_grace to end")

    def saved_statuses() -> dict[str, TaskStatus]:
        return {n: r.status for n, r in Snapshot.load(ws.path / "ck.toml").results.items()}

    # Durable before dependents are released: what ended is in the checkpoint now.
    wait_until(lambda: len(saved_statuses()) == 3, "three results in the checkpoint", 5)
    assert saved_statuses() == {
        "first": TaskStatus.SUCCESS,
        "finishes_in_grace": TaskStatus.SUCCESS,
        "after_in_grace": TaskStatus.SUCCESS,
    }
    assert "outlives_grace" in Snapshot.load(ws.path / "ck.toml").interrupted
    running.proc.kill()  # no chance to save anything more
    running.proc.wait()

    ws.reset_calls()
    ws.open_gate("outlives_grace")
    result = ws.run(
        "launch", recorder, "--headless", "--resume", "ck.toml", "--checkpoint", "ck.toml"
    )
    assert result.returncode == 0, result
    assert sorted(ws.started()) == ["after_outlives", "outlives_grace"]


def test_a_checkpoint_that_cannot_be_saved_during_the_run_exits_2(ws: Workspace) -> None:
    recorder = WORKFLOWS / "recorder.py"
    (ws.path / "state").mkdir()
    running = ws.start(
        "launch", recorder, "--headless", "--checkpoint", "state/ck.toml", "--output", "jsonl"
    )
    ws.wait_started("finishes_in_grace", "outlives_grace")
    shutil.rmtree(ws.path / "state")  # the disk went away under the run
    ws.open_gate("finishes_in_grace")
    ws.open_gate("outlives_grace")
    result = running.wait()
    assert result.returncode == 2, result
    events = result.events()
    failed = [e for e in events if e["event"] == "checkpoint_failed"]
    assert failed and "state/ck.toml" in failed[0]["error"]
    assert events[-1]["event"] == "summary" and events[-1]["exit_code"] == 2
    assert "state/ck.toml" in events[-1]["checkpoint_error"]
