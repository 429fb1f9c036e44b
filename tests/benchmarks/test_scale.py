"""`python -m benchmarks --scale` runs end to end (tiny sizes) and writes its figures.

No timed assertions: this checks the scale mode works, not how fast flow-tui is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _scale(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "--tiny", "--json", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    doc: dict[str, Any] = json.loads(out.read_text())
    assert "load + resume, all success" in done.stdout
    return doc


def test_scale_mode_measures_each_size_and_prints_the_issue_table(tmp_path: Path) -> None:
    doc = _scale(tmp_path, "--before", str(tmp_path / "none.json"))
    assert doc["errors"] == {}
    assert list(doc["cases"]) == ["scale"]
    scale = doc["cases"]["scale"]
    assert scale["sizes"] == [300, 1000]
    for row in scale["rows"]:
        assert {"ours_us", "baseline_us", "snapshot_s", "files_s", "resume_s", "peak_gb"} <= set(
            row
        )
        assert {"json_save", "json_load", "toml_save", "toml_load"} == set(row["files_s"])
        assert row["bytes"]["json"] > 0 and row["bytes"]["toml"] > 0
        assert row["peak_gb"]["median"] > 0
        assert set(row["cli_s"]) == {"none", "json"}
    assert {"execute", "baseline", "snapshot"} <= set(scale["growth"])
    # Tiny sizes are not the issue's: the targets give no verdict.
    assert all(r["passed"] is None for r in doc["summary"])


def test_scale_mode_prints_an_earlier_run_beside_the_new_one(tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    _scale(first, "--no-launch", "--scale-sizes", "200,400")
    before = first / "scale.json"
    doc = _scale(tmp_path, "--no-launch", "--scale-sizes", "200,400", "--before", str(before))
    scale = doc["cases"]["scale"]
    assert scale["sizes"] == [200, 400]
    assert scale["before"]["figures"]["sizes"] == [200, 400]
    assert "cli_s" not in scale["rows"][0]
