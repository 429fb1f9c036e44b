"""`--continue`: one command that is right every night (the README's CI recipe).

PATH absent -> a fresh run; PATH holds an unfinished run -> resume it (consent rules
unchanged); PATH holds a finished run -> moved aside (its finish time in the name, the last
--keep kept) and a fresh run. One `notice` line says which happened.
"""

from __future__ import annotations

import json

from flowcli import WORKFLOWS, Workspace, assert_usage_error, check_jsonl

from flow_tui import Snapshot

SIMPLE = WORKFLOWS / "simple.py"
NAMES = {"extract", "transform", "load"}


def nightly(ws: Workspace, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return ws.run(
        "launch",
        SIMPLE,
        "--headless",
        "--output",
        "jsonl",
        "--checkpoint",
        "state/nightly.toml",
        "--continue",
        *extra,
        env=env,
    )


def notices(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["message"] for e in result.events() if e["event"] == "notice"]


def test_every_night_the_same_command(ws: Workspace) -> None:
    # Night 1: no state folder, no checkpoint: a fresh run, the folder is created.
    first = nightly(ws)
    assert first.returncode == 0, first
    check_jsonl(first, NAMES)
    assert any("starting a fresh run" in n for n in notices(first)), first.stdout
    assert (ws.path / "state" / "nightly.toml").exists()
    assert ws.started() == ["extract", "transform", "load"]

    # Night 2: the run finished: moved aside with its finish time, and a fresh run.
    ws.reset_calls()
    finished_at = Snapshot.load(ws.path / "state" / "nightly.toml").created_at
    second = nightly(ws)
    assert second.returncode == 0, second
    check_jsonl(second, NAMES)
    [note] = [n for n in notices(second) if "finished" in n]
    moved = ws.path / "state" / f"nightly-{finished_at:%Y%m%d-%H%M%S}.toml"
    assert moved.name in note and moved.exists(), (note, list((ws.path / "state").iterdir()))
    assert ws.started() == ["extract", "transform", "load"]


def test_an_unfinished_run_is_resumed_and_its_successes_kept(ws: Workspace) -> None:
    failed = nightly(ws, env={"FAIL_TRANSFORM": "1"})
    assert failed.returncode == 1, failed
    ws.reset_calls()
    again = nightly(ws)
    assert again.returncode == 0, again
    assert any("resuming the unfinished run" in n for n in notices(again)), again.stdout
    assert ws.started() == ["transform", "load"]  # extract succeeded last night
    start = next(e for e in again.events() if e["event"] == "workflow_start")
    assert start["kept"] == ["extract"]


def test_keep_bounds_the_finished_checkpoints_moved_aside(ws: Workspace) -> None:
    state = ws.path / "state"
    state.mkdir()
    # Three finished runs from earlier nights, named as --continue names them.
    for day in ("20261101", "20261102", "20261103"):
        (state / f"nightly-{day}-010000.toml").write_text("old", encoding="utf-8")
    assert nightly(ws).returncode == 0
    result = nightly(ws, "--keep", "2")
    assert result.returncode == 0, result
    aside = sorted(p.name for p in state.glob("nightly-*.toml"))
    assert len(aside) == 2, aside
    assert "nightly-20261101-010000.toml" not in aside
    assert (state / "nightly.toml").exists()


def test_a_corrupt_checkpoint_is_neither_moved_nor_overwritten(ws: Workspace) -> None:
    path = ws.write("state/nightly.toml", "this is not toml = = =\n")
    result = nightly(ws)
    assert_usage_error(result, "nightly.toml")
    assert path.read_text(encoding="utf-8") == "this is not toml = = =\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["nightly.toml"]
    assert ws.calls() == []


def test_plan_with_continue_shows_what_the_next_night_would_do(ws: Workspace) -> None:
    assert nightly(ws, env={"FAIL_TRANSFORM": "1"}).returncode == 1
    result = ws.run(
        "launch", SIMPLE, "--checkpoint", "state/nightly.toml", "--continue", "--plan",
        "--output", "jsonl",
    )  # fmt: skip
    assert result.returncode == 0, result
    [line] = result.stdout.splitlines()
    plan = json.loads(line)
    assert plan["event"] == "resume_plan"
    assert plan["kept"] == ["extract"] and set(plan["rerun"]) == {"transform", "load"}


def test_continue_flag_rules(ws: Workspace) -> None:
    assert_usage_error(
        ws.run("launch", SIMPLE, "--headless", "--continue"), "--continue", "--checkpoint"
    )
    assert_usage_error(
        ws.run(
            "launch", SIMPLE, "--headless", "--continue", "--checkpoint", "c.toml",
            "--resume", "c.toml",
        ),
        "--continue", "--resume",
    )  # fmt: skip
    assert_usage_error(ws.run("launch", SIMPLE, "--headless", "--keep", "3"), "--keep")
    assert ws.calls() == []


def test_continue_keeps_the_consent_rule_for_an_interrupted_non_idempotent_task(
    ws: Workspace,
) -> None:
    ws.write(
        "charge.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): return 1\n"
        "workflow = Workflow('charge', steps=[TaskStep('charge_card', body, idempotent=False)])\n",
    )
    # What a kill during the charge leaves: the task started, no end recorded.
    (ws.path / "state").mkdir()
    Snapshot(
        workflow="charge", tasks=["charge_card"], interrupted=["charge_card"], status="running"
    ).save(ws.path / "state" / "charge.toml")
    args = ("launch", "charge.py", "--headless", "--checkpoint", "state/charge.toml", "--continue")
    refused = ws.run(*args)
    assert_usage_error(refused, "charge_card", "--rerun-interrupted")
    assert Snapshot.load(ws.path / "state" / "charge.toml").interrupted == ["charge_card"]
    assert ws.run(*args, "--mark-done", "charge_card").returncode == 0
    final = Snapshot.load(ws.path / "state" / "charge.toml")
    assert final.results["charge_card"].message == "marked done by hand (--mark-done)"
