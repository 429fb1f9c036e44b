"""Fixtures for the tests that drive the real `flow-tui` process.

The sample workflows take seconds each (train_model about 17 s). A test marked
`@pytest.mark.sample_run("key")` gets the result of a headless run of the sample named in
SAMPLE_RUNS; every selected run is started in the background as soon as the tests are
collected, so they overlap the other tests instead of adding up.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowcli import SAMPLES, Result, Running, Workspace, base_env

#: key -> (sample file, extra environment)
SAMPLE_RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "nightly_etl": ("nightly_etl.py", {}),
    "deploy_pipeline": ("deploy_pipeline.py", {}),
    "deploy_pipeline_webhook": (
        "deploy_pipeline.py",
        {"DEPLOY_WEBHOOK": "https://chat.invalid/hooks/deploys"},
    ),
    "train_model": ("train_model.py", {}),
    "large_graph": ("large_graph.py", {"FLOW_TUI_TASKS": "300"}),
    "large_graph_default": ("large_graph.py", {}),
}

_runs: dict[str, Running] = {}
_folder: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sample_run(key): the test reads the background headless run of a sample"
    )
    config.addinivalue_line("markers", "slow: takes more than a few seconds of wall time")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keys = []
    for item in items:
        marker = item.get_closest_marker("sample_run")
        if marker is not None and marker.args[0] not in keys:
            keys.append(marker.args[0])
    if not keys:
        return
    folder = Path(tempfile.mkdtemp(prefix="flow-tui-samples-"))
    _folder.append(folder)
    for key in keys:
        sample, extra = SAMPLE_RUNS[key]
        cwd = folder / key
        cwd.mkdir()
        _runs[key] = Running(
            ["launch", str(SAMPLES / sample), "--headless", "--output", "jsonl"],
            cwd,
            base_env(**extra),
            "sample",
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    for running in _runs.values():
        running.kill()
    for folder in _folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def sample_result(request: pytest.FixtureRequest) -> Result:
    """The finished background run named by the test's `sample_run` marker."""
    marker = request.node.get_closest_marker("sample_run")
    assert marker is not None, "mark the test with @pytest.mark.sample_run(key)"
    return _runs[marker.args[0]].wait(timeout=90)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path)
    try:
        yield workspace
    finally:
        workspace.close()
