"""The commands that reach a running flow-tui from another terminal or a script:
`ps`, `pause`, `resume`, `save`, `stop` and `attach`, all clients of a run's control
socket (flow_tui.control). Every refusal is a ControlError: one line, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from flow_tui.control.client import CommandRefused, ControlClient
from flow_tui.control.registry import ControlError, RunInfo, list_runs, resolve_run
from flow_tui.exit_codes import EXIT_OK
from flow_tui.paths import same_file

#: How long `ps` waits for a run's status before listing it as "not answering".
PS_TIMEOUT = 2.0
#: How long the steering commands wait for a run's answer.
COMMAND_TIMEOUT = 30.0

NOT_ANSWERING = "not answering"


def _label(info: RunInfo) -> str:
    return f"run {info.id} ({info.workflow})"


#: States of a run that has ended: its cancelled tasks are done, not waiting to run again.
OVER = ("finished", "failed", "cancelled")


def _progress(status: dict[str, Any]) -> str:
    """Tasks ended of all, e.g. `12/40`; while the run goes on, a task cut off by an
    interrupting pause (cancelled, to run again) is not counted."""
    counts = status.get("counts") or {}
    ended = ["success", "failure", "skipped"]
    if status.get("state") in OVER:
        ended.append("cancelled")
    done = sum(int(counts.get(k, 0)) for k in ended)
    return f"{done}/{status.get('tasks', '?')}"


def _started(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _status_of(info: RunInfo) -> dict[str, Any] | None:
    """The run's `status`, or None when it does not answer within PS_TIMEOUT."""
    try:
        with ControlClient(info, timeout=PS_TIMEOUT) as client:
            status: dict[str, Any] = client.request("status")["status"]
            return status
    except ControlError:
        return None


# -- ps --------------------------------------------------------------------------------


def ps(args: argparse.Namespace) -> int:
    runs = list_runs(clean=True)
    if not runs:
        if args.output == "json":
            print("[]")
        else:
            print("no flow-tui run of yours is running on this machine")
        return EXIT_OK
    # Asked at once, so that a run that does not answer costs PS_TIMEOUT once, not per run.
    with ThreadPoolExecutor(max_workers=min(8, len(runs))) as pool:
        statuses = list(pool.map(_status_of, runs))
    if args.output == "json":
        doc = []
        for info, status in zip(runs, statuses, strict=True):
            entry = info.to_dict()
            entry["answering"] = status is not None
            entry["state"] = status["state"] if status is not None else NOT_ANSWERING
            entry["progress"] = _progress(status) if status is not None else None
            entry["status"] = status
            doc.append(entry)
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return EXIT_OK
    header = ("ID", "WORKFLOW", "PID", "STATE", "PROGRESS", "STARTED", "CHECKPOINT")
    rows = [header]
    for info, status in zip(runs, statuses, strict=True):
        state = NOT_ANSWERING
        progress = "?"
        if status is not None:
            state = str(status.get("state"))
            if status.get("needs_consent"):
                state += " (needs consent)"
            progress = _progress(status)
        rows.append(
            (
                info.id,
                info.workflow,
                str(info.pid),
                state,
                progress,
                _started(info.started),
                info.checkpoint or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    return EXIT_OK


# -- steering --------------------------------------------------------------------------


def _request(info: RunInfo, cmd: str, **arguments: Any) -> dict[str, Any]:
    """Send one command to `info`; a refusal becomes a ControlError naming the run."""
    try:
        with ControlClient(info, timeout=COMMAND_TIMEOUT) as client:
            return client.request(cmd, **arguments)
    except CommandRefused as exc:
        raise ControlError(_refusal(info, cmd, exc)) from None


def _refusal(info: RunInfo, cmd: str, exc: CommandRefused) -> str:
    names = exc.reply.get("needs_consent")
    if exc.kind == "consent" and isinstance(names, list) and names:
        listed = ", ".join(str(n) for n in names)
        marks = " ".join(f"--mark-done {n}" for n in names)
        return (
            f"{_label(info)} refused {cmd}: non-idempotent task(s) {listed} were interrupted "
            "and may have partly run; pass --rerun-interrupted to run them again, or "
            f"{marks} if they completed"
        )
    return f"{_label(info)} refused {cmd}: {exc}"


def _running(status: dict[str, Any]) -> int:
    return int((status.get("counts") or {}).get("running", 0))


def pause(args: argparse.Namespace) -> int:
    info = resolve_run(args.run)
    reply = _request(info, "pause", interrupt=args.interrupt)
    status = reply.get("status") or {}
    running = _running(status)
    if args.interrupt and running:
        what = f"interrupting {running} running task(s)"
    elif running:
        what = f"{running} task(s) still finishing"
    else:
        what = "no task running"
    print(f"paused {_label(info)}: {what}")
    return EXIT_OK


def resume(args: argparse.Namespace) -> int:
    if args.rerun_interrupted and args.mark_done:
        raise ControlError(
            "--rerun-interrupted and --mark-done are two answers to one question; pass one"
        )
    info = resolve_run(args.run)
    reply = _request(
        info, "resume", rerun_interrupted=args.rerun_interrupted, mark_done=list(args.mark_done)
    )
    status = reply.get("status") or {}
    print(f"resumed {_label(info)}: {status.get('state', '?')}, {_progress(status)} done")
    return EXIT_OK


def save_target(file: str, cwd: Path | None = None) -> Path:
    """FILE as the run will write it: absolute (against this command's folder), with the
    suffix that picks the format (.toml or .json, the rule of --checkpoint)."""
    from flow_tui.snapshot.codec import codec_suffix

    path = Path(os.path.expanduser(file))
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    path = Path(os.path.normpath(path))
    codec_suffix(path)
    return path


def save(args: argparse.Namespace) -> int:
    path = save_target(args.file)
    info = resolve_run(args.run)
    if info.checkpoint and same_file(path, info.checkpoint):
        raise ControlError(
            f"{path} is the checkpoint {_label(info)} keeps up to date itself; "
            "save the snapshot to another file"
        )
    if path.exists() and not args.overwrite:
        # The dashboard's save dialog asks first; a script says so with --overwrite.
        raise ControlError(f"{path} exists: pass --overwrite to replace it, or choose another file")
    if not path.parent.is_dir():
        raise ControlError(f"cannot write {path}: folder {path.parent} does not exist")
    reply = _request(info, "save", path=str(path))
    status = reply.get("status") or {}
    print(f"saved {_label(info)} to {reply.get('path', path)}: {_progress(status)} done")
    return EXIT_OK


def stop(args: argparse.Namespace) -> int:
    info = resolve_run(args.run)
    with ControlClient(info, timeout=COMMAND_TIMEOUT) as client:
        try:
            reply = client.request("stop", grace=args.grace)
        except CommandRefused as exc:
            raise ControlError(_refusal(info, "stop", exc)) from None
        status = reply.get("status") or {}
        running = _running(status)
        grace = "" if args.grace is None else f" (grace {args.grace:g}s)"
        what = (
            f"{running} running task(s) may finish{grace}, then the run checkpoints and exits 143"
            if running
            else "it checkpoints and exits 143"
        )
        print(f"stopping {_label(info)}: {what}", flush=True)
        if not args.wait:
            return EXIT_OK
        bye = client.wait_end()
    if bye is not None and bye.get("exit_code") is not None:
        print(f"{_label(info)} ended: {bye.get('status')}, exit code {bye['exit_code']}")
    else:
        _wait_pid(info.pid)
        print(f"{_label(info)} ended (its exit code was not reported)")
    return EXIT_OK


def _wait_pid(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.05)


# -- attach ----------------------------------------------------------------------------


def attach(args: argparse.Namespace) -> int:
    info = resolve_run(args.run)
    from flow_tui.tui.attach import run_attach  # type: ignore[import-not-found,unused-ignore]

    code: int = run_attach(info)
    return code
