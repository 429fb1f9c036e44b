"""End to end: the real `flow-tui launch` in tmux, steered with keys like an operator.

Pause, save a snapshot through the dialog, quit, launch again with --resume, and check
from what the tasks wrote that no task saved as a success ran again. Stop the dashboard
with real signals and check the checkpoint, the exit code and the terminal it leaves.
Interrupt a task that is not idempotent and check that it runs again only by consent.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from flow_tui import Snapshot, TaskStatus

WORKFLOWS = Path(__file__).parent / "workflows"
WORKFLOW = WORKFLOWS / "e2e_flow.py"
SIGNAL_FLOW = WORKFLOWS / "signal_flow.py"
DEPLOY_FLOW = WORKFLOWS / "deploy_flow.py"
PROMPT = "shell-after-flow-tui$"
FLOW_TUI = Path(sys.executable).with_name("flow-tui")

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
)


class Terminal:
    """One tmux server of our own (its own socket), one window of 120x40."""

    def __init__(self, folder: Path) -> None:
        # A server per test: a new one on the socket of a server still shutting down
        # would refuse the first window.
        self.socket = f"flow-tui-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.folder = folder

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        return out.stdout

    def launch(
        self,
        name: str,
        *args: str,
        workflow: Path | str | None = WORKFLOW,
        command_name: str = "launch",
        env: dict[str, str] | None = None,
    ) -> Path:
        """Run `flow-tui launch` (or `command_name`) in a new window; its exit code lands
        in a file, then a shell takes over the window (its prompt is PROMPT), as after a
        real session. `env` adds to the window's few variables."""
        exit_file = self.folder / f"{name}.exit"
        env = {
            "FLOW_TUI_E2E_LOG": str(self.folder / "ran.log"),
            "FLOW_TUI_E2E_GATE": str(self.folder / "gate"),
            "TERM": "xterm-256color",
            "PATH": os.environ.get("PATH", ""),
            **(env or {}),
        }
        command = " ".join(
            [
                "env",
                *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
                shlex.quote(str(FLOW_TUI)),
                command_name,
                *([] if workflow is None else [shlex.quote(str(workflow))]),
                *map(shlex.quote, args),
                f"; echo $? > {shlex.quote(str(exit_file))}",
                f"; exec env PS1={shlex.quote(PROMPT + ' ')} sh -i",
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

    def pane(self, name: str, variable: str) -> str:
        """A tmux format variable of the window's pane (alternate_on, mouse_any_flag...)."""
        return self.tmux("display", "-p", "-t", name, f"#{{{variable}}}").strip()

    def app_pid(self, name: str) -> int:
        """The pid of `flow-tui` in the window: the child of the pane's shell."""
        shell = int(self.pane(name, "pane_pid"))
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == shell:
                return int(stat.parent.name)
        raise AssertionError(f"no flow-tui process under the shell {shell}")

    def close(self) -> None:
        self.tmux("kill-server")


def exited(exit_file: Path) -> str:
    """The exit code the shell wrote to `exit_file`, or "" until it is written whole
    (`echo $? > file` creates the file before it writes the code)."""
    try:
        text = exit_file.read_text()
    except FileNotFoundError:
        return ""
    return text.strip() if text.endswith("\n") else ""


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
    screen = partial(terminal.screen, "first")
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
    wait_for(partial(exited, first), "the first launch to exit", screen)
    assert exited(first) == "1"  # quit with unfinished work: the run's own code

    saved = Snapshot.load(tmp_path / "snap.toml")
    assert saved.results["extract"].status is TaskStatus.SUCCESS
    assert saved.results["prepare"].status is TaskStatus.SUCCESS
    assert "transform" not in saved.results and saved.interrupted == ["transform"]
    assert sorted(lines()) == ["extract", "prepare"]

    # Second launch resumes from the snapshot; transform may finish now.
    (tmp_path / "gate").touch()
    second = terminal.launch("second", "--resume", "snap.toml", "--checkpoint", "ck2.toml")
    screen = partial(terminal.screen, "second")
    wait_for(lambda: "Run finished" in screen(), "the resumed run to finish", screen)
    assert "✔ 5 success" in screen()
    terminal.keys("second", "q")
    wait_for(partial(exited, second), "the second launch to exit", screen)
    assert exited(second) == "0"

    # Every task ran exactly once over both launches: no saved success ran again.
    assert sorted(lines()) == ["extract", "prepare", "publish", "report", "transform"]
    final = Snapshot.load(tmp_path / "ck2.toml")
    assert {r.status for r in final.results.values()} == {TaskStatus.SUCCESS}


# -- signals ------------------------------------------------------------------------------


def log_lines(folder: Path) -> list[str]:
    ran = folder / "ran.log"
    return ran.read_text().splitlines() if ran.exists() else []


def assert_terminal_restored(terminal: Terminal, name: str) -> None:
    """After the dashboard exited: the shell's prompt on the normal screen, mouse off."""
    screen = partial(terminal.screen, name)
    wait_for(lambda: PROMPT in screen(), "the shell's prompt", screen)
    assert terminal.pane(name, "alternate_on") == "0"
    assert terminal.pane(name, "mouse_any_flag") == "0"
    assert terminal.pane(name, "mouse_sgr_flag") == "0"


def assert_checkpoint_closed(checkpoint: Path) -> Snapshot:
    """Folded (no journal) and released (no lock), and loadable."""
    beside = sorted(p.name for p in checkpoint.parent.glob(checkpoint.name + ".*"))
    assert beside == [], beside
    return Snapshot.load(checkpoint)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, "143"), (signal.SIGHUP, "129")])
def test_a_signal_mid_run_lets_the_running_task_finish_then_saves_and_restores(
    terminal: Terminal, tmp_path: Path, sig: signal.Signals, code: str
) -> None:
    done = terminal.launch("run", "--checkpoint", "ck.toml", "--grace", "60", workflow=SIGNAL_FLOW)
    screen = partial(terminal.screen, "run")
    wait_for(
        lambda: "long_step started" in log_lines(tmp_path) and "1 running" in screen(),
        "long_step running",
        screen,
    )
    os.kill(terminal.app_pid("run"), sig)
    wait_for(
        lambda: f"Received {sig.name}" in screen() and "cancelled in" in screen(),
        "the grace period on screen",
        screen,
    )
    assert not done.exists()  # it waits for long_step
    (tmp_path / "gate").touch()  # long_step finishes within the grace
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == code

    assert_terminal_restored(terminal, "run")
    saved = assert_checkpoint_closed(tmp_path / "ck.toml")
    assert saved.results["long_step"].status is TaskStatus.SUCCESS
    assert "long_step" not in saved.interrupted  # it finished: never runs again
    assert "after" not in log_lines(tmp_path)  # nothing started after the signal


def running(pid: int) -> bool:
    """Whether process `pid` is still there (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_closing_the_terminal_window_mid_run_saves_and_the_process_ends(
    terminal: Terminal, tmp_path: Path
) -> None:
    # What closing an SSH or tmux window does: SIGHUP, and the terminal is gone, so
    # nothing the dashboard writes can reach it (and must not block it) any more.
    terminal.launch("run", "--checkpoint", "ck.toml", "--grace", "60", workflow=SIGNAL_FLOW)
    screen = partial(terminal.screen, "run")
    wait_for(
        lambda: "long_step started" in log_lines(tmp_path) and "1 running" in screen(),
        "long_step running",
        screen,
    )
    pid = terminal.app_pid("run")
    terminal.tmux("kill-session", "-t", "run")
    (tmp_path / "gate").touch()  # long_step finishes within the grace
    wait_for(lambda: not running(pid), "the dashboard to end", lambda: "(window closed)")
    saved = assert_checkpoint_closed(tmp_path / "ck.toml")
    assert saved.results["long_step"].status is TaskStatus.SUCCESS
    assert "long_step" not in saved.interrupted
    assert "after" not in log_lines(tmp_path)  # nothing started after the hangup


def test_a_second_sigterm_cancels_at_once_and_still_saves_and_restores(
    terminal: Terminal, tmp_path: Path
) -> None:
    done = terminal.launch("run", "--checkpoint", "ck.json", "--grace", "600", workflow=SIGNAL_FLOW)
    screen = partial(terminal.screen, "run")
    wait_for(lambda: "long_step started" in log_lines(tmp_path), "long_step running", screen)
    pid = terminal.app_pid("run")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: "send SIGTERM again" in screen(), "the grace period", screen)
    os.kill(pid, signal.SIGTERM)  # the grace is 600 s: only this ends it in time
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == "143"

    assert_terminal_restored(terminal, "run")
    saved = assert_checkpoint_closed(tmp_path / "ck.json")
    assert saved.results["prepare"].status is TaskStatus.SUCCESS
    assert saved.interrupted == ["long_step"]  # cut off: runs again only by consent
    assert "long_step done" not in log_lines(tmp_path)


@pytest.mark.parametrize("variant", ["stubborn", "swallowing"])
def test_a_task_that_ignores_cancellation_does_not_keep_the_terminal(
    terminal: Terminal, tmp_path: Path, variant: str
) -> None:
    done = terminal.launch(
        "run", "--checkpoint", "ck.toml", "--grace", "600", workflow=f"{SIGNAL_FLOW}:{variant}"
    )
    screen = partial(terminal.screen, "run")
    wait_for(lambda: "long_step started" in log_lines(tmp_path), "long_step running", screen)
    pid = terminal.app_pid("run")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: "send SIGTERM again" in screen(), "the grace period", screen)
    os.kill(pid, signal.SIGTERM)  # cancel now: long_step does not stop
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == "143"

    assert_terminal_restored(terminal, "run")
    saved = assert_checkpoint_closed(tmp_path / "ck.toml")
    assert saved.results["prepare"].status is TaskStatus.SUCCESS
    assert "long_step" not in saved.results or "long_step" in saved.interrupted


# -- quitting and consent ---------------------------------------------------------------


def test_q_on_a_finished_run_with_a_failure_asks_then_exits_1(
    terminal: Terminal, tmp_path: Path
) -> None:
    (tmp_path / "gate").touch()
    done = terminal.launch("run", workflow=DEPLOY_FLOW)
    screen = partial(terminal.screen, "run")
    wait_for(lambda: "Run failed" in screen(), "the run to fail", screen)
    terminal.keys("run", "q")
    wait_for(lambda: "Save snapshot & quit" in screen(), "the quit question", screen)
    terminal.keys("run", "y")
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == "1"
    assert_terminal_restored(terminal, "run")


def test_shift_p_asks_and_p_asks_consent_before_the_migration_runs_again(
    terminal: Terminal, tmp_path: Path
) -> None:
    done = terminal.launch("run", "--checkpoint", "ck.toml", workflow=DEPLOY_FLOW)
    screen = partial(terminal.screen, "run")

    def migrations() -> int:
        return log_lines(tmp_path).count("applying migration")

    wait_for(lambda: migrations() == 1 and "1 running" in screen(), "the migration", screen)

    terminal.keys("run", "P")
    wait_for(lambda: "Interrupt migrate_database anyway?" in screen(), "the question", screen)
    terminal.keys("run", "n")  # No: the migration goes on
    wait_for(lambda: "Interrupt?" not in screen(), "the question to close", screen)
    assert "1 running" in screen()

    terminal.keys("run", "P")
    wait_for(lambda: "Interrupt migrate_database anyway?" in screen(), "the question", screen)
    terminal.keys("run", "y")
    wait_for(lambda: "↺ migrate_database" in screen(), "the migration interrupted", screen)

    terminal.keys("run", "p")
    wait_for(
        lambda: "Resume?" in screen() and "migrate_database is not idempotent" in screen(),
        "the consent question",
        screen,
    )
    assert migrations() == 1  # not run again before anyone decided
    (tmp_path / "gate").touch()
    terminal.keys("run", "Down", "Enter")  # "It completed: mark it done"
    wait_for(lambda: "migrate_database will be recorded as done" in screen(), "the choice", screen)
    terminal.keys("run", "a")
    wait_for(lambda: "Run failed" in screen(), "the run to go on and end", screen)
    assert migrations() == 1  # the migration never ran twice
    assert "deploying" in log_lines(tmp_path)

    terminal.keys("run", "q")
    wait_for(lambda: "Quit?" in screen(), "the quit question", screen)
    terminal.keys("run", "y")
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == "1"  # notify_chat failed
    saved = assert_checkpoint_closed(tmp_path / "ck.toml")
    migrate = saved.results["migrate_database"]
    assert migrate.status is TaskStatus.SUCCESS
    assert "marked done by the operator" in (migrate.message or "")


# -- the timeline ---------------------------------------------------------------------------


def test_the_timeline_at_80_by_24_shows_the_run_and_moves_the_tree(
    terminal: Terminal, tmp_path: Path
) -> None:
    done = terminal.launch("run")
    terminal.tmux("resize-window", "-t", "run", "-x", "80", "-y", "24")
    screen = partial(terminal.screen, "run")
    wait_for(
        lambda: "1 running" in screen() and len(log_lines(tmp_path)) == 2,
        "transform running",
        screen,
    )
    assert len(screen().splitlines()) == 24
    terminal.keys("run", "t")
    wait_for(lambda: "Timeline: 3 attempts" in screen(), "the timeline", screen)
    lines = screen().splitlines()
    assert lines[2].startswith("╵0s")  # the time axis
    assert "transform" in "\n".join(lines[3:5])  # the running attempt, growing
    assert "esc back" in lines[-1]

    # The tree follows the bar selected in the timeline: the first bar (extract), then
    # the last one to start (transform).
    terminal.keys("run", "Home")
    terminal.keys("run", "Escape")
    wait_for(lambda: "Timeline:" not in screen(), "back to the tree", screen)
    wait_for(lambda: "▏ extract" in screen(), "extract in the detail pane", screen)
    terminal.keys("run", "t")
    wait_for(lambda: "Timeline: 3 attempts" in screen(), "the timeline again", screen)
    terminal.keys("run", "End")
    terminal.keys("run", "Escape")
    wait_for(lambda: "Timeline:" not in screen(), "back to the tree", screen)
    wait_for(lambda: "▏ transform" in screen(), "transform in the detail pane", screen)

    (tmp_path / "gate").touch()
    wait_for(lambda: "Run finished" in screen(), "the run to finish", screen)
    terminal.keys("run", "t")
    wait_for(lambda: "Timeline: 5 attempts" in screen(), "the whole run's timeline", screen)
    assert "✔ transform" in screen()
    terminal.keys("run", "Escape")
    wait_for(lambda: "Timeline:" not in screen(), "back to the tree", screen)
    terminal.keys("run", "q")
    wait_for(partial(exited, done), "the dashboard to exit", screen)
    assert exited(done) == "0"
