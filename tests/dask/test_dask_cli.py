"""`flow-tui launch --headless --dask-address` against a real `dask scheduler` and two
`dask worker` processes on 127.0.0.1 (subprocesses), including workers killed mid-body and
the flow-tui process killed with SIGKILL mid-run; and what a local run imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import daskhelpers  # noqa: F401  (skips this module without the dask extra)
import pytest

from flow_tui import Snapshot, TaskStatus
from flow_tui.snapshot.journal import journal_path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _wait_for(path: Path) -> str:
    # A subprocess writes it; the test's timeout bounds the wait.
    while not (path.exists() and path.read_text().endswith("\n")):
        time.sleep(0.02)
    return path.read_text()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `dask scheduler` and two `dask worker` (nanny) processes; killed at the end."""
    folder = tmp_path_factory.mktemp("cluster")
    info = folder / "scheduler.json"
    env = {**os.environ, "DASK_LOGGING__DISTRIBUTED": "error"}
    procs = [
        subprocess.Popen(
            [
                BIN / "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        while not info.exists() or not info.read_text().strip().endswith("}"):
            time.sleep(0.05)
        address = json.loads(info.read_text())["address"]
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [
                        BIN / "dask",
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--name",
                        name,
                        "--host",
                        "127.0.0.1",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


WORKFLOW = """
import os, time
from pathlib import Path
from flow_tui import RetryPolicy, TaskStep, Workflow, upstream

HERE = Path({folder!r})

def hold(name):
    with (HERE / name).open("a") as f:
        f.write(f"{{os.getpid()}}\\n")
    while not (HERE / "release").exists():
        time.sleep(0.02)

def first(ctx):
    with (HERE / "first_runs").open("a") as f:
        f.write("run\\n")
    return 21

def charge(ctx):
    hold("charge_calls")
    return "charged"

def ingest(ctx):
    if not (HERE / "ingest_calls").exists():
        hold("ingest_calls")
    return upstream("first") * 2

def later(ctx):
    if not (HERE / "release").exists():
        hold("later_calls")
    return upstream("first")

workflow = Workflow(name="dask-cli", steps=[
    TaskStep("first", first),
    TaskStep("charge", charge, dependencies=["first"], idempotent=False),
    TaskStep("ingest", ingest, dependencies=["first"], retry=RetryPolicy(attempts=1)),
    TaskStep("later", later, dependencies=["first", "ingest"]),  # after ingest is durable
])
"""


def _launch(folder: Path, address: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            BIN / "flow-tui",
            "launch",
            str(folder / "wf.py"),
            "--headless",
            "--output",
            "jsonl",
            "--no-control",
            "--dask-address",
            address,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
    )


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _ends(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["task"]: e for e in events if e["event"] == "task_end"}


def _kill_worker_of(path: Path) -> None:
    os.kill(int(_wait_for(path).splitlines()[0]), signal.SIGKILL)


def test_killed_workers_mid_body_and_a_killed_flow_tui_then_resume(
    scheduler: str, tmp_path: Path
) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW.format(folder=str(tmp_path)))
    checkpoint = tmp_path / "run.json"
    run = _launch(tmp_path, scheduler, "--checkpoint", str(checkpoint), "--concurrency", "2")
    # The charge's worker dies mid-body: Dask reschedules it, the marker stops it.
    _kill_worker_of(tmp_path / "charge_calls")
    # The ingest's worker dies mid-body: "worker lost", its retry runs it again (this
    # scheduler reschedules, allowed-failures 3: flow-tui's plugin there stops that).
    _kill_worker_of(tmp_path / "ingest_calls")
    # `later` is running: the flow-tui process dies (kill -9) in the middle of the run.
    _wait_for(tmp_path / "later_calls")
    ends_before = _ends(_events(_read_until_end_of(run, "ingest")))
    run.send_signal(signal.SIGKILL)
    run.wait()
    (tmp_path / "release").write_text("go\n")  # the orphaned body may end
    assert ends_before["charge"]["status"] == "cancelled"
    assert ends_before["charge"].get("interrupted") is True
    assert ends_before["charge"]["message"].startswith("worker lost:")
    assert len((tmp_path / "charge_calls").read_text().splitlines()) == 1  # never rerun
    assert ends_before["ingest"]["status"] == "success"
    assert ends_before["ingest"]["attempt"] == 2

    # Resume: the durable successes do not run again; the interrupted non-idempotent
    # charge needs consent, here given.
    resumed = _launch(
        tmp_path,
        scheduler,
        "--resume",
        str(checkpoint),
        "--checkpoint",
        str(checkpoint),
        "--rerun-interrupted",
    )
    out, err = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, err
    events = _events(out)
    start = next(e for e in events if e["event"] == "workflow_start")
    assert start["executor"]["executor"] == "dask"
    assert start["executor"]["address"] == scheduler
    assert start["executor"]["workers"] == 2
    assert sorted(start["kept"]) == ["first", "ingest"]
    ends = _ends(events)
    assert set(ends) == {"charge", "later"}
    assert ends["later"]["status"] == "success"
    assert len((tmp_path / "first_runs").read_text().splitlines()) == 1


def _read_until_end_of(proc: subprocess.Popen[str], task: str) -> str:
    """The JSON Lines a running flow-tui printed, up to and including `task`'s end."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("{") and '"task_end"' in line and f'"task": "{task}"' in line:
            break
    return "".join(lines)


def test_a_local_headless_run_imports_no_dask() -> None:
    code = (
        "import sys\n"
        "from flow_tui.cli import main\n"
        "code = main(['launch', 'sample_workflows/distributed_etl.py', '--headless', "
        "'--output', 'plain', '--no-control'])\n"
        "assert code == 0, code\n"
        "leaked = sorted({'dask', 'distributed'} & {m.split('.')[0] for m in sys.modules})\n"
        "print('LEAKED', leaked, file=sys.__stderr__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stderr


def test_executor_dask_without_the_extra_exits_2_naming_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['dask'] = None\n"
        "sys.modules['distributed'] = None\n"
        "from flow_tui.cli import main\n"
        "sys.exit(main(['launch', 'sample_workflows/distributed_etl.py', '--headless', "
        "'--executor', 'dask']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "install flow-tui[dask]" in done.stderr


def test_the_sample_gives_the_same_results_on_both_executors(tmp_path: Path) -> None:
    def run(*extra: str) -> dict[str, dict[str, Any]]:
        done = subprocess.run(
            [
                BIN / "flow-tui",
                "launch",
                "sample_workflows/distributed_etl.py",
                "--headless",
                "--output",
                "jsonl",
                "--no-control",
                "--checkpoint",
                str(tmp_path / f"{len(extra)}.json"),
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return _ends(_events(done.stdout))

    local = run()
    on_dask = run("--executor", "dask", "--dask-workers", "2")
    assert on_dask["report"]["status"] == "success"
    from flow_tui import Snapshot
    from flow_tui.snapshot import codec  # noqa: F401

    a = Snapshot.load(tmp_path / "0.json").results
    b = Snapshot.load(tmp_path / "4.json").results
    assert a["merge"].data == b["merge"].data
    assert a["report"].data == b["report"].data
    assert local.keys() == on_dask.keys()


HELD = """
import time
from pathlib import Path
from flow_tui import TaskStep, Workflow

FOLDER = Path({folder!r})

def first(ctx):
    return "done"

def held(ctx):
    (FOLDER / "held_calls").write_text("started\\n")
    while not (FOLDER / "release").exists():
        time.sleep(0.02)
    return "late"

workflow = Workflow("held", [
    TaskStep("first", first),
    TaskStep("held", held, ["first"], idempotent=False),
])
"""


def test_sigterm_during_a_dask_run_folds_the_checkpoint_and_exits_143(
    scheduler: str, tmp_path: Path
) -> None:
    (tmp_path / "wf.py").write_text(HELD.format(folder=str(tmp_path)))
    checkpoint = tmp_path / "run.json"
    run = _launch(tmp_path, scheduler, "--checkpoint", str(checkpoint), "--grace", "0.2")
    _wait_for(tmp_path / "held_calls")  # its body runs on a worker
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=60)
    (tmp_path / "release").write_text("go\n")  # the orphaned body may end
    assert run.returncode == 143
    summary = json.loads(out.splitlines()[-1])
    assert summary["event"] == "summary" and summary["signal"] == "SIGTERM"
    saved = Snapshot.load(checkpoint)  # folded: no journal left beside it
    assert not journal_path(checkpoint).exists()
    assert saved.results["first"].status is TaskStatus.SUCCESS
    assert saved.results["held"].status is TaskStatus.CANCELLED
    assert "held" in saved.interrupted  # not idempotent: a resume asks for consent
    refused = subprocess.run(
        [
            BIN / "flow-tui",
            "launch",
            str(tmp_path / "wf.py"),
            "--headless",
            "--resume",
            str(checkpoint),
            "--dask-address",
            scheduler,
            "--no-control",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "held" in refused.stderr
