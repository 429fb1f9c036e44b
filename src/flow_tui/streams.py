"""Output streams whose reader went away (`flow-tui ... | head`): what every command and
front end does then, written once. Imports rich only when a console is asked for."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def silence(stream: IO[str]) -> None:
    """Point `stream`'s file descriptor at /dev/null: its reader went away (a closed pipe),
    and nothing written later, not even the flush at exit, should fail."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def hung_up(stream: IO[str]) -> bool:
    """Whether `stream` is a terminal that hung up (a closed SSH or tmux window): a write
    of nothing fails there with EIO, and every later write would too."""
    try:
        os.write(stream.fileno(), b"")  # (isatty says False there: no test of it first)
    except OSError as exc:
        return exc.errno == errno.EIO
    except ValueError:  # closed
        return False
    return False


def rich_console(
    file: IO[str] | None = None, on_broken_pipe: Callable[[], None] | None = None
) -> Console:
    """A rich Console on `file` (stdout when None), without highlighting, that goes quiet
    when its reader goes away and then calls `on_broken_pipe`.

    rich's own reaction raises SystemExit(1) from wherever it was printing, in the middle
    of a run or of a command's output.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            if on_broken_pipe is not None:
                on_broken_pipe()

    return _Console(file=file, highlight=False)
