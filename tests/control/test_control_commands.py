"""ps / pause / save / resume / stop against a real headless run in the background,
checked through the CLI's output, the run's JSON Lines, its exit code and its files."""

from __future__ import annotations

import json

from flowcli import assert_usage_error, check_jsonl, wait_until

from flow_tui import Snapshot, TaskStatus

from .steer import STEERED, Steer, events, has_event, run_id

TASKS = {"first", "charge", "load", "report"}


def test_ps_pause_save_resume_over_the_socket(steer: Steer) -> None:
    ws = steer.ws
    run = steer.launch("--checkpoint", "state/ck.toml")
    ident = run_id(run)
    ws.wait_started("charge", "load")

    table = steer.run("ps")
    assert table.returncode == 0, table
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "WORKFLOW", "PID", "STATE", "PROGRESS", "STARTED", "CHECKPOINT"]
    assert len(rows) == 1, table
    row = rows[0].split()
    assert row[:5] == [ident, "steered", str(run.proc.pid), "running", "1/4"], table
    assert row[-1] == str(ws.path / "state" / "ck.toml"), table

    listed = json.loads(steer.run("ps", "--output", "json").stdout)
    assert [(r["id"], r["state"], r["progress"], r["answering"]) for r in listed] == [
        (ident, "running", "1/4", True)
    ]
    assert listed[0]["status"]["running"] == ["charge", "load"]

    # pause by an id prefix: a drain, both tasks keep running
    paused = steer.run("pause", ident[:4])
    assert paused.returncode == 0, paused
    assert paused.stdout == f"paused run {ident} (steered): 2 task(s) still finishing\n"
    assert "pausing" in steer.run("ps").stdout
    wait_until(lambda: has_event(run, "workflow_paused", interrupt=False), "workflow_paused")

    # save mid-run by the workflow's name, a path relative to the command's folder
    (ws.path / "snaps").mkdir()
    saved = steer.run("save", "steered", "snaps/mid.json")
    assert saved.returncode == 0, saved
    target = ws.path / "snaps" / "mid.json"
    assert saved.stdout.startswith(f"saved run {ident} (steered) to {target}: ")
    mid = Snapshot.load(target)
    assert {n: r.status for n, r in mid.results.items()} == {"first": TaskStatus.SUCCESS}
    # the snapshot names the socket of the run that saved it, as workflow_start does
    start = next(e for e in events(run) if e["event"] == "workflow_start")
    assert mid.control == start["control"] == str(steer.runtime / f"{ident}.sock")

    # the save dialog asks before replacing a file; a script says so with --overwrite
    assert_usage_error(steer.run("save", "steered", "snaps/mid.json"), "exists", "--overwrite")
    assert steer.run("save", "steered", "snaps/mid.json", "--overwrite").returncode == 0
    assert_usage_error(steer.run("save", "steered", "snaps/mid.txt"), ".json or .toml")
    assert_usage_error(steer.run("save", "steered", "state/ck.toml"), "checkpoint")
    assert_usage_error(steer.run("save", "steered", "nowhere/mid.toml"), "does not exist")
    assert not (ws.path / "snaps" / "mid.txt").exists()

    # RUN forms that match nothing: one line naming what runs
    line = assert_usage_error(steer.run("pause", "nightly"), "no run matches 'nightly'")
    assert ident in line

    # `load` ends while paused; resume by pid: `report` waits for `charge`
    ws.open_gate("load")
    wait_until(lambda: "load:done" in ws.calls(), "load to end")
    resumed = steer.run("resume", str(run.proc.pid))
    assert resumed.returncode == 0, resumed
    assert resumed.stdout.startswith(f"resumed run {ident} (steered): running, 2/4 done")
    ws.open_gate("charge")
    result = run.wait()
    assert result.returncode == 0, result
    out = check_jsonl(result, TASKS)
    names = [e["event"] for e in out]
    assert names.index("workflow_paused") < names.index("workflow_resumed")
    assert sorted(ws.started()) == sorted(TASKS)  # nothing ran twice
    assert "Traceback" not in result.stderr
    final = Snapshot.load(ws.path / "state" / "ck.toml")
    assert {r.status for r in final.results.values()} == {TaskStatus.SUCCESS}

    # the run is gone: its files too, and commands say so
    assert list(steer.runtime.iterdir()) == []
    gone = steer.run("ps")
    assert gone.returncode == 0 and "no flow-tui run" in gone.stdout, gone
    assert_usage_error(steer.run("pause", ident), "no flow-tui run")
    assert_usage_error(steer.run("attach"), "no flow-tui run")

    # the snapshot saved mid-run resumes: `first` is not run again; `charge` was running
    # when it was saved, and is not idempotent: it runs again only with consent
    assert set(mid.interrupted) == {"charge", "load"}
    assert_usage_error(steer.run("launch", STEERED, "--headless", "--resume", target), "charge")
    ws.reset_calls()
    again = steer.launch("--resume", target, "--rerun-interrupted")
    result = again.wait()
    assert result.returncode == 0, result
    assert sorted(ws.started()) == ["charge", "load", "report"]
    start = next(e for e in events(again) if e["event"] == "workflow_start")
    assert start["kept"] == ["first"]


def test_consent_through_the_socket_then_stop(steer: Steer) -> None:
    ws = steer.ws
    run = steer.launch("--checkpoint", "ck.json")
    ident = run_id(run)
    ws.wait_started("charge", "load")

    interrupted = steer.run("pause", ident, "--interrupt")
    assert interrupted.returncode == 0, interrupted
    assert interrupted.stdout == f"paused run {ident} (steered): interrupting 2 running task(s)\n"
    wait_until(
        lambda: has_event(run, "task_end", task="charge", interrupted=True), "charge interrupted"
    )

    # resuming needs a decision about `charge` (not idempotent), not about `load`
    line = assert_usage_error(
        steer.run("resume", "steered"), "refused resume", "charge", "--rerun-interrupted"
    )
    assert "--mark-done charge" in line and "load" not in line
    row = steer.run("ps").stdout.splitlines()[1]
    assert "paused (needs consent)" in row and " 1/4 " in row, row  # charge, load: to run again
    assert_usage_error(
        steer.run("resume", "steered", "--rerun-interrupted", "--mark-done", "charge"),
        "not allowed with",
    )
    assert not has_event(run, "workflow_resumed")

    # consent to run it again: both start again
    assert steer.run("resume", "steered", "--rerun-interrupted").returncode == 0
    wait_until(lambda: ws.started().count("charge") == 2, "charge to start again")
    wait_until(lambda: ws.started().count("load") == 2, "load to start again")

    # interrupted again; this time it completed by hand: it does not run a third time
    assert steer.run("pause", ident, "--interrupt").returncode == 0
    wait_until(
        lambda: sum(e.get("interrupted", False) for e in events(run)) == 4, "second interrupt"
    )
    assert_usage_error(steer.run("resume", ident), "charge")
    resumed = steer.run("resume", ident, "--mark-done", "charge")
    assert resumed.returncode == 0, resumed
    wait_until(lambda: ws.started().count("load") == 3, "load to start a third time")
    assert ws.started().count("charge") == 2

    # stop like SIGTERM: no grace, a checkpoint, exit 143; --wait reports it
    stopped = steer.run("stop", ident, "--grace", "0", "--wait")
    assert stopped.returncode == 0, stopped
    first, last = stopped.stdout.splitlines()
    assert first.startswith(f"stopping run {ident} (steered): ")
    assert last == f"run {ident} (steered) ended: cancelled, exit code 143"
    result = run.wait()
    assert result.returncode == 143, result
    out = check_jsonl(result, TASKS)
    assert out[-1]["signal"] == "SIGTERM"
    assert any("stop asked by flow-tui stop" in e.get("message", "") for e in out)
    saved = Snapshot.load(ws.path / "ck.json")
    assert saved.results["first"].status is TaskStatus.SUCCESS
    assert saved.results["charge"].status is TaskStatus.SUCCESS  # marked done
    assert saved.results["load"].status is TaskStatus.CANCELLED
    assert "charge" not in saved.interrupted
    assert "Traceback" not in result.stderr
    assert list(steer.runtime.iterdir()) == []
    assert_usage_error(steer.run("stop", ident), "no flow-tui run")


def test_ps_lists_a_run_that_does_not_answer_and_goes_on(steer: Steer) -> None:
    ws = steer.ws
    frozen = steer.start("launch", f"{STEERED}:frozen", "--headless", "--output", "jsonl")
    lively = steer.launch()
    lively_id = run_id(lively)
    ws.wait_started("freeze", "charge")
    listed = steer.run("ps")
    assert listed.returncode == 0, listed
    rows = {line.split()[1]: line for line in listed.stdout.splitlines()[1:]}
    assert "not answering" in rows["frozen"], listed
    assert "running" in rows["steered"] and lively_id in rows["steered"], listed
    # killed, it leaves its socket and record behind: the next ps removes them
    frozen_id = run_id(frozen)
    frozen.kill()
    assert (steer.runtime / f"{frozen_id}.sock").exists()
    listed = steer.run("ps", "--output", "json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [lively_id], listed
    assert sorted(p.name for p in steer.runtime.iterdir()) == [
        f"{lively_id}.json",
        f"{lively_id}.sock",
    ]
    for gate in ("charge", "load"):
        ws.open_gate(gate)
    assert lively.wait().returncode == 0


def test_stop_wait_hears_the_exit_code_of_a_run_that_had_to_force_its_exit(
    steer: Steer,
) -> None:
    ws = steer.ws
    run = steer.start("launch", f"{STEERED}:stubborn", "--headless", "--output", "jsonl")
    ws.wait_started("hold_on")
    ident = run_id(run)
    # The body ignores its cancellation: after the grace the run saves what it knows and
    # leaves at once; its viewers (here `stop --wait`) still hear how it ended.
    stopped = steer.run("stop", ident, "--grace", "0", "--wait")
    assert stopped.returncode == 0, stopped
    assert stopped.stdout.splitlines()[-1] == (
        f"run {ident} (stubborn) ended: cancelled, exit code 143"
    )
    result = run.wait()
    assert result.returncode == 143, result
    assert "did not stop when cancelled" in result.stdout
    assert list(steer.runtime.iterdir()) == []
    ws.open_gate("hold_on")
