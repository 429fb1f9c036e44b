"""validate, graph, inspect, launch --plan / --dry-run / --concurrency / --timeout, --help,
the package.module:attr form and the output modes, through the real process."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys

import pytest
from flowcli import WORKFLOWS, Workspace, by_task, check_jsonl, command

from flow_tui import Snapshot

SIMPLE = WORKFLOWS / "simple.py"
MIXED = WORKFLOWS / "mixed.py"
FANOUT = WORKFLOWS / "fanout.py"


def test_all_tasks_succeed_exit_0_and_plain_lines(ws: Workspace) -> None:
    result = ws.run("launch", SIMPLE, "--headless")
    assert result.returncode == 0, result
    assert ws.started() == ["extract", "transform", "load"]
    lines = result.stdout.splitlines()
    assert "start simple: 3 tasks" in lines[0]
    assert any("[3/3] ok load" in line for line in lines)
    assert "simple finished" in lines[-1] and "3 success (exit 0)" in lines[-1]
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes


def test_a_failed_task_exits_1_and_is_named(ws: Workspace) -> None:
    result = ws.run("launch", SIMPLE, "--headless", env={"FAIL_TRANSFORM": "1"})
    assert result.returncode == 1, result
    assert "FAILED transform" in result.stdout
    assert "failed transform: RuntimeError: transform failed on purpose" in result.stdout
    assert "skipped load" in result.stdout
    assert "load" not in ws.started()


def test_a_task_skipped_by_its_condition_exits_1(ws: Workspace) -> None:
    flow = ws.write(
        "flow.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): return 1\n"
        "workflow = Workflow('flow', steps=[TaskStep('a', body),\n"
        "    TaskStep('only_in_prod', body, condition=lambda ctx: False)])\n",
    )
    result = ws.run("launch", flow, "--headless", "--output", "jsonl")
    assert result.returncode == 1, result
    events = check_jsonl(result, {"a", "only_in_prod"})
    assert by_task(events, "task_skipped")["only_in_prod"]["status"] == "skipped"


def test_dry_run_calls_no_body(ws: Workspace) -> None:
    result = ws.run("launch", MIXED, "--headless", "--dry-run", "--output", "jsonl")
    assert result.returncode == 0, result
    assert ws.calls() == []
    events = check_jsonl(result, {"flaky", "broken", "after_broken", "polished", "conditional"})
    ends = by_task(events, "task_end")
    assert all(e["message"] == "dry run: not executed" for e in ends.values())


def test_dry_run_of_a_resume_calls_no_body(ws: Workspace) -> None:
    assert ws.run("launch", SIMPLE, "--headless", "--checkpoint", "ck.toml",
                  env={"FAIL_TRANSFORM": "1"}).returncode == 1  # fmt: skip
    ws.reset_calls()
    result = ws.run("launch", SIMPLE, "--headless", "--resume", "ck.toml", "--dry-run")
    assert result.returncode == 0, result
    assert ws.calls() == []
    assert "1 kept from the snapshot" in result.stdout


@pytest.mark.parametrize(("flag", "peak"), [((), 6), (("--concurrency", "2"), 2),
                                            (("--concurrency", "1"), 1)])  # fmt: skip
def test_concurrency_caps_the_tasks_running_at_once(
    ws: Workspace, flag: tuple[str, ...], peak: int
) -> None:
    tasks = {f"hold_{i}" for i in range(6)} | {"report"}
    result = ws.run("launch", FANOUT, "--headless", "--output", "jsonl", *flag)
    assert result.returncode == 0, result
    events = check_jsonl(result, tasks)
    assert by_task(events, "task_end")["report"]["message"] == f"peak={peak}"


def test_timeout_cancels_the_run_and_exits_1(ws: Workspace) -> None:
    result = ws.run("launch", WORKFLOWS / "recorder.py", "--headless", "--timeout", "0.3")
    assert result.returncode == 1, result
    assert result.seconds < 10
    assert "cancelled outlives_grace" in result.stdout
    assert "workflow timed out after 0.3s" in result.stdout
    assert "outlives_grace:done" not in ws.calls()


def test_validate_prints_a_short_summary(ws: Workspace) -> None:
    result = ws.run("validate", SIMPLE)
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok: workflow 'simple'")
    assert "3 tasks, 2 dependencies, 1 roots, 1 leaves, depth 3" in lines[0]
    assert lines[-1].startswith("fingerprint sha256:")
    assert ws.calls() == []  # validating runs no task


def test_validate_names_non_idempotent_tasks(ws: Workspace) -> None:
    result = ws.run("validate", WORKFLOWS.parents[2] / "sample_workflows" / "deploy_pipeline.py")
    assert result.returncode == 0, result
    assert "not idempotent" in result.stdout
    assert "migrate_database, deploy" in result.stdout


def test_graph_prints_mermaid(ws: Workspace) -> None:
    result = ws.run("graph", SIMPLE)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [
        "graph TD",
        '    t_extract["extract"]',
        '    t_transform["transform"]',
        '    t_load["load"]',
        "    t_extract --> t_transform",
        "    t_transform --> t_load",
    ]


def test_graph_with_a_snapshot_colours_nodes_by_status(ws: Workspace) -> None:
    assert ws.run("launch", MIXED, "--headless", "--checkpoint", "ck.toml").returncode == 1
    result = ws.run("graph", MIXED, "--snapshot", "ck.toml")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert "    t_broken --> t_after_broken" in lines
    assert any(line.startswith("    classDef failure ") for line in lines)
    classes = {line.split()[1]: line.split()[2] for line in lines if line.startswith("    class ")}
    assert classes == {
        "t_flaky": "success",
        "t_broken": "failure",
        "t_after_broken": "skipped",
        "t_polished": "success",
        "t_conditional": "skipped",
    }


def test_inspect_table_json_and_resume_plan(ws: Workspace) -> None:
    assert ws.run("launch", MIXED, "--headless", "--checkpoint", "ck.json").returncode == 1

    table = ws.run("inspect", "ck.json")
    assert table.returncode == 0, table
    out = table.stdout
    assert "workflow mixed, failed" in out
    assert "2 success, 1 failure, 2 skipped" in out
    for column in ("task", "status", "duration", "attempts", "message"):
        assert column in out.splitlines()[1]
    rows = {line.split()[0]: line for line in out.splitlines()[3:] if line.strip()}
    assert "success" in rows["flaky"] and "│ 3 " in rows["flaky"]  # three attempts
    assert "failure" in rows["broken"] and "broken on purpose" in rows["broken"]
    assert "skipped" in rows["after_broken"]
    assert "resume plan" not in out

    planned = ws.run("inspect", "ck.json", "--workflow", MIXED)
    assert planned.returncode == 0, planned
    plan = planned.stdout[planned.stdout.index("resume plan for mixed from ck.json") :]
    plan_rows = {line.split()[0]: line.split()[1:3] for line in plan.splitlines()[2:6]}
    assert plan_rows["flaky"] == ["keep", "succeeded"]
    assert plan_rows["broken"] == ["re-run", "failed"]
    assert "2 kept, 3 re-run, 0 pending, 0 new, 0 removed" in plan

    as_json = ws.run("inspect", "ck.json", "--workflow", MIXED, "--output", "json")
    assert as_json.returncode == 0, as_json
    doc = json.loads(as_json.stdout)
    assert doc["format"] == "flow-tui-snapshot" and doc["workflow"] == "mixed"
    assert doc["results"]["broken"]["status"] == "failure"
    assert doc["plan"]["kept"] == ["flaky", "polished"]
    assert {"task": "broken", "action": "re-run", "why": "failed"} in doc["plan"]["tasks"]
    assert ws.started().count("broken") == 1  # inspecting ran nothing


def test_plan_prints_the_resume_plan_and_runs_nothing(ws: Workspace) -> None:
    assert ws.run("launch", MIXED, "--headless", "--checkpoint", "ck.toml").returncode == 1
    ws.reset_calls()

    table = ws.run("launch", MIXED, "--resume", "ck.toml", "--plan")  # no --headless needed
    assert table.returncode == 0, table
    lines = table.stdout.splitlines()
    assert lines[0] == "resume plan for mixed from ck.toml"
    assert lines[1].split() == ["TASK", "ACTION", "WHY"]
    assert lines[2].split() == ["flaky", "keep", "succeeded"]
    assert lines[3].split() == ["broken", "re-run", "failed"]
    assert "2 kept, 3 re-run, 0 pending, 0 new, 0 removed" in lines

    as_json = ws.run("launch", MIXED, "--resume", "ck.toml", "--plan", "--output", "json")
    assert as_json.returncode == 0, as_json
    doc = json.loads(as_json.stdout)
    assert doc["workflow"] == "mixed" and doc["snapshot"] == "ck.toml"
    assert doc["kept"] == ["flaky", "polished"]
    assert doc["rerun"] == {"broken": "failed", "after_broken": "skipped", "conditional": "skipped"}
    assert [t["task"] for t in doc["tasks"]] == [
        "flaky", "broken", "after_broken", "polished", "conditional",
    ]  # fmt: skip

    with_checkpoint = ws.run(
        "launch", MIXED, "--resume", "ck.toml", "--checkpoint", "ck.toml", "--plan"
    )
    assert with_checkpoint.returncode == 0, with_checkpoint
    assert ws.calls() == []  # no task body ran for any --plan


def test_plan_needs_consent_for_an_interrupted_non_idempotent_task(ws: Workspace) -> None:
    flow = ws.write(
        "flow.py",
        "import os, asyncio\n"
        "from flow_tui import TaskStep, Workflow\n"
        "from pathlib import Path\n"
        "async def charge(ctx):\n"
        "    Path(os.environ['FLOW_TUI_TEST_LOG']).write_text('charge\\n')\n"
        "    await asyncio.sleep(60)\n"
        "workflow = Workflow('pay', steps=[TaskStep('charge_card', charge, idempotent=False)])\n",
    )
    run = ws.start("launch", flow, "--headless", "--checkpoint", "ck.toml", "--grace", "0")
    ws.wait_started("charge")
    run.send(signal.SIGTERM)
    assert run.wait().returncode == 143
    plan = ws.run("launch", flow, "--resume", "ck.toml", "--plan")
    assert plan.returncode == 0, plan
    assert "needs consent" in plan.stdout and "--rerun-interrupted" in plan.stdout
    ws.reset_calls()
    resume = ("launch", flow, "--headless", "--resume", "ck.toml", "--checkpoint", "ck.toml")
    refused = ws.run(*resume)
    assert refused.returncode == 2, refused
    assert "charge_card" in refused.stderr and "--rerun-interrupted" in refused.stderr
    assert len(refused.stderr_lines) == 1
    assert ws.calls() == []

    marked = ws.run(*resume, "--mark-done", "charge_card")  # it did complete, says the operator
    assert marked.returncode == 0, marked
    assert ws.calls() == []
    message = Snapshot.load(ws.path / "ck.toml").results["charge_card"].message
    assert message is not None and "marked done" in message


def test_rerun_interrupted_consents_to_running_a_non_idempotent_task_again(
    ws: Workspace,
) -> None:
    flow = ws.write(
        "flow.py",
        "import os, asyncio\n"
        "from flow_tui import TaskStep, Workflow\n"
        "async def charge(ctx):\n"
        "    with open(os.environ['FLOW_TUI_TEST_LOG'], 'a') as fh: fh.write('charge\\n')\n"
        "    if os.environ.get('SLOW'): await asyncio.sleep(60)\n"
        "workflow = Workflow('pay', steps=[TaskStep('charge_card', charge, idempotent=False)])\n",
    )
    run = ws.start("launch", flow, "--headless", "--checkpoint", "ck.toml", "--grace", "0",
                   env={"SLOW": "1"})  # fmt: skip
    ws.wait_started("charge")
    run.send(signal.SIGTERM)
    assert run.wait().returncode == 143
    ws.reset_calls()
    result = ws.run(
        "launch", flow, "--headless", "--resume", "ck.toml", "--checkpoint", "ck.toml",
        "--rerun-interrupted",
    )  # fmt: skip
    assert result.returncode == 0, result
    assert ws.calls() == ["charge"]


@pytest.mark.parametrize("cmd", [[], ["launch"], ["validate"], ["graph"], ["inspect"]])
def test_help_of_every_command_shows_an_example(ws: Workspace, cmd: list[str]) -> None:
    result = ws.run(*cmd, "--help")
    assert result.returncode == 0, result
    assert "usage: flow-tui" in result.stdout
    assert "example" in result.stdout
    example_lines = [
        line for line in result.stdout.splitlines() if line.strip().startswith("flow-tui ")
    ]
    assert example_lines, result.stdout
    if cmd:
        assert all(line.strip().startswith(f"flow-tui {cmd[0]} ") for line in example_lines)


def test_package_module_attribute_form(ws: Workspace) -> None:
    pkg = ws.path / "site" / "pipelines"
    ws.write("site/pipelines/__init__.py", "")
    ws.write(
        "site/pipelines/nightly.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): return 1\n"
        "main = Workflow('nightly', steps=[TaskStep('only', body)])\n"
        "backfill = Workflow('backfill', steps=[TaskStep('first', body), "
        "TaskStep('second', body, ['first'])])\n",
    )
    env = {"PYTHONPATH": str(pkg.parent)}
    result = ws.run("launch", "pipelines.nightly:backfill", "--headless", env=env)
    assert result.returncode == 0, result
    assert "start backfill: 2 tasks" in result.stdout
    assert ws.run("validate", "pipelines.nightly:main", env=env).returncode == 0
    several = ws.run("validate", "pipelines.nightly", env=env)
    assert several.returncode == 2 and "pipelines.nightly:NAME" in several.stderr
    # A path with an attribute works too.
    by_path = ws.run("validate", "site/pipelines/nightly.py:backfill")
    assert by_path.returncode == 0 and "'backfill'" in by_path.stdout


def test_the_headless_path_never_imports_textual(ws: Workspace) -> None:
    ws.write("poison/textual/__init__.py", "raise ImportError('textual was imported')\n")
    env = {"PYTHONPATH": str(ws.path / "poison")}
    assert ws.run("launch", SIMPLE, "--headless", "--output", "jsonl", env=env).returncode == 0
    assert ws.run("validate", SIMPLE, env=env).returncode == 0
    assert ws.run("graph", SIMPLE, env=env).returncode == 0


def _run_on_a_terminal(ws: Workspace, *args: str, env: dict[str, str]) -> tuple[int, str]:
    main, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*command(), *args],
        cwd=ws.path,
        env={**ws.env, "TERM": "xterm-256color", **env},
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return proc.wait(timeout=30), b"".join(chunks).decode()


def test_a_terminal_gets_coloured_progress(ws: Workspace) -> None:
    code, out = _run_on_a_terminal(ws, "launch", str(SIMPLE), "--headless", env={})
    assert code == 0, out
    assert "\x1b[" in out  # rich styles
    assert "ok load" in out and "simple finished" in out


def test_no_color_on_a_terminal_gives_plain_lines(ws: Workspace) -> None:
    code, out = _run_on_a_terminal(ws, "launch", str(SIMPLE), "--headless", env={"NO_COLOR": "1"})
    assert code == 0, out
    assert "\x1b[" not in out
    assert "ok load" in out


def test_a_closed_stdout_does_not_stop_the_run(ws: Workspace) -> None:
    # `flow-tui launch ... | head -1`: the reader goes away; the run still finishes, its
    # checkpoint is complete, and no traceback appears.
    proc = subprocess.Popen(
        [*command(), "launch", str(FANOUT), "--headless", "--checkpoint", "ck.json"],
        cwd=ws.path,
        env=ws.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert b"start fanout" in proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=20) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    from flow_tui import Snapshot

    saved = Snapshot.load(ws.path / "ck.json")
    assert len(saved.results) == 7 and saved.status == "finished"


def test_inspect_piped_into_a_closed_reader_exits_quietly(ws: Workspace) -> None:
    assert ws.run("launch", FANOUT, "--headless", "--checkpoint", "ck.json").returncode == 0
    proc = subprocess.Popen(
        [*command(), "inspect", "ck.json"],
        cwd=ws.path,
        env={**ws.env, "COLUMNS": "80"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=20) == 0, err
    assert err == ""


def test_module_runs_as_python_dash_m(ws: Workspace) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flow_tui.cli", "validate", str(SIMPLE)],
        cwd=ws.path,
        env=ws.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "ok: workflow 'simple'" in result.stdout


def test_python_dash_m_flow_tui_is_the_same_command(ws: Workspace) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flow_tui", "validate", str(SIMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "simple" in done.stdout
