"""Every dashboard of these tests serves its control socket in a private folder of its
own: short enough for a Unix socket path, and never the user's real runtime folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_tui.control.registry import DIR_ENV


@pytest.fixture(autouse=True, scope="session")
def control_folder() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="ft", dir="/tmp")
    before = os.environ.get(DIR_ENV)
    os.environ[DIR_ENV] = folder
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(DIR_ENV, None)
        else:
            os.environ[DIR_ENV] = before
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A control folder of this test's own (attach tests: the run and its viewers)."""
    folder = Path(tempfile.mkdtemp(prefix="ft", dir="/tmp"))
    monkeypatch.setenv(DIR_ENV, str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
