"""`flow-tui report`: one self-contained HTML page, checked as text and in a real browser."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flow_tui import Snapshot, TaskMetrics, TaskResult, TaskStatus
from flow_tui.report import ReportError, render_report, write_report

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def timed(status: TaskStatus, start: float, end: float, attempts: int = 1, **kw: str) -> TaskResult:
    m = TaskMetrics(
        T0 + timedelta(seconds=start), T0 + timedelta(seconds=end), (end - start) * 1e3, attempts
    )
    return TaskResult(status, metrics=m, **kw)  # type: ignore[arg-type]


def snapshot() -> Snapshot:
    return Snapshot(
        workflow="nightly <etl>",
        tasks=["extract", "transform", "load", "notify", "archive"],
        status="failed",
        results={
            "extract": timed(TaskStatus.SUCCESS, 0, 40),
            "transform": timed(
                TaskStatus.FAILURE,
                40,
                95,
                attempts=3,
                error="ValueError: bad row <script>alert(1)</script>",
                traceback="Traceback (most recent call last):\n  ValueError: bad row",
            ),
            "load": TaskResult(TaskStatus.SKIPPED, message="dependency transform failed"),
            "notify": timed(TaskStatus.CANCELLED, 41, 42),
        },
    )


def test_the_page_holds_summary_timeline_and_every_task_and_needs_nothing_outside() -> None:
    page = render_report(snapshot(), "state/nightly.toml")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "alert(1)</script>" not in page  # escaped, no script
    assert "&lt;script&gt;" in page
    for outside in ("http://", "https://", "<link", "<img", "@import", "src="):
        assert outside not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "nightly &lt;etl&gt;" in page
    assert page.count('<g class="bar">') == 3  # extract, transform, notify have times
    assert "transform: failure, 55.0 s (from 40.0 s), 3 attempts" in page
    for name in ("extract", "transform", "load", "notify", "archive"):
        assert f"<td>{name}</td>" in page
    assert "↷ skipped" in page and "· pending" in page


def test_a_report_of_a_real_checkpoint_and_its_errors(tmp_path: Path) -> None:
    snap = tmp_path / "run.json"
    snapshot().save(snap)
    out = write_report(snap, tmp_path / "run.html")
    assert out.read_text(encoding="utf-8").count("<tr>") == 6  # header + 5 tasks
    with pytest.raises(ReportError, match="would replace a snapshot"):
        write_report(snap, snap)
    with pytest.raises(ReportError, match="does not exist"):
        write_report(snap, tmp_path / "no" / "such" / "run.html")
    assert snap.read_text(encoding="utf-8").startswith("{")  # the snapshot is untouched


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_chromium_renders_the_report_offline(tmp_path: Path) -> None:
    snap = tmp_path / "run.toml"
    snapshot().save(snap)
    page = write_report(snap, tmp_path / "run.html")
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "<svg" in dom and dom.count('class="bar"') == 3
    assert "Where the time went" in dom and "average parallelism" in dom
    assert "ValueError: bad row &lt;script&gt;" in dom
    shot = tmp_path / "run.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1200,900", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert shot.stat().st_size > 10_000  # a page was drawn, not a blank error page


def test_the_cli_writes_the_report_and_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    snap = tmp_path / "nightly.json"
    snapshot().save(snap)

    def flow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flow_tui", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )

    done = flow("report", "nightly.json")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "nightly.html").read_text(encoding="utf-8").count('<g class="bar">') == 3
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    for args, words in [
        (("report", "missing.json"), "does not exist"),
        (("report", "broken.json"), "broken.json"),
        (("report", "nightly.json", "-o", "nightly.json"), "would replace a snapshot"),
        (("report", "nightly.json", "-o", "no/such/x.html"), "does not exist"),
    ]:
        bad = flow(*args)
        assert bad.returncode == 2
        assert bad.stderr.count("\n") == 1 and words in bad.stderr, bad.stderr
    assert snap.read_text(encoding="utf-8").startswith("{")
