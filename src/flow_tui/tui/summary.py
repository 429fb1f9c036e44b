"""What the dashboard says about a run as a whole: the banner once it is over, and the
notices shared with the headless output, as sentences."""

from __future__ import annotations

from textual.content import Content

from flow_tui.session import RunState
from flow_tui.tui.status import RowStatus, format_clock

# How the tasks of a run that is over can have ended other than in success: words.
_OTHER_ENDS = (
    (RowStatus.FAILURE, "failed"),
    (RowStatus.SKIPPED, "skipped"),
    (RowStatus.CANCELLED, "cancelled"),
    (RowStatus.INTERRUPTED, "interrupted"),
)


def sentence(text: str) -> str:
    """A lower-case notice (shared with headless output) as a sentence on screen."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def run_summary(
    state: RunState,
    counts: dict[RowStatus, int],
    elapsed: float,
    failed: list[str],
    hint: str | None = None,
) -> Content:
    """The banner of a run that is over: how its tasks ended, what to press next.

    `failed`: the failed tasks, in the workflow's order (the first three are named).
    `hint`: what to press next, when not what the dashboard of the run offers.
    """
    took = format_clock(elapsed)
    if state is RunState.FINISHED:
        return Content.styled(
            f"✔ Run finished: {counts[RowStatus.SUCCESS]} tasks succeeded in {took}. "
            f"{hint or 'q quits'}.",
            "$text-success",
        )
    parts = [f"{counts[RowStatus.SUCCESS]} succeeded"]
    parts.extend(f"{counts[status]} {word}" for status, word in _OTHER_ENDS if counts[status])
    if failed:
        shown = ", ".join(failed[:3]) + (" ..." if len(failed) > 3 else "")
        parts[1] = f"{parts[1]} ({shown})"
    verb = "failed" if state is RunState.FAILED else "was cancelled"
    if hint is None:
        hint = "r retries the highlighted task, R every failed one" if failed else "o loads"
        hint += "; s saves a snapshot"
    return Content.styled(
        f"✘ Run {verb} after {took}: {', '.join(parts)}. {hint}.",
        "$text-error" if state is RunState.FAILED else "$text-warning",
    )
