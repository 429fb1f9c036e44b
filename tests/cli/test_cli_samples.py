"""Each sample workflow runs headless with no network and finishes as designed.

The runs start in the background when the tests are collected (see conftest.py), so their
seconds of sleeping overlap the other tests.
"""

from __future__ import annotations

import pytest
from flowcli import SAMPLES, Result, Workspace, by_task, check_jsonl

NIGHTLY = {
    "extract_orders", "extract_customers", "extract_inventory", "transform_orders",
    "transform_customers", "transform_inventory", "load_warehouse", "build_report",
}  # fmt: skip
DEPLOY = {"build", "unit_tests", "lint", "migrate_database", "deploy", "notify_chat", "smoke_test"}
TRAIN = {
    "download_dataset", "fetch_base_weights", "preprocess", "train", "evaluate", "publish_model",
}  # fmt: skip


@pytest.mark.sample_run("nightly_etl")
def test_nightly_etl_succeeds_after_retrying_the_flaky_step(sample_result: Result) -> None:
    assert sample_result.returncode == 0, sample_result
    events = check_jsonl(sample_result, NIGHTLY)
    retries = [e for e in events if e["event"] == "task_retry"]
    assert [(e["task"], e["attempt"]) for e in retries] == [("transform_inventory", 2)]
    assert by_task(events, "task_end")["transform_inventory"]["attempt"] == 2
    assert events[-1]["counts"]["success"] == 8


@pytest.mark.sample_run("deploy_pipeline")
def test_deploy_pipeline_without_webhook_fails_only_the_notification(
    sample_result: Result,
) -> None:
    # notify_chat fails (no DEPLOY_WEBHOOK) with continue_on_error: smoke_test still runs,
    # and the run exits 1 because a task failed.
    assert sample_result.returncode == 1, sample_result
    events = check_jsonl(sample_result, DEPLOY)
    ends = by_task(events, "task_end")
    assert ends["notify_chat"]["status"] == "failure"
    assert "DEPLOY_WEBHOOK" in ends["notify_chat"]["error"]
    assert ends["smoke_test"]["status"] == "success"
    assert events[-1]["failed"] == ["notify_chat"]
    assert events[-1]["counts"]["success"] == 6


@pytest.mark.sample_run("deploy_pipeline_webhook")
def test_deploy_pipeline_with_webhook_succeeds(sample_result: Result) -> None:
    assert sample_result.returncode == 0, sample_result
    check_jsonl(sample_result, DEPLOY)


@pytest.mark.slow
@pytest.mark.sample_run("train_model")
def test_train_model_succeeds(sample_result: Result) -> None:
    assert sample_result.returncode == 0, sample_result
    events = check_jsonl(sample_result, TRAIN)
    ends = by_task(events, "task_end")
    assert ends["train"]["message"] == "loop finished after 6 iteration(s)"
    assert ends["evaluate"]["message"].startswith("accuracy ")


@pytest.mark.sample_run("large_graph")
def test_large_graph_of_300_tasks_succeeds(sample_result: Result) -> None:
    assert sample_result.returncode == 0, sample_result
    names = {f"L{i // 100}-{i % 100:03d}" for i in range(300)}
    events = check_jsonl(sample_result, names)
    assert events[-1]["counts"]["success"] == 300


@pytest.mark.sample_run("large_graph_default")
def test_large_graph_default_has_a_few_thousand_tasks_and_succeeds(
    sample_result: Result,
) -> None:
    assert sample_result.returncode == 0, sample_result
    summary = sample_result.events()[-1]
    assert summary["counts"]["success"] == 3000


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.py")))
def test_every_sample_validates(ws: Workspace, sample: str) -> None:
    result = ws.run("validate", SAMPLES / sample, env={"FLOW_TUI_TASKS": "300"})
    assert result.returncode == 0, result
    assert result.stdout.startswith("ok: workflow ")


def test_there_are_the_four_samples_the_issue_asks_for() -> None:
    assert {p.stem for p in SAMPLES.glob("*.py")} >= {
        "nightly_etl", "deploy_pipeline", "train_model", "large_graph",
    }  # fmt: skip
