"""What the dashboard says about a run as a whole: the banner once it is over, and the
notices shared with the headless output, as sentences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

from flow_tui.session import RunState
from flow_tui.tui.clock import estimate_left
from flow_tui.tui.status import RowStatus, format_clock

if TYPE_CHECKING:
    from flow_tui.tui.view import RunView

# Statuses of tasks that still have to run (or finish) in this run.
_LEFT = (RowStatus.PENDING, RowStatus.RUNNING, RowStatus.RETRYING, RowStatus.INTERRUPTED)

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


def run_time(view: RunView) -> str:
    """The header's clock: time spent running, time spent paused apart (once there was
    some), and while the run runs an estimate of what is left (`estimate_left`: the
    mean duration of the attempts that finished, over the parallelism seen so far),
    e.g. "⏱ 1:05 ‖ 0:20 ETA ~2:10" (‖: paused, as in the run's state; short, so the
    progress bar keeps its place at 80 columns)."""
    clock = view.clock
    session = view.session
    elapsed = view.elapsed()
    text = f"⏱ {format_clock(elapsed)}"
    paused = clock.paused(session)
    if paused >= 1.0:
        text += f" ‖ {format_clock(paused)}"
    if session.state is RunState.RUNNING:
        counts = view.tally
        running = [*view.running]
        ages = [d for d in map(view.duration, running) if d is not None]
        history = view.history
        left = estimate_left(
            finished=history.finished,
            busy=history.busy,
            elapsed=elapsed,
            remaining=sum(counts.get(status, 0) for status in _LEFT),
            running_ages=ages,
            concurrency=getattr(session, "concurrency", None),
        )
        if left is not None:
            text += f" ETA ~{format_clock(left + 0.999)}"
    return text
