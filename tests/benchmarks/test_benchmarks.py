"""The benchmark entry point runs end to end (tiny sizes) and writes its figures.

No timed assertions: this checks the suite works, not how fast flow-tui is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

CASES = {
    "scheduler",
    "growth",
    "uvloop",
    "events",
    "memory",
    "snapshot",
    "files",
    "resume",
    "checkpoint",
    "dashboard",
    "startup",
}


def test_quick_tiny_run_writes_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--tiny", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert {"meta", "cases", "summary", "not_run", "errors"} <= set(doc)
    assert doc["meta"]["mode"] == "tiny"
    assert set(doc["cases"]) == CASES
    assert doc["errors"] == {}
    assert doc["not_run"] == []

    scheduler = doc["cases"]["scheduler"]
    assert {"rows", "worst_ratio", "median_ratio", "growth"} <= set(scheduler)
    shapes = {row["shape"] for row in scheduler["rows"]}
    assert shapes == {"independent", "layered", "chain", "fan_in"}
    for row in scheduler["rows"]:
        assert {"n", "concurrency", "ours_us", "baseline_us", "ratio"} <= set(row)
    assert "worst" in doc["cases"]["growth"]
    assert "rows" in doc["cases"]["memory"]
    assert {"cold_s", "warm_s"} <= set(doc["cases"]["snapshot"])
    assert {"json_save", "json_load", "toml_save", "toml_load"} <= set(
        doc["cases"]["files"]["seconds"]
    )
    assert set(doc["cases"]["resume"]["seconds"]) == {"json", "toml"}
    assert set(doc["cases"]["checkpoint"]["ratio"]) == {"json", "toml"}
    assert "over_bare_ms" in doc["cases"]["startup"]
    assert "headless_imports_textual" in doc["cases"]["startup"]
    assert "status" in doc["cases"]["dashboard"]

    for row in doc["summary"]:
        assert {"case", "measure", "figure", "target", "passed", "verdict"} <= set(row)
    markdown = out.with_suffix(".md").read_text()
    assert "| case | measure | figure | target | pass/fail |" in markdown


def test_only_selects_cases(tmp_path: Path) -> None:
    out = tmp_path / "only.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--only", "growth", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert set(doc["cases"]) == {"scheduler", "growth"}  # growth needs the scheduler figures
    assert "memory" in doc["not_run"]


def attach_bench(tmp_path: Path, variant: str) -> tuple[str, dict[str, Any]]:
    """benchmarks/attach.py on 200 tasks, one round, with `variant` (--dashboards,
    --frozen): what it printed and the figures it wrote (exit 1: over the target)."""
    out = tmp_path / "attach.json"
    args = ["--tasks", "200", "--rounds", "1", variant, "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "benchmarks/attach.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout, json.loads(out.read_text())


def test_attach_cost_with_dashboards_runs_end_to_end(tmp_path: Path) -> None:
    """benchmarks/attach.py --dashboards: two real `flow-tui attach` dashboards in
    pseudo-terminals attach (the run's status counts them) before the work starts."""
    stdout, figures = attach_bench(tmp_path, "--dashboards")
    assert figures["dashboards"] is True and figures["tasks"] == 200
    assert set(figures["seconds"]) == {"none", "2 dashboards"}
    assert all(s > 0 for s in figures["seconds"].values())
    assert "ratio" in stdout


def test_attach_cost_with_frozen_viewers_reads_every_event_after_the_run(tmp_path: Path) -> None:
    """benchmarks/attach.py --frozen: the viewers stop after subscribing and, resumed once
    the run has exited, still read every task end and the bye (the run left them in the
    kernel's buffers and held their connections)."""
    _, figures = attach_bench(tmp_path, "--frozen")
    assert figures["frozen"] is True
    assert set(figures["seconds"]) == {"none", "2 frozen viewers"}
