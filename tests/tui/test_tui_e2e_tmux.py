"""End to end: the real `flow-tui launch` in tmux, steered with keys like an operator.

Pause, save a snapshot through the dialog, quit, launch again with --resume, and check
from what the tasks wrote that no task saved as a success ran again.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flow_tui import Snapshot, TaskStatus

WORKFLOW = Path(__file__).parent / "workflows" / "e2e_flow.py"
FLOW_TUI = Path(sys.executable).with_name("flow-tui")

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
)


class Terminal:
    """One tmux server of our own (its own socket), one window of 120x40."""

    def __init__(self, folder: Path) -> None:
        self.socket = f"flow-tui-e2e-{os.getpid()}"
        self.folder = folder

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        return out.stdout

    def launch(self, name: str, *args: str) -> Path:
        """Run `flow-tui launch` in a new window; its exit code lands in a file."""
        exit_file = self.folder / f"{name}.exit"
        env = {
            "FLOW_TUI_E2E_LOG": str(self.folder / "ran.log"),
            "FLOW_TUI_E2E_GATE": str(self.folder / "gate"),
            "TERM": "xterm-256color",
            "PATH": os.environ.get("PATH", ""),
        }
        command = " ".join(
            [
                "env",
                *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
                shlex.quote(str(FLOW_TUI)),
                "launch",
                shlex.quote(str(WORKFLOW)),
                *map(shlex.quote, args),
                f"; echo $? > {shlex.quote(str(exit_file))}",
            ]
        )
        self.tmux(
            "new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", str(self.folder),
            command,
        )  # fmt: skip
        return exit_file

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", name)

    def keys(self, name: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", name, *keys)

    def close(self) -> None:
        self.tmux("kill-server")


def wait_for(check: Callable[[], object], what: str, screen: Callable[[], str]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen()}")
        time.sleep(0.05)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.close()


def test_pause_save_quit_and_resume_never_reruns_a_success(
    terminal: Terminal, tmp_path: Path
) -> None:
    ran = tmp_path / "ran.log"

    def lines() -> list[str]:
        return ran.read_text().split() if ran.exists() else []

    # First launch, with a checkpoint: extract and prepare succeed, transform waits.
    first = terminal.launch("first", "--checkpoint", "ck.toml")
    screen = lambda: terminal.screen("first")  # noqa: E731
    wait_for(lambda: "1 running" in screen() and len(lines()) == 2, "transform running", screen)

    terminal.keys("first", "p")
    wait_for(lambda: "pausing (1 running)" in screen(), "pausing", screen)

    terminal.keys("first", "s")
    wait_for(lambda: "Save snapshot" in screen(), "the save dialog", screen)
    # Like a person: clear the default path, type, look, then press enter.
    terminal.keys("first", "C-a", "C-k")
    wait_for(lambda: "path/to/snapshot.toml" in screen(), "an empty path input", screen)
    terminal.keys("first", "-l", "snap.toml")
    wait_for(lambda: "▊  snap.toml" in screen(), "the typed path", screen)
    terminal.keys("first", "Enter")
    wait_for(lambda: "Snapshot saved to snap.toml" in screen(), "saved", screen)

    terminal.keys("first", "q")
    wait_for(lambda: "Quit?" in screen(), "the quit question", screen)
    terminal.keys("first", "y")
    wait_for(first.exists, "the first launch to exit", screen)
    assert first.read_text().strip() == "130"  # quit with unfinished work

    saved = Snapshot.load(tmp_path / "snap.toml")
    assert saved.results["extract"].status is TaskStatus.SUCCESS
    assert saved.results["prepare"].status is TaskStatus.SUCCESS
    assert "transform" not in saved.results and saved.interrupted == ["transform"]
    assert sorted(lines()) == ["extract", "prepare"]

    # Second launch resumes from the snapshot; transform may finish now.
    (tmp_path / "gate").touch()
    second = terminal.launch("second", "--resume", "snap.toml", "--checkpoint", "ck2.toml")
    screen = lambda: terminal.screen("second")  # noqa: E731
    wait_for(lambda: "Run finished" in screen(), "the resumed run to finish", screen)
    assert "✔ 5 success" in screen()
    terminal.keys("second", "q")
    wait_for(second.exists, "the second launch to exit", screen)
    assert second.read_text().strip() == "0"

    # Every task ran exactly once over both launches: no saved success ran again.
    assert sorted(lines()) == ["extract", "prepare", "publish", "report", "transform"]
    final = Snapshot.load(tmp_path / "ck2.toml")
    assert {r.status for r in final.results.values()} == {TaskStatus.SUCCESS}
