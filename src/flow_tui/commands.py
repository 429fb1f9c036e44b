"""What each `flow-tui` command does, once its arguments are parsed."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flow_tui.core.resume import ResumePlan
from flow_tui.core.snapshot import Snapshot
from flow_tui.exit_codes import EXIT_OK
from flow_tui.loader import load_workflow
from flow_tui.recurring import check_continue_options, continue_decision
from flow_tui.session import (
    Session,
    SessionError,
    SessionOptions,
    check_same_workflow,
)
from flow_tui.streams import rich_console


def _options(args: argparse.Namespace) -> SessionOptions:
    return SessionOptions(
        concurrency=args.concurrency,
        timeout=args.timeout,
        dry_run=args.dry_run,
        checkpoint=args.checkpoint,
        resume=args.resume,
        rerun_interrupted=args.rerun_interrupted,
        mark_done=tuple(args.mark_done),
        force=args.force,
        paused=args.paused,
        continue_run=args.continue_run,
        keep=args.keep or 5,
        control=args.control,
        **_executor_options(args),
    )


#: where `--dask-address` comes from when the flag is not given
DASK_ADDRESS_ENV = "FLOW_TUI_DASK_ADDRESS"


def _executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """--executor, --dask-address (or $FLOW_TUI_DASK_ADDRESS), --dask-workers: where task
    bodies run. Refused (exit 2) when they contradict each other or the dask extra is
    missing."""
    executor = getattr(args, "executor", None)
    address = getattr(args, "dask_address", None)
    workers = getattr(args, "dask_workers", None)
    if address is None and executor != "local":
        address = os.environ.get(DASK_ADDRESS_ENV) or None
    if executor == "local" and (address is not None or workers is not None):
        flag = "--dask-address" if address is not None else "--dask-workers"
        raise SessionError(f"{flag} applies to --executor dask; drop it or --executor local")
    if address is not None and workers is not None:
        raise SessionError(
            "--dask-workers sizes the temporary LocalCluster; with --dask-address the "
            "cluster's own workers run the tasks: drop --dask-workers"
        )
    if executor is None:
        executor = "dask" if address is not None or workers is not None else "local"
    if executor == "dask" and not dask_installed():
        raise SessionError(
            "--executor dask needs Dask: install flow-tui[dask] (pip install 'flow-tui[dask]')"
        )
    return {"executor": executor, "dask_address": address, "dask_workers": workers}


def dask_installed() -> bool:
    """Whether the dask extra is installed (found, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ("dask", "distributed"))


def _check_launch_flags(args: argparse.Namespace) -> None:
    """Combinations of flags that cannot mean what the operator wants: refused, exit 2."""
    if args.paused and args.headless:
        raise SessionError("--paused applies to the dashboard; drop it with --headless")
    if args.output is not None and not args.headless and not args.plan:
        raise SessionError(
            f"--output {args.output} applies to --headless runs and --plan; add --headless "
            "or drop --output"
        )
    if args.output == "json" and not args.plan:
        raise SessionError(
            "--output json prints one document, which only --plan makes; use --output "
            "jsonl for the events of a run"
        )
    check_continue_options(args.continue_run, args.checkpoint, args.resume)
    if args.keep is not None and not args.continue_run:
        raise SessionError("--keep applies with --continue; add --continue or drop --keep")


#: how `graph` and `inspect` say to insist on a snapshot of another workflow
USE_ANYWAY = "pass --force to use it anyway"


def launch(args: argparse.Namespace) -> int:
    _check_launch_flags(args)
    if args.dry_run and args.checkpoint is not None and not args.plan:
        # A dry run "succeeds" every task without running it: saved, those successes
        # would make a later --resume skip work that never happened.
        raise SessionError(
            "--dry-run runs no task, so there is nothing to checkpoint; drop --checkpoint"
        )
    workflow, source = load_workflow(args.workflow)
    options = _options(args)
    if args.plan:
        return _print_plan(Session(workflow, options, source), args)
    if not args.headless and not sys.stdout.isatty():
        raise SessionError(
            "stdout is not a terminal, so the dashboard cannot open; "
            "add --headless to run without it"
        )
    session = Session.open(workflow, options, source, require_consent=args.headless)
    if args.headless:
        from flow_tui.headless import run_headless

        try:
            return run_headless(session, args.output or "auto", args.grace, verbose=args.verbose)
        except BaseException:
            session.close_now()
            raise
    from flow_tui.tui import run_dashboard  # type: ignore[attr-defined,import-not-found,unused-ignore]

    code: int = run_dashboard(session, grace=args.grace)
    return code


def _print_plan(session: Session, args: argparse.Namespace) -> int:
    read = None
    if args.continue_run:  # what --continue would do now (nothing is moved by a plan)
        decision, read = continue_decision(args.checkpoint)
        if decision == "resume":
            args.resume = args.checkpoint
    if args.resume is not None:
        snapshot = read if read is not None else Snapshot.load(args.resume)
        loaded = session.loaded(args.resume, snapshot, force=args.force, mark_done=args.mark_done)
        plan = loaded.plan
    else:
        plan = session.plan_for(Snapshot())
        plan.new = [s.name for s in session.steps]
    if args.output in ("json", "jsonl"):
        doc = {
            "workflow": session.workflow.name,
            "snapshot": str(args.resume) if args.resume else None,
            **plan.to_dict(),
            "tasks": _plan_rows(session, plan),
        }
        if args.output == "jsonl":
            # One line, the same `resume_plan` object a headless run starts with.
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            line = {"event": "resume_plan", "ts": stamp, **doc}
            print(json.dumps(line, ensure_ascii=False))
        else:
            print(json.dumps(doc, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(render_plan(session, plan, str(args.resume) if args.resume else None))
    return EXIT_OK


def _plan_rows(session: Session, plan: ResumePlan) -> list[dict[str, Any]]:
    rows = []
    kept = set(plan.kept)
    new = set(plan.new)
    pending = set(plan.pending)
    for step in session.steps:
        if step.name in plan.marked_done:
            action, why = "keep", "marked done"
        elif step.name in kept:
            action, why = "keep", "succeeded"
        elif step.name in plan.rerun:
            action, why = "re-run", plan.rerun[step.name]
        elif step.name in new:
            action, why = "run", "new"
        elif step.name in pending:
            action, why = "run", "pending: no result yet"
        else:
            action, why = "run", "not in snapshot"
        row: dict[str, Any] = {"task": step.name, "action": action, "why": why}
        if step.name in plan.needs_consent:
            row["needs_consent"] = True
        rows.append(row)
    return rows


def render_plan(session: Session, plan: ResumePlan, source: str | None) -> str:
    rows = _plan_rows(session, plan)
    width = max([len(r["task"]) for r in rows] + [4])
    title = f"resume plan for {session.workflow.name}"
    if source:
        title += f" from {source}"
    lines = [title, f"  {'TASK'.ljust(width)}  {'ACTION':<7} WHY"]
    for r in rows:
        flag = "  (needs consent: not idempotent)" if r.get("needs_consent") else ""
        lines.append(f"  {r['task'].ljust(width)}  {r['action']:<7} {r['why']}{flag}")
    if plan.removed:
        lines.append(f"removed (in the snapshot, not in the workflow): {', '.join(plan.removed)}")
    if plan.graph_changed:
        lines.append("the task graph changed since the snapshot was saved")
    lines.append(plan.summary())
    if plan.needs_consent:
        names = " ".join(f"--mark-done {n}" for n in plan.needs_consent)
        lines.append(
            "interrupted non-idempotent tasks need consent: pass --rerun-interrupted to run "
            f"them again, or {names} if they completed"
        )
    return "\n".join(lines)


def validate(args: argparse.Namespace) -> int:
    workflow, source = load_workflow(args.workflow)
    session = Session(workflow)
    graph = session.graph
    depths = graph.depths()
    roots = sum(1 for d in graph.deps if not d)
    leaves = sum(1 for d in graph.dependents if not d)
    edges = sum(len(d) for d in graph.deps)
    print(
        f"ok: workflow {workflow.name!r} ({source or args.workflow}): {len(graph.steps)} tasks, "
        f"{edges} dependencies, {roots} roots, {leaves} leaves, depth {max(depths, default=-1) + 1}"
    )
    non_idempotent = [s.name for s in graph.steps if not s.idempotent]
    if non_idempotent:
        print(f"not idempotent (never re-run without consent): {', '.join(non_idempotent)}")
    print(f"fingerprint {graph.fingerprint()}")
    return EXIT_OK


def graph(args: argparse.Namespace) -> int:
    from flow_tui.core.graph import mermaid

    workflow, _ = load_workflow(args.workflow)
    statuses = None
    if args.snapshot is not None:
        snapshot = Snapshot.load(args.snapshot)
        check_same_workflow(
            snapshot, args.snapshot, workflow.name, force=args.force, hint=USE_ANYWAY
        )
        statuses = {name: r.status.value for name, r in snapshot.results.items()}
    sys.stdout.write(mermaid(workflow.steps, statuses))
    return EXIT_OK


def inspect(args: argparse.Namespace) -> int:
    path: Path = args.snapshot
    snapshot = Snapshot.load(path)
    plan = None
    session = None
    if args.workflow:
        workflow, source = load_workflow(args.workflow)
        session = Session(workflow, SessionOptions(), source)
        check_same_workflow(snapshot, path, workflow.name, force=args.force, hint=USE_ANYWAY)
        plan = session.plan_for(snapshot, ())
    if args.output == "json":
        doc = snapshot.to_dict()
        if plan is not None and session is not None:
            doc["plan"] = {**plan.to_dict(), "tasks": _plan_rows(session, plan)}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return EXIT_OK
    from rich.table import Table
    from rich.text import Text

    def stdout_closed() -> None:
        raise BrokenPipeError  # the CLI ends quietly with 0, as for print()

    console = rich_console(on_broken_pipe=stdout_closed)
    counts = ", ".join(f"{n} {k}" for k, n in snapshot.counts().items() if n)
    console.print(
        Text(
            f"{path}: workflow {snapshot.workflow or '?'}, {snapshot.status}, saved "
            f"{snapshot.created_at:%Y-%m-%d %H:%M:%S} UTC; {counts or 'no results'}"
        ),
        soft_wrap=True,
    )
    table = Table(show_edge=False, pad_edge=False)
    for column in ("task", "status", "duration", "attempts", "message"):
        table.add_column(column, no_wrap=column != "message")
    names = list(dict.fromkeys([*snapshot.tasks, *snapshot.results, *snapshot.interrupted]))
    style = {"success": "green", "failure": "red", "skipped": "yellow", "cancelled": "yellow"}
    for name in names:
        r = snapshot.results.get(name)
        if r is None:
            status = "interrupted" if name in snapshot.interrupted else "pending"
            table.add_row(Text(name), Text(status, style="magenta"), "", "", "")
            continue
        m = r.metrics
        status_text = r.status.value + (" (interrupted)" if name in snapshot.interrupted else "")
        table.add_row(
            Text(name),
            Text(status_text, style=style[r.status.value]),
            f"{m.duration_ms / 1000:.2f}s" if m else "",
            str(m.attempts) if m else "",
            Text(r.error or r.message or ""),
        )
    console.print(table)
    if plan is not None and session is not None:
        console.print(Text(render_plan(session, plan, str(path))))
    return EXIT_OK


def report(args: argparse.Namespace) -> int:
    """`flow-tui report SNAPSHOT [-o FILE]`: the run's HTML report, one self-contained file."""
    from flow_tui.report import write_report

    out = write_report(args.snapshot, args.output)
    print(f"report of {args.snapshot} written to {out}")
    return EXIT_OK
