"""What each entry point imports, in a fresh interpreter per entry point (harlequin's
test_import_hygiene): the headless path never imports Textual, and core imports no UI or
file-format library. import-linter (`lint-imports`) checks the same rules statically."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: entry point -> the top-level packages it must not import
FORBIDDEN = {
    "flow_tui.core": ("textual", "rich", "tomli_w", "dask", "distributed"),
    "flow_tui.core.runner": ("textual", "rich", "tomli_w", "dask", "distributed"),
    "flow_tui": ("textual", "rich", "dask", "distributed"),
    "flow_tui.snapshot": ("textual", "rich"),
    "flow_tui.checkpoint": ("textual", "rich"),
    "flow_tui.session": ("textual", "rich", "dask", "distributed"),
    "flow_tui.loader": ("textual", "rich"),
    "flow_tui.headless": ("textual", "dask", "distributed"),
    "flow_tui.shutdown": ("textual",),
    "flow_tui.cli": ("textual", "dask", "distributed"),
    "flow_tui.tui": ("textual",),  # run_dashboard loads the app (and textual) when it runs
}


def imported_packages(module: str) -> set[str]:
    code = (
        "import sys\n"
        f"__import__({module!r})\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    return set(out.split(","))


@pytest.mark.parametrize("module", list(FORBIDDEN))
def test_entry_point_imports_nothing_forbidden(module: str) -> None:
    leaked = imported_packages(module) & set(FORBIDDEN[module])
    assert not leaked, f"{module} imports {sorted(leaked)}"


def test_the_check_can_fail() -> None:
    assert "textual" in imported_packages("flow_tui.tui.app")
