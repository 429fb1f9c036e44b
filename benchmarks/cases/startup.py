"""Start-up: `flow-tui --help` and a headless launch of a 1-task workflow, over bare Python.

Also checks, in a fresh interpreter, that the headless path never imports textual, and
lists the costliest imports of that path (`python -X importtime`).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from benchmarks.harness import (
    ROOT,
    Log,
    Mode,
    child_env,
    flow_tui_command,
    median,
    python,
    wall_seconds,
)
from benchmarks.report import Row

TARGET_MS = 150.0
WORKFLOW_FILE = ROOT / "benchmarks" / "workflows" / "noop_dag.py"
MARK = "@@bench@@"

_PROBE = f"""
import contextlib, io, json, sys
from flow_tui.cli import main
argv = json.loads(sys.argv[1])
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        code = main(argv)
except SystemExit as exc:
    code = exc.code
textual = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print({MARK!r} + json.dumps({{"code": code, "textual_modules": len(textual),
      "rich": "rich" in sys.modules, "modules": len(sys.modules)}}))
"""


def _commands() -> dict[str, list[str]]:
    cli = flow_tui_command()
    return {
        "bare": [python(), "-c", "pass"],
        "help": [*cli, "--help"],
        "launch_headless": [*cli, "launch", str(WORKFLOW_FILE), "--headless", "--output", "plain"],
    }


def _wall(cmd: list[str]) -> float:
    return wall_seconds(cmd, child_env(BENCH_TASKS="1"))


def _probe(argv: list[str], importtime: bool = False) -> tuple[dict[str, Any], str]:
    cmd = [python(), *(["-X", "importtime"] if importtime else []), "-c", _PROBE, json.dumps(argv)]
    done = subprocess.run(
        cmd, cwd=ROOT, env=child_env(BENCH_TASKS="1"), capture_output=True, text=True, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARK):
            found: dict[str, Any] = json.loads(line[len(MARK) :])
            return found, done.stderr
    raise RuntimeError(f"startup probe printed nothing: {done.stderr[-500:]}")


def _import_times(stderr: str, top: int = 12) -> dict[str, Any]:
    """The costliest imports from `-X importtime` output (nested ones are indented)."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        raw_name = parts[2][1:]
        entries.append(
            {
                "module": raw_name.strip(),
                "top_level": not raw_name.startswith(" "),
                "self_us": int(parts[0]),
                "cum_us": int(parts[1]),
            }
        )
    total_us = sum(e["cum_us"] for e in entries if e["top_level"])
    flow_us = sum(e["cum_us"] for e in entries if e["module"] == "flow_tui")
    ours = ("flow_tui", "rich", "tomli_w", "asyncio", "textual")
    by_cum = sorted(
        (e for e in entries if e["module"].split(".")[0] in ours),
        key=lambda e: e["cum_us"],
        reverse=True,
    )[:top]
    by_self = sorted(entries, key=lambda e: e["self_us"], reverse=True)[:top]
    return {
        "total_ms": total_us / 1000,
        "flow_tui_ms": flow_us / 1000,
        "by_cum": by_cum,
        "by_self": by_self,
    }


def run(mode: Mode, log: Log) -> dict[str, Any]:
    commands = _commands()
    times: dict[str, list[float]] = {k: [] for k in commands}
    names = list(commands)
    for _ in range(2):  # warm the page cache and .pyc files; not counted
        for name in names:
            _wall(commands[name])
    for r in range(mode.startup_runs):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(_wall(commands[name]))
    med_ms = {k: median(v) * 1000 for k, v in times.items()}
    over = {k: med_ms[k] - med_ms["bare"] for k in ("help", "launch_headless")}
    launch_argv = ["launch", str(WORKFLOW_FILE), "--headless", "--output", "plain"]
    headless, stderr = _probe(launch_argv, importtime=True)
    helped, _ = _probe(["--help"])
    imports = _import_times(stderr)
    log(
        f"  startup: bare {med_ms['bare']:.0f} ms, --help +{over['help']:.0f} ms, headless "
        f"launch +{over['launch_headless']:.0f} ms; textual imported on the headless path: "
        f"{headless['textual_modules'] > 0}"
    )
    return {
        "runs": mode.startup_runs,
        "median_ms": med_ms,
        "over_bare_ms": over,
        "all_seconds": times,
        "headless_imports_textual": headless["textual_modules"] > 0,
        "help_imports_textual": helped["textual_modules"] > 0,
        "headless_probe": headless,
        "help_probe": helped,
        "headless_import_times": imports,
        "target_ms": TARGET_MS,
        "passed": max(over.values()) <= TARGET_MS,
    }


def summarize(f: dict[str, Any]) -> list[Row]:
    over, med = f["over_bare_ms"], f["median_ms"]
    return [
        Row(
            "startup",
            "`flow-tui --help` over a bare `python -c pass`",
            f"+{over['help']:.0f} ms ({med['help']:.0f} vs {med['bare']:.0f} ms)",
            f"<= {TARGET_MS:g} ms over bare",
            over["help"] <= TARGET_MS,
        ),
        Row(
            "startup",
            "`flow-tui launch --headless` of a 1-task workflow over bare",
            f"+{over['launch_headless']:.0f} ms ({med['launch_headless']:.0f} ms)",
            f"<= {TARGET_MS:g} ms over bare",
            over["launch_headless"] <= TARGET_MS,
        ),
        Row(
            "startup",
            "textual imported on the headless path (fresh interpreter)",
            "yes" if f["headless_imports_textual"] else "no",
            "no",
            not f["headless_imports_textual"],
        ),
    ]


def details(f: dict[str, Any]) -> list[Any]:
    med = f["median_ms"]
    rows = [
        [k, f"{v:.1f}", "" if k == "bare" else f"+{v - med['bare']:.1f}"] for k, v in med.items()
    ]
    out = [(f"startup (median of {f['runs']} runs)", ("command", "ms", "over bare"), rows)]
    imp = f["headless_import_times"]
    out.append(
        (
            f"headless launch imports (-X importtime): all imports {imp['total_ms']:.0f} ms, "
            f"flow_tui {imp['flow_tui_ms']:.0f} ms; largest cumulative",
            ("module", "cumulative ms", "self ms"),
            [
                [e["module"].strip(), f"{e['cum_us'] / 1000:.1f}", f"{e['self_us'] / 1000:.1f}"]
                for e in imp["by_cum"]
            ],
        )
    )
    return out
