"""Reports of a run: `timeline` (where the time went, as data) and `html` (one
self-contained page: summary, timeline, tasks), written by `flow-tui report`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flow_tui.core.errors import FlowError
from flow_tui.core.snapshot import Snapshot
from flow_tui.paths import same_file
from flow_tui.report.html import render_report
from flow_tui.report.timeline import Bar, Timeline, assign_lanes, build_timeline


class ReportError(FlowError):
    """The report cannot be written where asked."""


def default_report_path(snapshot: Path) -> Path:
    """`run.toml` -> `run.html`, in the current folder."""
    return Path(snapshot.with_suffix(".html").name)


def write_report(snapshot_path: Path, out: Path | None = None) -> Path:
    """Read `snapshot_path` (a snapshot or a checkpoint, its journal folded in) and write
    its HTML report to `out` atomically; returns the path written. FlowError (one line)
    when the snapshot cannot be read or the report cannot be written."""
    out = out if out is not None else default_report_path(snapshot_path)
    if same_file(out, snapshot_path) or out.suffix.lower() in (".json", ".toml"):
        raise ReportError(
            f"refusing to write the report over {out}: it would replace a snapshot; "
            "name an .html file with -o"
        )
    snapshot = Snapshot.load(snapshot_path)
    page = render_report(snapshot, str(snapshot_path))
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"cannot write report {out}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ReportError(f"cannot write report {out}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ReportError(f"cannot write report {out}: {exc.strerror or exc}") from exc
    return out


__all__ = [
    "Bar",
    "ReportError",
    "Timeline",
    "assign_lanes",
    "build_timeline",
    "default_report_path",
    "render_report",
    "write_report",
]
