"""The timeline (`t`): where the time went, one bar per task attempt on one time axis.

Bars come from the dashboard's AttemptLog (every attempt of this session, retries and
manual retries included), laid in lanes by `flow_tui.report.timeline.assign_lanes`, the
same greedy lanes the HTML report draws: concurrent attempts never share a lane. A bar
starts with its outcome's glyph (✔ ✘ ⊘ ↺, a spinner while running, ⟳ while waiting out
a retry's delay) and is filled with a line of its own per outcome, so it reads without
colour (NO_COLOR); colour comes on top.

`TimelineCanvas` is a ScrollView drawing line by line (the Line API): a line costs the
bars of one lane that cross the visible window (found by bisection), so 50,000 bars cost
what the screen shows. Lanes are laid out by `assign_lanes` when the view opens; the
attempts that start later are added the same way (greedy by start: they come in the
order they start), each costing what it adds; a running bar grows at each repaint.

Over 400 lines on purpose: the canvas (lanes, zoom, drawing a line) and the screen around
it (axis, keys, the tree kept in step) are one view; the layout of lanes itself is the
report's (`flow_tui.report.timeline`), shared with the HTML report.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from flow_tui.report.timeline import assign_lanes
from flow_tui.tui.attempts import OUTCOME_GLYPH, Attempt, AttemptLog, Outcome
from flow_tui.tui.status import SPINNER, format_duration

# Outcome -> (glyph, fill): the shape of a bar without colour.
_FILL: dict[Outcome, str] = {
    Outcome.SUCCESS: "━",
    Outcome.FAILURE: "▚",
    Outcome.CANCELLED: "┄",
    Outcome.INTERRUPTED: "╌",
    Outcome.RUNNING: "─",
    Outcome.WAITING: "·",
}
SHAPE: dict[Outcome, tuple[str, str]] = {o: (OUTCOME_GLYPH[o], f) for o, f in _FILL.items()}

_CLASSES = {outcome: f"timeline--{outcome.value}" for outcome in Outcome}

_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


@dataclass(slots=True)
class TimelineBar:
    task: str
    attempt: Attempt
    start: float  # seconds from the timeline's origin
    lane: int


def tick_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    if seconds < 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


class TimelineCanvas(ScrollView, can_focus=True):
    """Line 0 is the time axis; line 1 + k draws lane k (scrolled with the bars)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "bar(-1)", "Earlier bar", show=False),
        Binding("right", "bar(1)", "Later bar", show=False),
        Binding("up,k", "lane(-1)", "Lane above", show=False),
        Binding("down,j", "lane(1)", "Lane below", show=False),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", id="timeline_zoom_in"),
        Binding("minus", "zoom(2)", "Zoom out", id="timeline_zoom_out"),
        Binding("z", "fit", "Fit", id="timeline_fit", tooltip="The whole run in the width"),
        Binding("home", "first", "First bar", show=False),
        Binding("end", "last", "Last bar", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *_CLASSES.values(),
        "timeline--axis",
        "timeline--selected",
    }

    DEFAULT_CSS = """
    TimelineCanvas {
        height: 1fr;
        background: $surface;
        scrollbar-size: 1 1;
    }
    TimelineCanvas > .timeline--axis { color: $text-muted; }
    TimelineCanvas > .timeline--success { color: $text-success; }
    TimelineCanvas > .timeline--failure { color: $text-error; text-style: bold; }
    TimelineCanvas > .timeline--cancelled { color: $text-warning; }
    TimelineCanvas > .timeline--interrupted { color: $text-warning; text-style: bold; }
    TimelineCanvas > .timeline--running { color: $text-accent; text-style: bold; }
    TimelineCanvas > .timeline--waiting { color: $text-muted; }
    TimelineCanvas > .timeline--selected { text-style: reverse bold; }
    """

    class Selected(Message):
        """The operator moved to the bar of `task` (the tree follows)."""

        def __init__(self, task: str) -> None:
            super().__init__()
            self.task = task

    def __init__(
        self,
        history: AttemptLog,
        now: Callable[[], float],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.history = history
        self.now = now  # monotonic seconds, the AttemptLog's clock
        self.bars: list[TimelineBar] = []  # by start
        self.lane_bars: list[list[TimelineBar]] = []  # per lane, by start (so by end)
        self.lane_ends: list[list[float]] = []
        self.lanes = 0
        self.origin = 0.0
        self.span = 0.0
        self.busy = 0.0  # the sum of the bars' seconds, as of the last rebuild
        self.scale = 1.0  # seconds per cell
        self.fit = True  # the whole run in the width (until the operator zooms)
        self.selected: str | None = None
        self.cursor: TimelineBar | None = None
        self.built_version = -1
        self.builds = 0  # full layouts (assign_lanes); `extend` adds to the last one
        self._seen = 0  # attempts of history.order laid out
        self._generation = -1
        self._open: dict[int, TimelineBar] = {}  # lanes whose last bar runs
        self._ended: list[tuple[float, int]] = []  # (end, lane) of the other lanes
        self._free: list[int] = []
        self._styles: dict[str, Style] = {}

    # -- data --------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Bars and lanes of every attempt now (running ones end now), by
        `assign_lanes`; later attempts are added by `extend`."""
        history = self.history
        now = self.now()
        spans: list[tuple[float, float, str, Attempt]] = []
        for name, attempt in history.order:
            end = attempt.end if attempt.end is not None else max(now, attempt.start)
            spans.append((attempt.start, end, name, attempt))
        spans.sort(key=lambda s: s[0])  # stable: ties keep the order attempts came in
        self.origin = spans[0][0] if spans else 0.0
        # A running attempt holds its lane until it ends (whatever its length now).
        lanes = assign_lanes((s, e if a.end is not None else math.inf) for s, e, _, a in spans)
        origin = self.origin
        self.bars = [
            TimelineBar(name, attempt, start - origin, lane)
            for (start, _end, name, attempt), lane in zip(spans, lanes, strict=True)
        ]
        self.lanes = max(lanes) + 1 if lanes else 0
        self.lane_bars = [[] for _ in range(self.lanes)]
        for bar in self.bars:
            self.lane_bars[bar.lane].append(bar)
        self.lane_ends = [[self.end_of(b, now) for b in lane] for lane in self.lane_bars]
        self.span = max((e for _, e, _, _ in spans), default=origin) - origin
        self.busy = sum(e - s for s, e, _, _ in spans)
        # Where assign_lanes left off: lanes whose last bar runs, the others by end.
        self._open = {}
        self._ended = []
        self._free = []
        for lane, bars in enumerate(self.lane_bars):
            last = bars[-1]
            if last.attempt.end is None:
                self._open[lane] = last
            else:
                heapq.heappush(self._ended, (self.lane_ends[lane][-1], lane))
        self._seen = len(history.order)
        self._generation = history.generation
        self.built_version = history.version
        self.builds += 1
        if self.cursor is not None:
            self.cursor = self._bar_of(self.cursor.attempt)
        if self.cursor is None and self.selected is not None:
            self.cursor = self._first_bar_of(self.selected)
        self._resize()

    def extend(self) -> bool:
        """Lay out the attempts seen since the last look, as `assign_lanes` would have
        (greedy by start: attempts come in the order they start), and note the ends of
        running ones. Costs what is new, not what is there. False: nothing new."""
        history = self.history
        if history.generation != self._generation or not self.bars:
            if history.order:
                self.rebuild()
                return True
            return False
        origin = self.origin
        changed = False
        for lane, bar in list(self._open.items()):
            end = bar.attempt.end
            if end is not None:
                end -= origin
                heapq.heappush(self._ended, (end, lane))
                self.lane_ends[lane][-1] = end
                self.span = max(self.span, end)
                self.busy += end - bar.start
                del self._open[lane]
                changed = True
        fresh = history.order[self._seen :]
        self._seen = len(history.order)
        if fresh:
            changed = True
            fresh.sort(key=lambda item: item[1].start)
            ended, free = self._ended, self._free
            for name, attempt in fresh:
                start = max(0.0, attempt.start - origin)
                while ended and ended[0][0] <= start:
                    heapq.heappush(free, heapq.heappop(ended)[1])
                if free:
                    lane = heapq.heappop(free)
                else:
                    lane = self.lanes
                    self.lanes += 1
                    self.lane_bars.append([])
                    self.lane_ends.append([])
                bar = TimelineBar(name, attempt, start, lane)
                self.bars.append(bar)
                self.lane_bars[lane].append(bar)
                if attempt.end is None:
                    self._open[lane] = bar
                    self.lane_ends[lane].append(start)
                else:
                    end = attempt.end - origin
                    heapq.heappush(ended, (end, lane))
                    self.lane_ends[lane].append(end)
                    self.span = max(self.span, end)
                    self.busy += end - start
        self.built_version = history.version
        if changed:
            self._resize()
        return changed

    def grow(self) -> None:
        """The run goes on: running bars end now, and a fitted axis takes them in."""
        if self._open:
            self.span = max(self.span, self.now() - self.origin)
        if self.fit:
            self._resize()
        else:
            self.refresh()

    def end_of(self, bar: TimelineBar, now: float | None = None) -> float:
        attempt = bar.attempt
        if attempt.end is not None:
            return attempt.end - self.origin
        return max(self.now() if now is None else now, attempt.start) - self.origin

    def _bar_of(self, attempt: Attempt) -> TimelineBar | None:
        return next((b for b in self.bars if b.attempt is attempt), None)

    def _first_bar_of(self, task: str) -> TimelineBar | None:
        return next((b for b in reversed(self.bars) if b.task == task), None)

    def _resize(self) -> None:
        width = max(1, self.size.width or 80)
        if self.fit:
            # The whole span in the width, in a "nice" number of seconds per cell.
            self.scale = max(self.span / max(1, width - 2), 0.001)
        cells = math.ceil(self.span / self.scale) + 2 if self.bars else 0
        self.virtual_size = Size(max(cells, width), self.lanes + 1)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._resize()

    # -- selection ---------------------------------------------------------------------

    def select_task(self, task: str | None) -> None:
        """Highlight the bars of `task` (the tree's highlighted task), and show its last."""
        self.selected = task
        self.cursor = self._first_bar_of(task) if task is not None else None
        self._show_cursor()
        self.refresh()

    def _move_to(self, bar: TimelineBar | None) -> None:
        if bar is None:
            return
        self.cursor = bar
        changed = bar.task != self.selected
        self.selected = bar.task
        self._show_cursor()
        self.refresh()
        if changed:
            self.post_message(self.Selected(bar.task))

    def _show_cursor(self) -> None:
        bar = self.cursor
        if bar is None:
            return
        x0 = int(bar.start / self.scale)
        x1 = max(x0 + 1, math.ceil(self.end_of(bar) / self.scale))
        width = min(x1 - x0, max(1, self.size.width - 2))
        self.scroll_to_region(
            Region(x0, bar.lane, width, 2), animate=False, immediate=True, force=True
        )

    def action_bar(self, step: int) -> None:
        bar = self.cursor
        if bar is None:
            self._move_to(self.bars[0] if self.bars else None)
            return
        lane = self.lane_bars[bar.lane]
        i = lane.index(bar) + step
        if 0 <= i < len(lane):
            self._move_to(lane[i])

    def action_lane(self, step: int) -> None:
        bar = self.cursor
        if bar is None:
            self._move_to(self.bars[0] if self.bars else None)
            return
        lane = bar.lane + step
        while 0 <= lane < self.lanes:
            found = self._near(lane, bar.start)
            if found is not None:
                self._move_to(found)
                return
            lane += step

    def _near(self, lane: int, at: float) -> TimelineBar | None:
        bars = self.lane_bars[lane]
        if not bars:
            return None
        i = bisect.bisect_left(self.lane_ends[lane], at)
        if i >= len(bars):
            return bars[-1]
        if i > 0 and at - self.lane_ends[lane][i - 1] < bars[i].start - at:
            return bars[i - 1]
        return bars[i]

    def action_first(self) -> None:
        self._move_to(self.bars[0] if self.bars else None)

    def action_last(self) -> None:
        self._move_to(self.bars[-1] if self.bars else None)

    def action_zoom(self, factor: float) -> None:
        self.fit = False
        self.scale = min(max(self.scale * factor, 0.001), max(self.span, 1.0) * 2)
        self._resize()
        self._show_cursor()

    def action_fit(self) -> None:
        self.fit = True
        self._resize()
        self.scroll_to(x=0, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        lane = int(self.scroll_offset.y) + offset.y - 1
        if not 0 <= lane < self.lanes:
            return
        at = (int(self.scroll_offset.x) + offset.x + 0.5) * self.scale
        self._move_to(self._near(lane, at))

    # -- drawing -----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def _style(self, component: str) -> Style:
        style = self._styles.get(component)
        if style is None:
            style = self._styles[component] = self.get_component_rich_style(component)
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            return self._axis(int(scroll_x), width, base)
        lane = int(scroll_y) + y - 1
        if not 0 <= lane < self.lanes:
            return Strip.blank(width, base)
        return self._lane(lane, int(scroll_x), width, base)

    def _axis(self, x0: int, width: int, base: Style) -> Strip:
        scale = self.scale
        step = next((s for s in _STEPS if s / scale >= 10), _STEPS[-1])
        chars = [" "] * width
        first = math.ceil(x0 * scale / step)
        k = first
        while True:
            x = round(k * step / scale) - x0
            if x >= width:
                break
            label = "╵" + tick_label(k * step)
            for i, ch in enumerate(label):
                if 0 <= x + i < width:
                    chars[x + i] = ch
            k += 1
        return Strip([Segment("".join(chars), base + self._style("timeline--axis"))], width)

    def _lane(self, lane: int, x0: int, width: int, base: Style) -> Strip:
        scale = self.scale
        bars = self.lane_bars[lane]
        ends = self.lane_ends[lane]
        t0 = x0 * scale
        i = bisect.bisect_left(ends, t0)
        if i > 0:
            i -= 1  # a running bar's end grows past the one recorded
        # (first cell, text, style) of the bars drawn, left to right. Bars of a lane
        # never overlap in time, but two can meet in one cell: the later one keeps its
        # glyph, the earlier one gives up its last cell.
        pieces: list[tuple[int, str, Style]] = []
        now = self.now()
        selected = self.selected
        picked = self.cursor
        spin = SPINNER[int(now * 10) % len(SPINNER)]
        origin = self.origin
        styles: dict[Outcome, Style] = {}
        shown = bars[i:]
        count = len(shown)
        for k, bar in enumerate(shown):
            start = int(bar.start / scale) - x0
            if start >= width:
                break
            if k + 1 < count and int(shown[k + 1].start / scale) - x0 == start:
                continue  # the next bar starts in this cell too: it has it (zoomed out)
            attempt = bar.attempt
            until = attempt.end if attempt.end is not None else max(now, attempt.start)
            end = max(start + 1, math.ceil((until - origin) / scale) - x0)
            if end <= 0:
                continue
            outcome = attempt.outcome
            glyph, fill = SHAPE[outcome]
            if outcome is Outcome.RUNNING:
                glyph = spin
            text = glyph + " " + bar.task + " "
            length = end - start
            body = text[:length] if len(text) >= length else text + fill * (length - len(text))
            if start < 0:
                body, start = body[-start:], 0
            while pieces and pieces[-1][0] >= start:
                pieces.pop()
            if pieces:
                first, last_body, last_style = pieces[-1]
                if first + len(last_body) > start:
                    pieces[-1] = (first, last_body[: start - first], last_style)
            style = styles.get(outcome)
            if style is None:
                style = styles[outcome] = base + self._style(_CLASSES[outcome])
            if bar.task == selected:
                style += self._style("timeline--selected")
                if bar is picked:
                    style += Style(underline=True)
            pieces.append((start, body[: width - start], style))
        segments: list[Segment] = []
        cursor = 0  # cells drawn
        for first, body, style in pieces:
            if first > cursor:
                segments.append(Segment(" " * (first - cursor), base))
            segments.append(Segment(body, style))
            cursor = first + len(body)
        if cursor < width:
            segments.append(Segment(" " * (width - cursor), base))
        return Strip(segments, width)


class TimelineScreen(Screen[str | None]):
    """Full screen: a line about the run's time, the canvas, the keys. Dismissed with the
    selected task (the tree already follows it)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,t,q", "close", "Back", id="timeline_close"),
        Binding("enter", "close", "Back", show=False),
        Binding("l", "log_view", "Log", id="timeline_log", tooltip="The log of this task"),
    ]

    DEFAULT_CSS = """
    TimelineScreen { layout: vertical; }
    TimelineScreen > #timeline-title { height: 2; padding: 0 1; background: $panel; }
    TimelineScreen > #timeline-keys { height: 1; padding: 0 1; background: $panel; }
    """

    REFRESH_INTERVAL = 0.25  # seconds between looks at new attempts and growing bars

    def __init__(
        self,
        history: AttemptLog,
        now: Callable[[], float],
        selected: str | None,
        *,
        kept: int = 0,
        on_select: Callable[[str], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        live: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self.history = history
        self.canvas = TimelineCanvas(history, now, id="timeline")
        self.canvas.selected = selected
        self.kept = kept
        self.on_select = on_select
        self.on_log = on_log
        self.live = live
        self._title_text = ""

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-title")
        yield self.canvas
        yield Static(
            "←→ bar  ↑↓ lane  +/- zoom  z fit  click selects  l log  esc back",
            id="timeline-keys",
        )

    def on_mount(self) -> None:
        self._rebuild()
        self.canvas.select_task(self.canvas.selected)
        self.set_interval(self.REFRESH_INTERVAL, self.tick)

    def _rebuild(self) -> None:
        self.canvas.rebuild()
        self._title()

    def tick(self) -> None:
        """New attempts and ends: laid out (`extend`, what is new only); running bars
        grow."""
        canvas = self.canvas
        if canvas.built_version != self.history.version and canvas.extend():
            self._title()
        if self.live():
            canvas.grow()
            self._title()

    def _title(self) -> None:
        canvas = self.canvas
        bars = len(canvas.bars)
        busy = canvas.busy
        parts = [
            f"Timeline: {bars} attempt{'s' if bars != 1 else ''} in {canvas.lanes} "
            f"lane{'s' if canvas.lanes != 1 else ''} over {format_duration(canvas.span)}",
            f"busy {format_duration(busy)}",
            f"1 cell = {format_duration(canvas.scale)}",
        ]
        if self.kept:
            parts.append(f"{self.kept} kept task(s) not drawn (they ran before)")
        legend = "  ".join(f"{g}{f} {o.value}" for o, (g, f) in SHAPE.items())
        text = "  ·  ".join(parts) + "\n" + legend
        if text != self._title_text:
            self._title_text = text
            # Two lines, always: no layout of the screen at each new figure.
            self.query_one("#timeline-title", Static).update(text, layout=False)

    def on_timeline_canvas_selected(self, message: TimelineCanvas.Selected) -> None:
        if self.on_select is not None:
            self.on_select(message.task)

    def action_close(self) -> None:
        self.dismiss(self.canvas.selected)

    def action_log_view(self) -> None:
        if self.on_log is not None and self.canvas.selected is not None:
            self.on_log(self.canvas.selected)
