"""Dashboard: figures from benchmarks/dashboard.py (written separately), when it exists.

The contract this case relies on: benchmarks/dashboard.py defines a function `summary`
(or `run_summary`, `run`, `measure`), sync or async, taking any of the keyword
arguments `mode` ("full" | "quick" | "tiny"), `quick`, `tiny`, and returning a dict of
JSON-compatible figures; a key containing "slowdown" (runner under Pilot / headless,
a ratio) and one containing "latency" (a key press answered, in ms; "_s" if seconds)
are put in the summary table. It runs in a child process, so the app's loop and terminal
state never touch the rest of the suite.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from benchmarks.harness import ROOT, Log, Mode, child_env, python
from benchmarks.report import Row

MODULE = ROOT / "benchmarks" / "dashboard.py"
ENTRY_POINTS = ("summary", "run_summary", "run", "measure")
SLOWDOWN_TARGET = 1.2
LATENCY_TARGET_MS = 100.0
MARK = "@@bench@@"

_CHILD = f"""
import asyncio, inspect, json, sys
from benchmarks import dashboard
mode = sys.argv[1]
entry = next((getattr(dashboard, n) for n in {ENTRY_POINTS!r}
              if callable(getattr(dashboard, n, None))), None)
if entry is None:
    print({MARK!r} + json.dumps({{"error": "benchmarks/dashboard.py has none of "
          + ", ".join({ENTRY_POINTS!r})}}))
    sys.exit(0)
offered = {{"mode": mode, "quick": mode != "full", "tiny": mode == "tiny"}}
params = inspect.signature(entry).parameters
kwargs = {{k: v for k, v in offered.items() if k in params}}
out = entry(**kwargs)
if inspect.isawaitable(out):
    out = asyncio.run(out)
print({MARK!r} + json.dumps({{"entry": entry.__name__, "figures": out}}, default=str))
"""


ISSUE_SLOWDOWN_KEYS = ("burst_slowdown", "runner_slowdown")
LATENCY_KEYS = ("key_latency_max_ms",)


def _exact(figures: Any, keys: tuple[str, ...]) -> tuple[str, float] | None:
    if not isinstance(figures, dict):
        return None
    for key in keys:
        value = figures.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return key, float(value)
    return None


def _find(figures: Any, word: str) -> tuple[str, float] | None:
    """The first numeric value whose key contains `word`, searching nested dicts."""
    if not isinstance(figures, dict):
        return None
    for key, value in figures.items():
        if word in str(key).lower() and isinstance(value, (int, float)):
            return str(key), float(value)
    for value in figures.values():
        found = _find(value, word)
        if found is not None:
            return found
    return None


def run(mode: Mode, log: Log) -> dict[str, Any]:
    if not MODULE.exists():
        log("  dashboard: not available (benchmarks/dashboard.py does not exist)")
        return {"status": "not available", "reason": "benchmarks/dashboard.py does not exist"}
    done = subprocess.run(
        [python(), "-c", _CHILD, mode.name],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARK):
            payload: dict[str, Any] = json.loads(line[len(MARK) :])
            break
    else:
        tail = (done.stderr or done.stdout).strip()[-600:]
        log(f"  dashboard: benchmarks/dashboard.py failed: {tail}")
        return {"status": "error", "reason": tail, "returncode": done.returncode}
    if "error" in payload:
        log(f"  dashboard: {payload['error']}")
        return {"status": "error", "reason": payload["error"]}
    figures = payload["figures"]
    # Issue 7's scenario is 5k tasks finishing as fast as they can: the no-op burst.
    slowdown = _exact(figures, ISSUE_SLOWDOWN_KEYS) or _find(figures, "slowdown")
    latency = _exact(figures, LATENCY_KEYS) or _find(figures, "latency")
    latency_ms = None
    if latency is not None:
        key, value = latency
        latency_ms = value * 1000 if key.endswith("_s") else value
    others = {
        k: v
        for k, v in figures.items()
        if isinstance(v, (int, float)) and ("slowdown" in k or "latency" in k) and "target" not in k
    }
    log(f"  dashboard: {payload['entry']}() -> slowdown {slowdown}, latency {latency}")
    return {
        "status": "measured",
        "entry": payload["entry"],
        "figures": figures,
        "slowdown": slowdown[1] if slowdown else None,
        "slowdown_key": slowdown[0] if slowdown else None,
        "key_latency_ms": latency_ms,
        "latency_key": latency[0] if latency else None,
        "reported": others,
    }


def summarize(f: dict[str, Any]) -> list[Row]:
    if f.get("status") != "measured":
        reason = f.get("reason", "")
        figure = "not available" if f.get("status") == "not available" else f"error: {reason}"
        return [
            Row(
                "dashboard",
                "runner slowdown under Pilot vs headless; key latency while events stream",
                figure,
                f"<= {SLOWDOWN_TARGET}x; <= {LATENCY_TARGET_MS:g} ms",
                None,
            )
        ]
    rows = []
    slowdown, latency = f.get("slowdown"), f.get("key_latency_ms")
    if slowdown is None:
        figure, verdict = "not reported", None
    elif not slowdown > 0:  # a run that did not happen (0 s), not a 0x slowdown
        figure, verdict = f"invalid: dashboard.py reported {slowdown}", None
    else:
        figure, verdict = f"{slowdown:.2f}x ({f.get('slowdown_key')})", slowdown <= SLOWDOWN_TARGET
    reported = f.get("reported") or {}
    extra = [
        f"{k} {v:.2f}x"
        for k, v in reported.items()
        if "slowdown" in k and k != f.get("slowdown_key")
    ]
    if extra:
        figure += "; " + ", ".join(extra)
    rows.append(
        Row(
            "dashboard",
            "runner slowdown, 5k tasks as fast as they can, app under Pilot vs headless",
            figure,
            f"<= {SLOWDOWN_TARGET}x",
            verdict,
        )
    )
    spread = ", ".join(
        f"{k.replace('key_latency_', '').replace('_ms', '')} {v:.0f} ms"
        for k, v in reported.items()
        if "latency" in k and k != f.get("latency_key") and not k.endswith("target_ms")
    )
    rows.append(
        Row(
            "dashboard",
            "a key press answered while events stream (worst press)",
            "not reported"
            if latency is None
            else f"{latency:.0f} ms" + (f" ({spread})" if spread else ""),
            f"<= {LATENCY_TARGET_MS:g} ms",
            None if latency is None else latency <= LATENCY_TARGET_MS,
        )
    )
    return rows


def details(f: dict[str, Any]) -> list[Any]:
    if f.get("status") != "measured" or not isinstance(f.get("figures"), dict):
        return []
    rows = [[k, json.dumps(v, default=str)[:80]] for k, v in f["figures"].items()]
    return [(f"dashboard (benchmarks/dashboard.py {f['entry']}())", ("figure", "value"), rows)]
