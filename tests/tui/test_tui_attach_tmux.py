"""End to end in tmux: `flow-tui attach` on a headless run in the background (read the
screen, pause, detach, check what the run wrote), and a dashboard launched in tmux that
serves its socket (a `flow-tui pause` request flips it to paused on screen)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from flow_tui import Snapshot, TaskStatus
from flow_tui.control.client import ControlClient
from flow_tui.control.registry import DIR_ENV, RunInfo, list_runs

from .attach_helpers import HeadlessRun
from .test_tui_e2e_tmux import WORKFLOWS, Terminal, exited, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.close()


@pytest.fixture
def headless(tmp_path: Path, runtime: Path) -> Iterator[HeadlessRun]:
    run = HeadlessRun(tmp_path, runtime)
    try:
        yield run
    finally:
        run.kill()


def test_attach_in_tmux_pauses_and_detaches_while_the_run_goes_on(
    terminal: Terminal, headless: HeadlessRun, runtime: Path, tmp_path: Path
) -> None:
    run = headless
    run.wait_started("charge", "load")
    info = run.info()
    env = {DIR_ENV: str(runtime)}
    done = terminal.launch("view", info.id[:4], workflow=None, command_name="attach", env=env)
    screen = partial(terminal.screen, "view")
    wait_for(lambda: f"attached to {info.id} (pid {info.pid})" in screen(), "attached", screen)
    wait_for(lambda: "2 running" in screen() and "✔ extract" in screen(), "the tree", screen)

    terminal.keys("view", "p")
    wait_for(lambda: "pausing (2 running)" in screen(), "pausing", screen)
    wait_for(lambda: "p Resume" in screen(), "the footer's Resume", screen)
    assert "workflow_paused" in run.event_names()

    terminal.keys("view", "d")
    wait_for(partial(exited, done), "the viewer to exit", screen)
    assert exited(done) == "0"
    assert run.process.proc.poll() is None  # the run goes on without its viewer

    run.open("charge")
    run.open("load")
    # Paused: nothing new starts until someone resumes; a script does (flow-tui resume).
    wait_for(lambda: "load:done" in run.calls(), "load to end", screen)
    with ControlClient(info) as client:
        client.request("resume")
    result = run.process.wait()
    assert result.returncode == 0, result
    assert sorted(run.started()) == ["charge", "extract", "load", "report"]
    final = Snapshot.load(tmp_path / "ck.toml")
    assert {r.status for r in final.results.values()} == {TaskStatus.SUCCESS}


def test_a_dashboard_in_tmux_serves_its_socket(
    terminal: Terminal, runtime: Path, tmp_path: Path
) -> None:
    done = terminal.launch("dash", "--checkpoint", "ck.toml", env={DIR_ENV: str(runtime)})
    screen = partial(terminal.screen, "dash")
    wait_for(lambda: "1 running" in screen(), "transform running", screen)
    runs: list[RunInfo] = []

    def served() -> bool:
        runs[:] = list_runs()
        return bool(runs)

    wait_for(served, "the dashboard's socket", screen)
    info = runs[0]
    assert info.front_end == "dashboard"

    with ControlClient(info) as client:
        client.request("pause")  # what `flow-tui pause` sends
        wait_for(lambda: "pausing (1 running)" in screen(), "paused on screen", screen)
        wait_for(lambda: "p Resume" in screen(), "the footer's Resume", screen)
        client.request("subscribe")
        client.request("stop")  # like SIGTERM: the running task gets its grace period
        wait_for(lambda: "Stop asked by flow-tui stop" in screen(), "the stop notice", screen)
        (tmp_path / "gate").touch()  # transform ends within the grace period
        bye = client.wait_end()
    assert bye is not None and bye["exit_code"] == 143
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == "143"
    assert list_runs() == []
    saved = Snapshot.load(tmp_path / "ck.toml")
    assert saved.results["transform"].status is TaskStatus.SUCCESS


def test_an_attached_clock_survives_a_retry_in_the_runs_dashboard(
    terminal: Terminal, runtime: Path, tmp_path: Path
) -> None:
    """The run's dashboard retries its failed task: the attached view's clock goes on
    from the run's time, as the dashboard's own does (it started again from 0:00)."""
    env = {DIR_ENV: str(runtime)}
    terminal.launch("dash", workflow=WORKFLOWS / "retry_flow.py", env=env)
    dash = partial(terminal.screen, "dash")
    wait_for(lambda: "1 running" in dash(), "slow running", dash)
    wait_for(lambda: bool(list_runs()), "the dashboard's socket", dash)
    terminal.launch("view", workflow=None, command_name="attach", env=env)
    view = partial(terminal.screen, "view")
    wait_for(lambda: "attached to" in view() and "⏱ 0:02" in view(), "two seconds", view)
    (tmp_path / "gate").touch()
    wait_for(lambda: "✘ failed" in view(), "the run failed, in the view", view)
    (tmp_path / "gate.fixed").touch()
    terminal.keys("dash", "R")  # retry every failed task, in the run's own dashboard
    wait_for(lambda: "✔ finished" in dash(), "the retry to finish", dash)
    wait_for(lambda: "✔ finished" in view(), "the view to see it", view)
    header = next(line for line in view().splitlines() if "⏱" in line)
    assert "⏱ 0:00" not in header and "⏱ 0:0" in header, header
