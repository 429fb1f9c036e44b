"""`flow-tui report SNAPSHOT -o run.html`: one self-contained HTML file of a run.

Inline CSS and SVG only: no script, no font, no image and no address outside the file,
so it opens the same from a mail attachment, a CI artifact or a laptop with no network.
It holds the run's summary, the timeline of where the time went (one bar per task on a
shared axis, in lanes; colour, pattern and glyph say the outcome, so it reads without
colour too) and a table of every task with its status, attempts, times and error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from html import escape

from flow_tui.core.model import TaskResult, TaskStatus
from flow_tui.core.snapshot import Snapshot
from flow_tui.report.timeline import Bar, Timeline, build_timeline

GLYPH = {
    TaskStatus.SUCCESS: "✔",
    TaskStatus.FAILURE: "✘",
    TaskStatus.SKIPPED: "↷",
    TaskStatus.CANCELLED: "⊘",
}
FILL = {
    TaskStatus.SUCCESS: "url(#p-success)",
    TaskStatus.FAILURE: "url(#p-failure)",
    TaskStatus.SKIPPED: "url(#p-skipped)",
    TaskStatus.CANCELLED: "url(#p-cancelled)",
}

WIDTH = 1100  # the timeline's drawing width in px (the page scrolls sideways if needed)
LABEL = 170  # px left of the axis for lane numbers
LANE = 18  # px per lane

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;
background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#5b6475}.summary{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #d5d9e2;border-radius:6px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:18px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e4e7ee;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f6fa;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{margin:0;white-space:pre-wrap;word-break:break-word;font-size:12px}
details summary{cursor:pointer;color:#5b6475}
.s-success{color:#1a7f37}.s-failure{color:#c62828}.s-skipped{color:#5b6475}
.s-cancelled{color:#a15c00}.s-pending{color:#5b6475}
.legend span{margin-right:16px}.timeline{overflow-x:auto;border:1px solid #d5d9e2;
border-radius:6px;padding:6px}
@media print{.timeline{overflow:visible}}
"""

PATTERNS = """<defs>
<pattern id="p-success" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#2da44e"/></pattern>
<pattern id="p-failure" width="6" height="6" patternUnits="userSpaceOnUse"
 patternTransform="rotate(45)"><rect width="6" height="6" fill="#e5534b"/>
<rect width="2" height="6" fill="#8e1b16"/></pattern>
<pattern id="p-skipped" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#d0d7de"/><circle cx="3" cy="3" r="1" fill="#57606a"/></pattern>
<pattern id="p-cancelled" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#f0b849"/><rect width="6" height="1.5" fill="#7a4d00"/></pattern>
</defs>"""


def seconds(value: float) -> str:
    """A duration for people: 850 ms, 12.4 s, 3 min 05 s, 2 h 04 min."""
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def _tick_step(span: float, ticks: int = 8) -> float:
    raw = span / ticks if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def timeline_svg(timeline: Timeline) -> str:
    """The timeline as an inline SVG (bars with a <title> each: hovering names them)."""
    if not timeline.bars:
        return '<p class="muted">No task of this run has both a start and an end yet.</p>'
    span = timeline.span or 1e-3
    scale = WIDTH / span
    height = timeline.lanes * LANE + 34
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH + LABEL + 20}" '
        f'height="{height}" aria-label="timeline of {len(timeline.bars)} tasks in '
        f'{timeline.lanes} lanes">',
        PATTERNS,
    ]
    step = _tick_step(span)
    tick = 0.0
    while tick <= span + 1e-9:
        x = LABEL + tick * scale
        out.append(
            f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height - 6}" stroke="#e4e7ee"/>'
            f'<text x="{x + 2:.1f}" y="11" font-size="10" fill="#5b6475">'
            f"{escape(seconds(tick) if tick else '0')}</text>"
        )
        tick += step
    for lane in range(timeline.lanes):
        y = 18 + lane * LANE
        out.append(
            f'<text x="{LABEL - 6}" y="{y + 12}" font-size="10" text-anchor="end" '
            f'fill="#5b6475">lane {lane + 1}</text>'
        )
    for bar in timeline.bars:
        out.append(_bar_svg(bar, scale))
    out.append("</svg>")
    return "".join(out)


def _bar_svg(bar: Bar, scale: float) -> str:
    x = LABEL + bar.start * scale
    w = max(bar.duration * scale, 1.5)
    y = 18 + bar.lane * LANE
    glyph = GLYPH.get(bar.status, "?")
    tries = f", {bar.attempts} attempts" if bar.attempts > 1 else ""
    title = (
        f"{glyph} {bar.task}: {bar.status.value}, {seconds(bar.duration)} "
        f"(from {seconds(bar.start)}){tries}"
    )
    parts = [
        f'<g class="bar"><title>{escape(title)}</title>'
        f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{LANE - 4}" rx="2" '
        f'fill="{FILL.get(bar.status, "#999")}" stroke="#1d2330" stroke-width="0.4"/>'
    ]
    label = f"{glyph} {bar.task}"
    if w > 7 * len(label):
        parts.append(
            f'<text x="{x + 3:.1f}" y="{y + 11}" font-size="10" fill="#111">{escape(label)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _rows(snapshot: Snapshot) -> Iterator[str]:
    names = snapshot.tasks or list(snapshot.results)
    for name in names:
        result: TaskResult | None = snapshot.results.get(name)
        if result is None:
            status, glyph = "pending", "·"
            if name in snapshot.interrupted:
                status = "interrupted"
            yield (
                f'<tr><td>{escape(name)}</td><td class="s-pending">{glyph} {status}</td>'
                "<td></td><td></td><td></td><td></td></tr>"
            )
            continue
        m = result.metrics
        attempts = str(m.attempts) if m is not None and m.attempts else ""
        started = _time(m.started_at) if m is not None else ""
        duration = seconds(m.duration_ms / 1000) if m is not None else ""
        detail = []
        if result.message:
            detail.append(f"<div>{escape(result.message)}</div>")
        if result.error:
            detail.append(f"<div><b>{escape(result.error)}</b></div>")
        if result.traceback and result.status is TaskStatus.FAILURE:
            detail.append(
                f"<details><summary>traceback</summary><pre>{escape(result.traceback)}</pre>"
                "</details>"
            )
        value = result.status.value
        yield (
            f'<tr><td>{escape(name)}</td><td class="s-{value}">'
            f"{GLYPH.get(result.status, '?')} {value}</td>"
            f'<td class="num">{attempts}</td><td>{started}</td>'
            f'<td class="num">{duration}</td><td>{"".join(detail)}</td></tr>'
        )


def render_report(snapshot: Snapshot, source: str = "") -> str:
    """The whole page for `snapshot` (`source` names the file it came from)."""
    timeline = build_timeline(snapshot.results, snapshot.tasks)
    counts = {s: 0 for s in TaskStatus}
    for result in snapshot.results.values():
        counts[result.status] += 1
    total = len(snapshot.tasks) or len(snapshot.results)
    pending = max(total - len(snapshot.results), 0)
    name = snapshot.workflow or "workflow"
    busy = timeline.busy_seconds()
    parallel = busy / timeline.span if timeline.span > 0 else 0.0
    cards = [
        ("status", snapshot.status),
        ("tasks", str(total)),
        *((f"{GLYPH[s]} {s.value}", str(counts[s])) for s in TaskStatus),
        ("· not run", str(pending)),
        ("wall time", seconds(timeline.span) if timeline.bars else "—"),
        ("task time", seconds(busy) if timeline.bars else "—"),
        ("average parallelism", f"{parallel:.1f}" if timeline.bars else "—"),
    ]
    slow = "".join(
        f"<li>{escape(b.task)}: {seconds(b.duration)} ({GLYPH.get(b.status, '?')} "
        f"{b.status.value})</li>"
        for b in timeline.slowest(10)
    )
    legend = " ".join(f'<span class="s-{s.value}">{GLYPH[s]} {s.value}</span>' for s in TaskStatus)
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(name)}: flow-tui run report</title><style>{CSS}</style></head><body>"
    )
    parts = [
        head,
        f"<h1>{escape(name)}</h1>",
        f'<div class="muted">Saved {_time(snapshot.created_at)} UTC'
        f"{' from ' + escape(source) if source else ''}. Report by flow-tui.</div>",
        '<div class="summary">',
        *(
            f'<div class="card"><span class="muted">{escape(k)}</span><b>{escape(v)}</b></div>'
            for k, v in cards
        ),
        "</div>",
        "<h2>Where the time went</h2>",
        f'<p class="muted legend">One bar per task, from its first start to its end (retries '
        f"included), on one time axis; tasks that ran at the same time sit in different "
        f"lanes. {legend}</p>",
        f'<div class="timeline">{timeline_svg(timeline)}</div>',
    ]
    if slow:
        parts.append(f"<h2>Slowest tasks</h2><ol>{slow}</ol>")
    parts += [
        "<h2>Tasks</h2>",
        "<table><thead><tr><th>task</th><th>status</th><th>attempts</th>"
        "<th>started (UTC)</th><th>duration</th><th>message, error</th></tr></thead><tbody>",
        *_rows(snapshot),
        "</tbody></table></body></html>\n",
    ]
    return "".join(parts)
