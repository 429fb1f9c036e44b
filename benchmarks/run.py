"""The suite's entry point: run the cases, print tables, write JSON and Markdown.

    python -m benchmarks                  # full suite (several minutes)
    python -m benchmarks --quick          # small sizes, under a minute
    python -m benchmarks --only scheduler,memory --json /tmp/figures.json
    python -m benchmarks --scale          # 100k and 1M tasks (issue 16), fresh processes

Absolute times on a shared machine are noise; the ratios against the lean baseline
(benchmarks/baseline.py), measured in the same run with interleaved rounds, are not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import MODES, RESULTS, ROOT, Mode, uvloop_factory
from benchmarks.report import (
    SUMMARY_HEADERS,
    Row,
    markdown_table,
    summary_cells,
    text_table,
)

Figures = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    title: str
    run: Callable[[Mode, Callable[[str], None], dict[str, Figures]], Figures]
    summarize: Callable[[Figures], list[Row]]
    details: Callable[[Figures], list[Any]]
    target: str  # for the error row


def _cases(
    scale_sizes: tuple[int, ...] | None = None,
    scale_cli: bool = True,
    scale_before: Path | None = None,
) -> list[Case]:
    from benchmarks.cases import (
        checkpointing,
        dashboard_summary,
        events,
        memory,
        scale,
        scheduler,
        snapshots,
        startup,
    )

    def uvloop_summary(f: Figures) -> list[Row]:
        return scheduler.summarize(f, case="scheduler on uvloop")

    def uvloop_details(f: Figures) -> list[Any]:
        return scheduler.details(f, title="scheduler overhead") if "rows" in f else []

    return [
        Case(
            "scheduler",
            "scheduler overhead",
            lambda m, log, done: scheduler.run(m, log),
            scheduler.summarize,
            scheduler.details,
            "<= 1.5x",
        ),
        Case(
            "growth",
            "growth",
            lambda m, log, done: scheduler.growth_figures(done["scheduler"]),
            scheduler.summarize_growth,
            lambda f: [],
            "<= 1.25x",
        ),
        Case(
            "uvloop",
            "scheduler overhead on uvloop",
            lambda m, log, done: scheduler.run_uvloop(m, log, done.get("scheduler")),
            uvloop_summary,
            uvloop_details,
            "—",
        ),
        Case(
            "events",
            "event emission",
            lambda m, log, done: events.run(m, log),
            events.summarize,
            events.details,
            "—",
        ),
        Case(
            "memory",
            "memory",
            lambda m, log, done: memory.run(m, log),
            memory.summarize,
            memory.details,
            "<= 2 KB/task",
        ),
        Case(
            "snapshot",
            "runner.snapshot()",
            lambda m, log, done: snapshots.run_snapshot(m, log),
            snapshots.summarize_snapshot,
            snapshots.details_snapshot,
            "<= 0.5 s",
        ),
        Case(
            "files",
            "snapshot files",
            lambda m, log, done: snapshots.run_files(m, log),
            snapshots.summarize_files,
            snapshots.details_files,
            "JSON load <= 1 s",
        ),
        Case(
            "resume",
            "resume",
            lambda m, log, done: snapshots.run_resume(m, log),
            snapshots.summarize_resume,
            snapshots.details_resume,
            "<= 2 s",
        ),
        Case(
            "checkpoint",
            "checkpoint overhead",
            lambda m, log, done: checkpointing.run(m, log),
            checkpointing.summarize,
            checkpointing.details,
            "<= 1.5x",
        ),
        Case(
            "dashboard",
            "dashboard",
            lambda m, log, done: dashboard_summary.run(m, log),
            dashboard_summary.summarize,
            dashboard_summary.details,
            "<= 1.2x; <= 100 ms",
        ),
        Case(
            "startup",
            "startup",
            lambda m, log, done: startup.run(m, log),
            startup.summarize,
            startup.details,
            "<= 150 ms",
        ),
        Case(
            "scale",
            "scale: 100k and 1M tasks",
            lambda m, log, done: scale.run(m, log, scale_sizes, scale_cli, scale_before),
            scale.summarize,
            scale.details,
            "issue 16",
        ),
    ]


CASE_NAMES = (
    "scheduler",
    "growth",
    "uvloop",
    "events",
    "memory",
    "snapshot",
    "files",
    "resume",
    "checkpoint",
    "dashboard",
    "startup",
)
# Cases that only run when asked for (`--scale`): minutes and gigabytes.
OPT_IN = ("scale",)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure flow-tui against a lean asyncio baseline; print a table and "
        "write the figures as JSON (and the summary as Markdown beside it).",
        epilog="cases: " + ", ".join(CASE_NAMES),
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: the whole suite in under a minute"
    )
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # for the test
    parser.add_argument(
        "--only", metavar="CASE[,CASE]", help="run only these cases (growth implies scheduler)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="only the scale case: 100k and 1M tasks (10k and 100k with --quick), each size "
        "in fresh processes; figures to benchmarks/results/scale.json unless --json says",
    )
    parser.add_argument(
        "--scale-sizes",
        metavar="N,N",
        help="with --scale: the sizes to measure (the first is the one growth is against)",
    )
    parser.add_argument(
        "--no-launch",
        action="store_true",
        help="with --scale: skip the `flow-tui launch` runs with and without --checkpoint",
    )
    parser.add_argument(
        "--before",
        metavar="PATH",
        type=Path,
        default=RESULTS / "scale-before.json",
        help="with --scale: the figures of an earlier --scale run, printed beside the new "
        "ones (default benchmarks/results/scale-before.json, if it exists)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=Path,
        default=None,
        help="where to write the figures (default benchmarks/results/latest.json); the "
        "Markdown summary goes beside it with the suffix .md",
    )
    return parser


def _selected(only: str | None) -> list[str]:
    if not only:
        return list(CASE_NAMES)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    known = (*CASE_NAMES, *OPT_IN)
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(
            f"python -m benchmarks: unknown case {unknown[0]!r}; cases: {', '.join(known)}"
        )
    if "growth" in wanted and "scheduler" not in wanted:
        wanted.append("scheduler")
    return [c for c in known if c in wanted]


def _sizes(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        sizes = tuple(int(x.replace("_", "")) for x in text.split(",") if x.strip())
    except ValueError:
        raise SystemExit(
            f"python -m benchmarks: --scale-sizes wants numbers, not {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise SystemExit("python -m benchmarks: --scale-sizes wants one or more sizes >= 1")
    return sizes


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _meta(mode: Mode, argv: list[str]) -> dict[str, Any]:
    import flow_tui

    uvloop_version = None
    if uvloop_factory() is not None:
        import uvloop  # type: ignore[import-not-found]

        uvloop_version = getattr(uvloop, "__version__", "?")
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {
        "mode": mode.name,
        "command": "python -m benchmarks " + " ".join(argv),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "flow_tui_version": flow_tui.__version__,
        # A tree measured outside the repository (`git archive COMMIT | tar -x`) names
        # its commit in FLOW_TUI_BENCH_COMMIT.
        "git_commit": _git("rev-parse", "--short", "HEAD")
        or os.environ.get("FLOW_TUI_BENCH_COMMIT"),
        "src_modified": bool(dirty),
        "src_diff_stat": _git("diff", "--shortstat", "--", "src") or "",
        "uvloop": uvloop_version or "not installed",
        "note": "ratios are against the lean asyncio baseline measured in the same run, "
        "interleaved rounds, medians; absolute times on a shared machine are noise",
    }


def _log(text: str) -> None:
    print(text, flush=True)


def _print_details(title: str, headers: Any, rows: Any) -> str:
    text = f"\n{title}\n{text_table(headers, rows)}"
    print(text, flush=True)
    return f"\n### {title}\n\n{markdown_table(headers, rows)}\n"


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(args_list)
    tiny = args.tiny or os.environ.get("FLOW_TUI_BENCH_TINY") == "1"
    mode = MODES["tiny" if tiny else "quick" if args.quick else "full"]
    selected = ["scale"] if args.scale else _selected(args.only)
    if args.json is None:
        args.json = RESULTS / ("scale.json" if selected == ["scale"] else "latest.json")
    before = None if args.json.resolve() == args.before.resolve() else args.before
    cases = {c.name: c for c in _cases(_sizes(args.scale_sizes), not args.no_launch, before)}
    started = time.perf_counter()
    meta = _meta(mode, args_list)
    _log(f"flow-tui benchmarks, {mode.name} mode: {', '.join(selected)}")
    _log(f"  python {meta['python']} on {meta['platform']}, {meta['cpus']} CPUs")
    figures: dict[str, Figures] = {}
    errors: dict[str, str] = {}
    case_seconds: dict[str, float] = {}
    case_load: dict[str, float | None] = {}
    for name in selected:
        case = cases[name]
        case_load[name] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        _log(f"\n== {case.title} ==")
        t0 = time.perf_counter()
        try:
            figures[name] = case.run(mode, _log, figures)
        except Exception as exc:  # one broken case must not lose the rest
            errors[name] = "".join(traceback.format_exception(exc))
            figures[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            _log(f"  ERROR: {type(exc).__name__}: {exc}")
        case_seconds[name] = time.perf_counter() - t0
        _log(f"  ({case_seconds[name]:.1f} s)")

    rows: list[Row] = []
    details_md = []
    for name in selected:
        case, f = cases[name], figures[name]
        if f.get("status") == "error":
            rows.append(Row(case.title, "error", f["error"], case.target, False))
            continue
        rows.extend(case.summarize(f))
        for title, headers, table in case.details(f):
            details_md.append(_print_details(title, headers, table))

    meta["duration_s"] = round(time.perf_counter() - started, 1)
    meta["case_seconds"] = {k: round(v, 2) for k, v in case_seconds.items()}
    # Other processes on the machine: the 1-minute load average as each case began.
    meta["load_average_per_case"] = case_load
    summary_md = markdown_table(SUMMARY_HEADERS, summary_cells(rows))
    document = {
        "meta": meta,
        "cases": figures,
        "not_run": [c for c in CASE_NAMES if c not in selected],
        "summary": [r.to_dict() for r in rows],
        "errors": errors,
    }
    json_path: Path = args.json
    md_path = json_path.with_suffix(".md")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    md_path.write_text(_markdown(meta, summary_md, details_md))

    failed = [r for r in rows if r.passed is False]
    print(f"\n## Summary ({mode.name} mode, {meta['duration_s']:.0f} s)\n", flush=True)
    print(summary_md)
    print(
        f"\n{len(rows)} rows: {sum(r.passed is True for r in rows)} pass, {len(failed)} fail, "
        f"{sum(r.passed is None for r in rows)} reported only. Figures: {json_path}; "
        f"table: {md_path}",
        flush=True,
    )
    return 1 if errors else 0


def _markdown(meta: dict[str, Any], summary_md: str, details_md: list[str]) -> str:
    head = [
        "# flow-tui performance",
        "",
        f"`{meta['command'].strip()}` — {meta['mode']} mode, {meta['duration_s']:.0f} s, "
        f"{meta['started_at']}; Python {meta['python']} on {meta['platform']}, "
        f"{meta['cpus']} CPUs; commit {meta['git_commit']}"
        + (" (src/ modified)" if meta["src_modified"] else "")
        + f"; uvloop: {meta['uvloop']}"
        + (
            f"; load average at start {meta['load_average_at_start'][0]:.1f}."
            if meta.get("load_average_at_start")
            else "."
        ),
        "",
        "Ratios are against the lean asyncio baseline (benchmarks/baseline.py) measured in "
        "the same run, in interleaved rounds (medians); absolute times on a shared machine "
        "are noise.",
        "",
        summary_md,
        "",
        "## Details",
    ]
    return "\n".join(head) + "\n" + "".join(details_md)


if __name__ == "__main__":
    raise SystemExit(main())
