"""The exit codes of every `flow-tui` command, in one place.

0 and 1 are a run's own outcome; 2 is a usage, input or persistence error; 128 + N means
the process was stopped by signal N (SIGHUP 129, SIGINT 130, SIGTERM 143), never a run's
outcome.
"""

from __future__ import annotations

import signal

EXIT_OK = 0  # every task succeeded
EXIT_FAILED = 1  # a task failed, was skipped or cancelled, or work was left undone
EXIT_USAGE = 2  # bad usage, workflow, snapshot or checkpoint (one line on stderr)
EXIT_SIGHUP = 128 + signal.SIGHUP  # 129
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


def for_signal(signum: int) -> int:
    """The exit code of a process stopped by signal `signum` (the shell's convention)."""
    return 128 + int(signum)
