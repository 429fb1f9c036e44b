"""Where the runs of this user on this machine are found: one folder, two files per run.

Every run that serves a control endpoint (headless or dashboard) writes, in a private
folder (`$XDG_RUNTIME_DIR/flow-tui/`, else `<tmp>/flow-tui-<uid>/`, mode 0700, owned by
this user), `<id>.sock` (its Unix socket, mode 0600) and `<id>.json` (what `ps` shows:
pid, workflow, checkpoint, start time). Both are removed at exit; the files of a run that
died are removed by the next `list_runs()` (`flow-tui ps`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import stat
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flow_tui.core.errors import FlowError
from flow_tui.paths import same_file

#: Overrides the folder (tests, and users who want runs in a place of their own).
DIR_ENV = "FLOW_TUI_RUNTIME_DIR"


class ControlError(FlowError):
    """A run cannot be found or reached, or refused what was asked (one line)."""


def runtime_dir(create: bool = True) -> Path:
    """The private folder of this user's run files; created (0700) when `create`.

    Refused (ControlError) when it exists but is not a folder of ours with mode 0700, so
    that nobody else can plant or read a socket there.
    """
    override = os.environ.get(DIR_ENV)
    if override:
        folder = Path(override)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(os.environ["XDG_RUNTIME_DIR"]) / "flow-tui"
    else:
        folder = Path(tempfile.gettempdir()) / f"flow-tui-{os.getuid()}"
    if create:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlError(
                f"cannot create the control folder {folder}: {exc.strerror or exc}; "
                f"set {DIR_ENV} to a writable folder or pass --no-control"
            ) from exc
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return folder
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ControlError(
            f"control folder {folder} is not a folder owned by you; remove it or set {DIR_ENV}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        # Not made private behind the user's back (FLOW_TUI_RUNTIME_DIR=/tmp would be
        # chmod-ed), and not trusted: others may have planted sockets or records in it.
        raise ControlError(
            f"control folder {folder} is open to other users (mode {mode:04o}): make it "
            f"private (chmod 700 {folder}) or set {DIR_ENV} to a folder of its own"
        )
    return folder


@dataclass(slots=True)
class RunInfo:
    """What `ps` shows of a run, and where to reach it."""

    id: str
    pid: int
    workflow: str
    socket: str
    started: str  # ISO 8601, UTC
    checkpoint: str | None = None
    source: str | None = None  # the workflow module's file
    cwd: str | None = None
    front_end: str = "headless"  # headless | dashboard

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunInfo:
        fields = {k: data[k] for k in cls.__slots__ if k in data}
        info = cls(**fields)
        if not isinstance(info.id, str) or not isinstance(info.pid, int):
            raise ValueError("not a run record")
        return info


def new_run_id() -> str:
    """A short random id (8 hex digits); `attach a1b2` accepts any unique prefix."""
    return secrets.token_hex(4)


def info_path(folder: Path, run_id: str) -> Path:
    return folder / f"{run_id}.json"


def socket_path(folder: Path, run_id: str) -> Path:
    return folder / f"{run_id}.sock"


def write_info(info: RunInfo, folder: Path) -> Path:
    """Write the run's record atomically (mode 0600)."""
    path = info_path(folder, info.id)
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info.to_dict(), f)
    os.replace(tmp, path)
    return path


def remove_run_files(folder: Path, run_id: str) -> None:
    for path in (socket_path(folder, run_id), info_path(folder, run_id)):
        with contextlib.suppress(OSError):
            path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _socket_answers(path: str) -> bool:
    """Whether something listens on `path` (a dead run's socket refuses)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True  # busy or slow: alive, but not answering now
    return True


def list_runs(clean: bool = True) -> list[RunInfo]:
    """The live runs of this user, oldest first; with `clean`, the files of dead runs
    (no process, or nothing listening on the socket) are removed."""
    try:
        folder = runtime_dir(create=False)
        entries = sorted(folder.glob("*.json"))
    except OSError:
        return []
    runs = []
    for path in entries:
        try:
            info = RunInfo.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            if clean:
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        if _pid_alive(info.pid) and _socket_answers(info.socket):
            runs.append(info)
        elif clean:
            remove_run_files(folder, info.id)
    if clean:
        _remove_orphan_sockets(folder, {r.id for r in runs})
    runs.sort(key=lambda r: r.started)
    return runs


def _remove_orphan_sockets(folder: Path, live: set[str]) -> None:
    """Sockets without a record (a run that died between binding and writing it), unless
    something listens on them (a run starting right now)."""
    try:
        sockets = list(folder.glob("*.sock"))
    except OSError:
        return
    for path in sockets:
        run_id = path.name.removesuffix(".sock")
        if run_id in live or info_path(folder, run_id).exists():
            continue
        if not _socket_answers(str(path)):
            with contextlib.suppress(OSError):
                path.unlink()


def _describe(runs: list[RunInfo]) -> str:
    return "; ".join(f"{r.id} {r.workflow} (pid {r.pid})" for r in runs)


def resolve_run(spec: str | None, runs: list[RunInfo] | None = None) -> RunInfo:
    """The run `spec` names: a run id or its prefix, a pid, a workflow name that only one
    run has, its checkpoint path, its workflow file (`nightly.py`, `nightly`) or the start
    of its workflow name; None names the only run. ControlError otherwise,
    listing what exists or the candidates."""
    runs = list_runs() if runs is None else runs
    if not runs:
        raise ControlError("no flow-tui run of yours is running on this machine")
    if spec is None:
        if len(runs) == 1:
            return runs[0]
        raise ControlError(f"{len(runs)} runs are running; name one: {_describe(runs)}")
    candidates = [r for r in runs if r.id == spec]
    if not candidates:
        candidates = [r for r in runs if r.id.startswith(spec)]
    if not candidates and spec.isdigit():
        candidates = [r for r in runs if r.pid == int(spec)]
    if not candidates:
        candidates = [r for r in runs if r.workflow == spec]
    if not candidates:
        candidates = [r for r in runs if r.checkpoint and same_file(r.checkpoint, spec)]
    if not candidates:
        # The workflow's file as launched (`nightly.py`, or its name without .py), then
        # the start of a workflow name: `attach nightly` for `nightly-etl`.
        candidates = [r for r in runs if r.source and _names_source(r.source, spec)]
    if not candidates:
        candidates = [r for r in runs if r.workflow.startswith(spec)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ControlError(f"no run matches {spec!r}; running: {_describe(runs)}")
    raise ControlError(f"{spec!r} matches {len(candidates)} runs: {_describe(candidates)}")


def _names_source(source: str, spec: str) -> bool:
    path = Path(source)
    return spec in (path.name, path.stem) or same_file(source, spec)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
