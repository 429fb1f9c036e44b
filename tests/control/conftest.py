"""Fixtures of the control tests: real `flow-tui` processes, each test with a private,
short runtime folder (FLOW_TUI_RUNTIME_DIR) so that runs of other tests stay unseen."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from .steer import Steer


@pytest.fixture
def steer(tmp_path: Path) -> Iterator[Steer]:
    runtime = Path(tempfile.mkdtemp(prefix="ft", dir="/tmp"))
    steer = Steer(tmp_path, runtime)
    try:
        yield steer
    finally:
        steer.close()
        shutil.rmtree(runtime, ignore_errors=True)
