"""Before an interrupting pause cuts off non-idempotent tasks: interrupt them anyway (y),
or leave the run as it was (n, escape)."""

from __future__ import annotations

from flow_tui.tui.dialogs.confirm import ConfirmDialog


class ConfirmInterrupt(ConfirmDialog):
    """Dismisses with True to interrupt; No leaves the run untouched."""

    def __init__(self, tasks: list[str]) -> None:
        names = ", ".join(tasks)
        one = len(tasks) == 1
        super().__init__(
            "Interrupt?",
            f"Interrupt {names} anyway? {'It is' if one else 'They are'} not idempotent: "
            f"cut off now, {'it' if one else 'they'} may have partly run, and will run again "
            "only once you decide on resume (re-run, or mark done).",
            yes="Interrupt",
            no="Keep running",
        )
        self.tasks = tasks
