"""The headless path never imports Textual: core, snapshot, session, headless, the CLI."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

MODULES = [
    "flow_tui",
    "flow_tui.core",
    "flow_tui.snapshot",
    "flow_tui.session",
    "flow_tui.checkpoint",
    "flow_tui.loader",
    "flow_tui.headless",
    "flow_tui.cli",
]


def test_headless_modules_do_not_import_textual() -> None:
    present = [m for m in MODULES if importlib.util.find_spec(m) is not None]
    assert {"flow_tui.core", "flow_tui.snapshot", "flow_tui.session"} <= set(present)
    code = (
        "import sys\n"
        f"for name in {present!r}:\n"
        "    __import__(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(leaked))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"textual imported by the headless path: {out}"


def test_the_dashboard_package_does_import_textual_lazily() -> None:
    # flow_tui.tui itself only defines run_dashboard; the app loads when it runs.
    code = "import sys, flow_tui.tui; print('textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False"
