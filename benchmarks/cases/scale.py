"""Scale: 100k and 1M no-op tasks on one machine (`python -m benchmarks --scale`, issue 16).

Every task depends on task i-100, concurrency 64, through the public API. Each size is
measured in fresh child processes (benchmarks/cases/scale_probe.py), so the figures of
one size, and the RSS readings, do not mix with another's:

- a timing child: execute us/task (flow-tui and the lean baseline in interleaved rounds:
  the baseline's own growth is the floor of what the machine does with 10x the tasks),
  `runner.snapshot()`, JSON and TOML save / load and file sizes, and the resume of the
  all-success JSON snapshot (load + build + execute, nothing runs);
- RSS children: execute + `snapshot()` + JSON save and nothing else; peak RSS of the
  process (VmHWM, including interpreter, imports and the step list);
- `flow-tui launch --headless` of the same workflow (benchmarks/workflows/noop_dag.py,
  BENCH_STRIDE=100) with and without `--checkpoint` (JSON), interleaved runs.

Figures are medians, with the range (min-max) over the rounds.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    Log,
    Mode,
    child_env,
    flow_tui_command,
    median,
    python,
    rotate,
)
from benchmarks.report import Row

SIZES = {"full": (100_000, 1_000_000), "quick": (10_000, 100_000), "tiny": (300, 1_000)}
# Rounds at the small and the large size of each mode.
ROUNDS: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "full": (
        {"execute": 5, "snapshot": 5, "json": 3, "toml": 2, "resume": 3, "rss": 2, "cli": 3},
        {"execute": 3, "snapshot": 3, "json": 3, "toml": 1, "resume": 3, "rss": 2, "cli": 2},
    ),
    "quick": (
        {"execute": 3, "snapshot": 3, "json": 2, "toml": 1, "resume": 2, "rss": 1, "cli": 2},
        {"execute": 3, "snapshot": 3, "json": 2, "toml": 1, "resume": 2, "rss": 1, "cli": 2},
    ),
    "tiny": (
        {"execute": 1, "snapshot": 1, "json": 1, "toml": 1, "resume": 1, "rss": 1, "cli": 1},
        {"execute": 1, "snapshot": 1, "json": 1, "toml": 1, "resume": 1, "rss": 1, "cli": 1},
    ),
}
STRIDE = 100
CONCURRENCY = 64
WORKFLOW_FILE = ROOT / "benchmarks" / "workflows" / "noop_dag.py"
CHILD_TIMEOUT_S = 3600.0

# The MUSTs of issue 16, at 1M tasks.
EXECUTE_GROWTH_TARGET = 1.2  # us/task at 1M over 100k
SNAPSHOT_GROWTH_TARGET = 12.0  # snapshot() time for 10x the tasks
JSON_SAVE_TARGET_S = 5.0
JSON_LOAD_TARGET_S = 5.0
RESUME_TARGET_S = 5.0
RSS_TARGET_GB = 1.5
CHECKPOINT_TARGET = 1.5
TARGET_N = 1_000_000
KB_TO_GB = 1024 / 1e9  # /proc reports KiB; GB here are 10^9 bytes


def _k(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _child(args: list[str], log: Log, timeout: float = CHILD_TIMEOUT_S) -> dict[str, Any]:
    """Run a probe; its progress lines (stderr) are passed on, its JSON (stdout) returned."""
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(
            [python(), "-m", "benchmarks.cases.scale_probe", *args],
            cwd=ROOT,
            env=child_env(),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        tail: list[str] = []
        deadline = time.monotonic() + timeout
        for line in proc.stderr:
            tail = [*tail[-20:], line]
            log(line.rstrip())
            if time.monotonic() > deadline:
                proc.kill()
                break
        code = proc.wait()
        stdout.seek(0)
        out = stdout.read()
    if code != 0:
        raise RuntimeError(f"scale probe {' '.join(args)} exited {code}: {''.join(tail)[-800:]}")
    result: dict[str, Any] = json.loads(out)
    return result


def _cli_seconds(n: int, checkpoint: Path | None, timeout: float) -> float:
    cmd = [*flow_tui_command(), "launch", str(WORKFLOW_FILE), "--headless", "--output", "plain"]
    if checkpoint is not None:
        for leftover in checkpoint.parent.glob(checkpoint.name + "*"):
            leftover.unlink()  # from the round before: a new run, not a resume
        cmd += ["--checkpoint", str(checkpoint)]
    env = child_env(
        BENCH_TASKS=str(n), BENCH_STRIDE=str(STRIDE), BENCH_CONCURRENCY=str(CONCURRENCY)
    )
    start = time.perf_counter()
    done = subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-300:]!r}")
    return elapsed


def _cli(n: int, rounds: int, log: Log) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"none": [], "json": []}
    with tempfile.TemporaryDirectory(prefix="flow-tui-scale-") as name:
        path = Path(name) / "checkpoint.json"
        for r in range(rounds):
            for variant in rotate(list(times), r):
                seconds = _cli_seconds(n, None if variant == "none" else path, CHILD_TIMEOUT_S)
                times[variant].append(seconds)
                log(f"    launch --headless n={n} checkpoint={variant}: {seconds:.2f} s")
    return times


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": median(values), "min": min(values), "max": max(values)}


def _size(n: int, rounds: dict[str, int], log: Log, with_cli: bool) -> dict[str, Any]:
    log(f"  -- {n} tasks --")
    probe_rounds = {k: rounds[k] for k in ("execute", "snapshot", "json", "toml", "resume")}
    timing = _child(["time", str(n), json.dumps(probe_rounds)], log)
    rss = []
    for _ in range(rounds["rss"]):
        rss.append(_child(["rss", str(n)], log))
        log(f"    peak RSS n={n}: {rss[-1]['peak_kb'] / 1024:.0f} MB")
    ex = timing["execute_s"]
    row: dict[str, Any] = {
        "n": n,
        "rounds": rounds,
        "ours_us": _spread([t / n * 1e6 for t in ex["ours"]]),
        "baseline_us": _spread([t / n * 1e6 for t in ex["baseline"]]),
        "ratio_to_baseline": median(
            [o / b for o, b in zip(ex["ours"], ex["baseline"], strict=True)]
        ),
        "snapshot_cold_s": timing["snapshot_cold_s"],
        "snapshot_s": _spread(timing["snapshot_s"]),
        "files_s": {k: _spread(v) for k, v in timing["files_s"].items()},
        "bytes": timing["bytes"],
        "json_parse_only_s": _spread(timing["json_parse_only_s"]),
        "resume_s": {k: _spread(v) for k, v in timing["resume_s"].items()},
        # Process CPU time: on a shared machine the clock also counts waiting for a core.
        "snapshot_cold_cpu_s": timing.get("snapshot_cold_cpu_s"),
        "json_load_cpu_s": _spread(timing["json_load_cpu_s"])
        if "json_load_cpu_s" in timing
        else None,
        "resume_cpu_s": {k: _spread(v) for k, v in timing.get("resume_cpu_s", {}).items()},
        "peak_gb": _spread([p["peak_kb"] * KB_TO_GB for p in rss]),
        "steps_gb": median([(p["steps_kb"] - p["imported_kb"]) * KB_TO_GB for p in rss]),
        "peak_execute_gb": median([p["peak_execute_kb"] * KB_TO_GB for p in rss]),
        "peak_snapshot_gb": median([p["peak_snapshot_kb"] * KB_TO_GB for p in rss]),
        "raw": {"timing": timing, "rss": rss},
    }
    if with_cli:
        try:
            cli = _cli(n, rounds["cli"], log)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            # Keep the figures measured so far; the launch rows say what went wrong.
            row["cli_error"] = f"{type(exc).__name__}: {exc}"[:600]
            log(f"    launch --headless n={n}: ERROR {row['cli_error']}")
        else:
            row["cli_s"] = {k: _spread(v) for k, v in cli.items()}
            row["cli_ratio"] = median(
                [c / b for c, b in zip(cli["json"], cli["none"], strict=True)]
            )
            row["raw"]["cli"] = cli
    return row


def _before(path: Path | None) -> dict[str, Any] | None:
    """The scale figures of an earlier run (a results file of `--scale`), if there is one."""
    if path is None or not path.exists():
        return None
    doc = json.loads(path.read_text())
    figures = doc.get("cases", {}).get("scale")
    if not isinstance(figures, dict) or "rows" not in figures:
        return None
    meta = doc.get("meta", {})
    return {
        "path": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "commit": meta.get("git_commit"),
        "src_modified": meta.get("src_modified"),
        "figures": figures,
    }


def run(
    mode: Mode,
    log: Log,
    sizes: tuple[int, ...] | None = None,
    checkpoint: bool = True,
    before: Path | None = None,
) -> dict[str, Any]:
    chosen = sizes or SIZES[mode.name]
    small_rounds, large_rounds = ROUNDS[mode.name]
    rows = []
    for k, n in enumerate(chosen):
        rounds = small_rounds if k == 0 and len(chosen) > 1 else large_rounds
        rows.append(_size(n, rounds, log, checkpoint))
    out: dict[str, Any] = {
        "shape": f"task i depends on task i-{STRIDE}",
        "concurrency": CONCURRENCY,
        "sizes": list(chosen),
        "rows": rows,
    }
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        out["growth"] = {
            "tasks": large["n"] / small["n"],
            "execute": large["ours_us"]["median"] / small["ours_us"]["median"],
            "baseline": large["baseline_us"]["median"] / small["baseline_us"]["median"],
            "snapshot": large["snapshot_s"]["median"] / small["snapshot_s"]["median"],
            "snapshot_first": large["snapshot_cold_s"] / small["snapshot_cold_s"],
        }
    earlier = _before(before)
    if earlier is not None:
        out["before"] = earlier
    return out


# -- reporting -------------------------------------------------------------------------


def _range(s: dict[str, float], fmt: str = "{:.2f}") -> str:
    lo, hi = fmt.format(s["min"]), fmt.format(s["max"])
    return lo if lo == hi else f"{lo}-{hi}"


def _secs(s: dict[str, float]) -> str:
    return f"{_range(s, '{:.2f}' if s['max'] < 10 else '{:.1f}')} s"


def issue_table(f: dict[str, Any]) -> tuple[tuple[str, ...], list[list[str]]]:
    """The table of issue 16, one line per size (ranges over the rounds), plus TOML and
    the checkpointed launch."""
    headers = (
        "tasks",
        "execute us/task",
        "baseline us/task",
        "snapshot()",
        "JSON save / load",
        "load + resume, all success",
        "peak RSS",
        "TOML save / load",
        "launch --checkpoint",
    )
    rows = []
    first = f["rows"][0]
    for row in f["rows"]:
        grows = row is not first
        execute = _range(row["ours_us"])
        baseline = _range(row["baseline_us"])
        snapshot = _secs(row["snapshot_s"])
        if grows:
            g = row["ours_us"]["median"] / first["ours_us"]["median"]
            gb = row["baseline_us"]["median"] / first["baseline_us"]["median"]
            gs = row["snapshot_s"]["median"] / first["snapshot_s"]["median"]
            execute += f" ({g:.2f}x)"
            baseline += f" ({gb:.2f}x)"
            snapshot += f" ({gs:.1f}x for {row['n'] / first['n']:.0f}x tasks)"
        fs = row["files_s"]
        cli = row.get("cli_s")
        rows.append(
            [
                _k(row["n"]),
                execute,
                baseline,
                snapshot,
                f"{_secs(fs['json_save'])} / {_secs(fs['json_load'])} "
                f"({row['bytes']['json'] / 1e6:.0f} MB)",
                _secs(row["resume_s"]["total"]),
                f"{_range(row['peak_gb'])} GB",
                f"{_secs(fs['toml_save'])} / {_secs(fs['toml_load'])} "
                f"({row['bytes']['toml'] / 1e6:.0f} MB)",
                "—"
                if cli is None
                else f"{row['cli_ratio']:.2f}x ({cli['none']['median']:.1f} s -> "
                f"{cli['json']['median']:.1f} s)",
            ]
        )
    return headers, rows


def summarize(f: dict[str, Any]) -> list[Row]:
    rows = f["rows"]
    large = rows[-1]
    n = large["n"]
    at_target = n >= TARGET_N and (len(rows) < 2 or rows[0]["n"] * 10 == n)
    size = _k(n)

    def verdict(ok: bool) -> bool | None:
        return ok if at_target else None  # the targets are for 1M tasks

    out = []
    if len(rows) >= 2:
        g = f["growth"]
        small = _k(rows[0]["n"])
        out.append(
            Row(
                "scale",
                f"execute us/task, {size} over {small} (task i after i-{STRIDE}, c=64)",
                f"{g['execute']:.2f}x ({rows[0]['ours_us']['median']:.2f} -> "
                f"{large['ours_us']['median']:.2f} us/task); the baseline grows "
                f"{g['baseline']:.2f}x",
                f"<= {EXECUTE_GROWTH_TARGET}x",
                verdict(g["execute"] <= EXECUTE_GROWTH_TARGET),
            )
        )
        out.append(
            Row(
                "scale",
                f"runner.snapshot(), {size} over {small} ({g['tasks']:.0f}x the tasks): "
                "later calls (first call)",
                f"{g['snapshot']:.1f}x ({rows[0]['snapshot_s']['median']:.3f} s -> "
                f"{large['snapshot_s']['median']:.3f} s) ({g['snapshot_first']:.1f}x: "
                f"{rows[0]['snapshot_cold_s']:.3f} s -> {large['snapshot_cold_s']:.3f} s)",
                f"<= {SNAPSHOT_GROWTH_TARGET:g}x",
                verdict(max(g["snapshot"], g["snapshot_first"]) <= SNAPSHOT_GROWTH_TARGET),
            )
        )
    fs = large["files_s"]
    out.append(
        Row(
            "scale",
            f"JSON snapshot file, {size} results ({large['bytes']['json'] / 1e6:.0f} MB): "
            "save / load",
            f"{fs['json_save']['median']:.2f} s / {fs['json_load']['median']:.2f} s",
            f"<= {JSON_SAVE_TARGET_S:g} s each",
            verdict(
                fs["json_save"]["median"] <= JSON_SAVE_TARGET_S
                and fs["json_load"]["median"] <= JSON_LOAD_TARGET_S
            ),
        )
    )
    out.append(
        Row(
            "scale",
            f"TOML snapshot file, {size} results ({large['bytes']['toml'] / 1e6:.0f} MB): "
            "save / load",
            f"{fs['toml_save']['median']:.2f} s / {fs['toml_load']['median']:.2f} s",
            "reported",
            None,
        )
    )
    res = large["resume_s"]
    out.append(
        Row(
            "scale",
            f"resume of a {size} all-success JSON snapshot: load + plan + execute",
            f"{res['total']['median']:.2f} s (load {res['load']['median']:.2f}, build "
            f"{res['build']['median']:.2f}, plan+execute {res['execute']['median']:.2f})",
            f"<= {RESUME_TARGET_S:g} s",
            verdict(res["total"]["median"] <= RESUME_TARGET_S),
        )
    )
    out.append(
        Row(
            "scale",
            f"peak RSS of execute + snapshot() + save, {size} tasks (whole process)",
            f"{large['peak_gb']['median']:.2f} GB (after execute {large['peak_execute_gb']:.2f}, "
            f"snapshot() {large['peak_snapshot_gb']:.2f}; step list "
            f"{large['steps_gb']:.2f})",
            f"<= {RSS_TARGET_GB:g} GB",
            verdict(large["peak_gb"]["median"] <= RSS_TARGET_GB),
        )
    )
    if "cli_error" in large:
        out.append(
            Row(
                "scale",
                f"`flow-tui launch --headless`, {size} tasks, with vs without --checkpoint",
                f"not measured: {large['cli_error'][:200]}",
                f"<= {CHECKPOINT_TARGET:g}x",
                None,
            )
        )
    if "cli_s" in large:
        c = large["cli_s"]
        out.append(
            Row(
                "scale",
                f"`flow-tui launch --headless`, {size} tasks, with vs without --checkpoint",
                f"{large['cli_ratio']:.2f}x ({c['none']['median']:.1f} s -> "
                f"{c['json']['median']:.1f} s)",
                f"<= {CHECKPOINT_TARGET:g}x",
                verdict(large["cli_ratio"] <= CHECKPOINT_TARGET),
            )
        )
    return out


def details(f: dict[str, Any]) -> list[Any]:
    headers, rows = issue_table(f)
    title = f"scale: {f['shape']}, concurrency {f['concurrency']} (ranges over the rounds)"
    before = f.get("before")
    if before is not None:
        _, old_rows = issue_table(before["figures"])
        what = f"commit {before['commit']}" + (
            " + uncommitted src/ changes" if before["src_modified"] else ""
        )
        headers = ("", *headers)
        rows = [
            *(["before", *r] for r in old_rows),
            *(["now", *r] for r in rows),
        ]
        title += f"; before: {before['path']} ({what})"
    out = [(title, headers, rows)]
    phases = []
    for row in f["rows"]:
        r = row["resume_s"]
        phases.append(
            [
                _k(row["n"]),
                f"{row['snapshot_cold_s']:.2f}",
                f"{row['json_parse_only_s']['median']:.2f}",
                *(f"{r[k]['median']:.2f}" for k in ("load", "build", "execute", "total")),
                f"{row['steps_gb']:.2f}",
                f"{row['peak_execute_gb']:.2f}",
                f"{row['peak_snapshot_gb']:.2f}",
                f"{row['peak_gb']['median']:.2f}",
            ]
        )
    out.append(
        (
            "scale: where the time and the memory go (s; GB)",
            (
                "tasks",
                "first snapshot()",
                "json.loads alone",
                "resume: load",
                "build",
                "plan+execute",
                "total",
                "step list GB",
                "peak: execute",
                "+ snapshot()",
                "+ save",
            ),
            phases,
        )
    )
    cpu_rows = []
    for row in f["rows"]:
        r = row.get("resume_cpu_s") or {}
        fs = row["files_s"]
        if not r or not row.get("json_load_cpu_s"):
            continue
        cpu_rows.append(
            [
                _k(row["n"]),
                f"{row['snapshot_cold_cpu_s']:.3f} (clock {row['snapshot_cold_s']:.3f})",
                _range(row["json_load_cpu_s"]) + f" (clock {_range(fs['json_load'])})",
                *(_range(r[k]) for k in ("load", "build", "execute")),
                _range(r["total"]) + f" (clock {_range(row['resume_s']['total'])})",
            ]
        )
    if cpu_rows:
        out.append(
            (
                "scale: process CPU time, s (ranges over the rounds)",
                (
                    "tasks",
                    "first snapshot()",
                    "JSON load",
                    "resume: load",
                    "build",
                    "plan+execute",
                    "total",
                ),
                cpu_rows,
            )
        )
    return out
