"""`flow-tui launch WF --resume S --plan`: the plan, every reason, and nothing run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ckhelpers import WORKFLOWS, dir_listing, flow_tui, success

from flow_tui import Snapshot, TaskResult, TaskStatus

PLAN_FLOW = WORKFLOWS / "plan_flow.py"
EXPECTED_RERUN = {
    "failed": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "interrupted": "interrupted",
    "charge": "interrupted",
    "versioned": "version changed",
    "downstream": "upstream version changed",
}


def saved_run(path: Path) -> Path:
    names = ["kept", "failed", "cancelled", "skipped", "interrupted", "charge", "versioned"]
    Snapshot(
        results={
            "kept": success(),
            "failed": TaskResult(TaskStatus.FAILURE, error="boom"),
            "cancelled": TaskResult(TaskStatus.CANCELLED, message="cancelled"),
            "skipped": TaskResult(TaskStatus.SKIPPED, message="skipped because 'failed' failed"),
            "versioned": success(),
            "downstream": success(),
            "retired": success(),
        },
        workflow="plan-flow",
        tasks=[*names, "downstream", "retired"],
        versions={n: "1" for n in [*names, "downstream", "retired"]},
        interrupted=["interrupted", "charge"],
        status="cancelled",
    ).save(path)
    return path


@pytest.fixture(params=["json", "toml"])
def snapshot_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return saved_run(tmp_path / f"run.{request.param}")


def _env(tmp_path: Path) -> dict[str, str]:
    return {"CK_CALLS": str(tmp_path / "calls.log"), "CK_VERSION_VERSIONED": "2"}


def test_plan_as_json_gives_every_reason_and_runs_nothing(
    snapshot_file: Path, tmp_path: Path
) -> None:
    before = snapshot_file.read_bytes()
    listing = dir_listing(tmp_path)
    done = flow_tui(
        "launch",
        PLAN_FLOW,
        "--resume",
        snapshot_file,
        "--checkpoint",
        snapshot_file,
        "--plan",
        "--output",
        "json",
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["kept"] == ["kept"]
    assert doc["rerun"] == EXPECTED_RERUN
    assert doc["new"] == ["brand_new"]
    assert doc["removed"] == ["retired"]
    assert doc["needs_consent"] == ["charge"]
    rows = {row["task"]: row for row in doc["tasks"]}
    assert rows["kept"]["action"] == "keep"
    assert rows["brand_new"]["why"] == "new"
    assert {n: rows[n]["why"] for n in EXPECTED_RERUN} == EXPECTED_RERUN
    assert rows["charge"].get("needs_consent") is True
    # Nothing ran, nothing was written or locked.
    assert not (tmp_path / "calls.log").exists()
    assert snapshot_file.read_bytes() == before
    assert dir_listing(tmp_path) == listing


def test_plan_as_a_table_names_each_task_with_its_reason(
    snapshot_file: Path, tmp_path: Path
) -> None:
    done = flow_tui(
        "launch",
        PLAN_FLOW,
        "--resume",
        snapshot_file,
        "--plan",
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()

    def row(task: str) -> str:
        found = [ln for ln in lines if ln.startswith("  ") and ln.split()[:1] == [task]]
        assert len(found) == 1, (task, done.stdout)
        return found[0]

    for task, why in EXPECTED_RERUN.items():
        assert why in row(task) and "re-run" in row(task)
    assert "keep" in row("kept")
    assert "new" in row("brand_new")
    assert "needs consent" in row("charge")
    assert any("removed" in line and "retired" in line for line in lines)
    assert "--rerun-interrupted" in done.stdout and "--mark-done charge" in done.stdout
    assert not (tmp_path / "calls.log").exists()


def test_plan_of_a_crashed_checkpoint_reads_its_journal(tmp_path: Path) -> None:
    """--plan sees what a resume would: the checkpoint file with its journal folded in."""
    from ckhelpers import end_record, start_record, write_checkpoint

    ck = tmp_path / "ck.toml"
    base = Snapshot.load(saved_run(tmp_path / "base.toml"))
    write_checkpoint(
        ck, [start_record("failed"), end_record("failed", success()), start_record("kept")], base
    )
    done = flow_tui(
        "launch",
        PLAN_FLOW,
        "--resume",
        ck,
        "--plan",
        "--output",
        "json",
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert "failed" in doc["kept"]
    # "kept" was started again and never ended (a re-run cut off): interrupted now.
    assert doc["rerun"]["kept"] == "interrupted"
