"""Snapshots at scale: `runner.snapshot()`, snapshot files (JSON, TOML) and resume.

Every figure is taken on the results of a real run of layered no-op tasks.
"""

from __future__ import annotations

import json
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from benchmarks.harness import Log, Mode, interleaved, median, rotate, run_on, timed
from benchmarks.report import Row
from benchmarks.workloads import make_steps
from flow_tui import Snapshot, TaskRunner, TaskRunnerBuilder, TaskStatus, TaskStep

SHAPE = "layered"
CONCURRENCY = 64
SNAPSHOT_TARGET_S = 0.5
ON_TARGET = 1.25  # per-result time at the large size over the small one
JSON_LOAD_TARGET_S = 1.0
RESUME_TARGET_S = 2.0


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _finished_run(n: int) -> tuple[list[TaskStep[Any]], TaskRunner[Any]]:
    steps = make_steps(SHAPE, n)
    runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()

    async def go() -> None:
        await runner.execute(steps, concurrency=CONCURRENCY)

    run_on("asyncio", go)
    return steps, runner


# -- runner.snapshot() -----------------------------------------------------------------


def run_snapshot(mode: Mode, log: Log) -> dict[str, Any]:
    rows = []
    for n in mode.snapshot_sizes:
        steps, runner = _finished_run(n)
        results = runner.results

        def floor(steps: list[TaskStep[Any]] = steps, results: Any = results) -> Any:
            # The least an ordered snapshot does: one lookup per step, in step order.
            return {s.name: results[s.name] for s in steps if s.name in results}

        cold = timed(runner.snapshot)  # the first call also computes the graph fingerprint
        times = interleaved(
            {"snapshot": runner.snapshot, "floor": floor, "dict_copy": lambda r=results: dict(r)},
            mode.snapshot_rounds,
        )
        warm = median(times["snapshot"])
        row = {
            "n": n,
            "cold_s": cold,
            "warm_s": warm,
            "floor_s": median(times["floor"]),
            "dict_copy_s": median(times["dict_copy"]),
            "cold_us_per_result": cold / n * 1e6,
            "warm_us_per_result": warm / n * 1e6,
            "floor_us_per_result": median(times["floor"]) / n * 1e6,
            "seconds": times,
        }
        rows.append(row)
        log(
            f"  snapshot() n={n}: first call {cold * 1000:.1f} ms, then {warm * 1000:.1f} ms "
            f"(floor {row['floor_s'] * 1000:.1f} ms, dict copy {row['dict_copy_s'] * 1000:.1f} ms)"
        )
        del runner, results, steps
    small, large = rows[0], rows[-1]
    growth = large["warm_us_per_result"] / small["warm_us_per_result"]
    cold_growth = large["cold_us_per_result"] / small["cold_us_per_result"]
    floor_growth = large["floor_us_per_result"] / small["floor_us_per_result"]
    relative = growth / floor_growth
    return {
        "rows": rows,
        "rounds": mode.snapshot_rounds,
        "n": large["n"],
        "cold_s": large["cold_s"],
        "warm_s": large["warm_s"],
        "growth_per_result": growth,
        "cold_growth_per_result": cold_growth,
        "floor_growth_per_result": floor_growth,
        "relative_growth": relative,
        "target_s": SNAPSHOT_TARGET_S,
        "passed_time": max(large["cold_s"], large["warm_s"]) <= SNAPSHOT_TARGET_S,
        "passed_linear_raw": max(growth, cold_growth) <= ON_TARGET,
        "passed_linear": relative <= ON_TARGET,
    }


def summarize_snapshot(f: dict[str, Any]) -> list[Row]:
    small, large = f["rows"][0]["n"], f["rows"][-1]["n"]
    return [
        Row(
            "runner.snapshot()",
            f"time at {_k(large)} results (first call / later calls)",
            f"{f['cold_s']:.3f} s / {f['warm_s']:.3f} s",
            f"<= {SNAPSHOT_TARGET_S} s",
            f["passed_time"],
        ),
        Row(
            "runner.snapshot()",
            f"O(n): time per result at {_k(large)} vs {_k(small)} (first / later calls, raw)",
            f"{f['cold_growth_per_result']:.2f}x / {f['growth_per_result']:.2f}x (an O(n) "
            f"floor, one dict lookup per step, grows {f['floor_growth_per_result']:.2f}x)",
            f"<= {ON_TARGET}x",
            f["passed_linear_raw"],
        ),
        Row(
            "runner.snapshot()",
            f"O(n): per-result growth {_k(small)} -> {_k(large)} relative to that O(n) floor",
            f"{f['relative_growth']:.2f}x",
            f"<= {ON_TARGET}x",
            f["passed_linear"],
        ),
    ]


def details_snapshot(f: dict[str, Any]) -> list[Any]:
    rows = [
        [
            r["n"],
            f"{r['cold_s'] * 1000:.1f}",
            f"{r['warm_s'] * 1000:.1f}",
            f"{r['warm_us_per_result']:.3f}",
            f"{r['floor_s'] * 1000:.1f}",
            f"{r['floor_us_per_result']:.3f}",
            f"{r['dict_copy_s'] * 1000:.1f}",
        ]
        for r in f["rows"]
    ]
    headers = (
        "results",
        "first call ms",
        "later ms",
        "us/result",
        "floor ms",
        "floor us/result",
        "dict copy ms",
    )
    return [(f"runner.snapshot() (median of {f['rounds']})", headers, rows)]


# -- snapshot files --------------------------------------------------------------------


def run_files(mode: Mode, log: Log) -> dict[str, Any]:
    n = mode.files_n
    _, runner = _finished_run(n)
    snap = runner.snapshot()
    del runner
    with tempfile.TemporaryDirectory(prefix="flow-tui-bench-") as tmp:
        paths = {fmt: Path(tmp) / f"snap.{fmt}" for fmt in ("json", "toml")}
        for path in paths.values():
            snap.save(path)  # the loads below need the files; this write is not timed
        texts = {fmt: path.read_text() for fmt, path in paths.items()}
        loaded = Snapshot.load(paths["json"])
        if len(loaded.results) != n:
            raise AssertionError("the JSON snapshot did not load every result")
        variants = {
            "json_save": lambda: snap.save(paths["json"]),
            "json_load": lambda: Snapshot.load(paths["json"]),
            "toml_save": lambda: snap.save(paths["toml"]),
            "toml_load": lambda: Snapshot.load(paths["toml"]),
            "json_parse_only": lambda: json.loads(texts["json"]),
            "toml_parse_only": lambda: tomllib.loads(texts["toml"]),
        }
        times = interleaved(variants, mode.files_rounds)
        sizes = {fmt: path.stat().st_size for fmt, path in paths.items()}
    med = {k: median(v) for k, v in times.items()}
    log(
        f"  files n={n}: "
        + ", ".join(f"{k} {v:.3f} s" for k, v in med.items())
        + f"; sizes json {sizes['json'] / 1e6:.1f} MB, toml {sizes['toml'] / 1e6:.1f} MB"
    )
    return {
        "n": n,
        "rounds": mode.files_rounds,
        "seconds": med,
        "all_seconds": times,
        "bytes": sizes,
        "target_json_load_s": JSON_LOAD_TARGET_S,
        "passed": med["json_load"] <= JSON_LOAD_TARGET_S,
    }


def summarize_files(f: dict[str, Any]) -> list[Row]:
    s = f["seconds"]
    size = _k(f["n"])
    return [
        Row(
            "snapshot files",
            f"JSON load, {size} results ({f['bytes']['json'] / 1e6:.1f} MB)",
            f"{s['json_load']:.3f} s (json.loads alone {s['json_parse_only']:.3f} s)",
            f"<= {JSON_LOAD_TARGET_S:g} s",
            f["passed"],
        ),
        Row(
            "snapshot files",
            f"JSON save; TOML save / load, {size} results (TOML {f['bytes']['toml'] / 1e6:.1f} MB)",
            f"JSON save {s['json_save']:.3f} s; TOML save {s['toml_save']:.3f} s / load "
            f"{s['toml_load']:.3f} s (tomllib alone {s['toml_parse_only']:.3f} s)",
            "reported",
            None,
        ),
    ]


def details_files(f: dict[str, Any]) -> list[Any]:
    rows = [[k, f"{v:.3f}"] for k, v in f["seconds"].items()]
    return [(f"snapshot files ({f['n']} results, median of {f['rounds']})", ("op", "s"), rows)]


# -- resume ----------------------------------------------------------------------------


def run_resume(mode: Mode, log: Log) -> dict[str, Any]:
    n = mode.resume_n
    steps, runner = _finished_run(n)
    snap = runner.snapshot()
    del runner
    phases: dict[str, dict[str, list[float]]] = {
        fmt: {"load": [], "build": [], "execute": [], "total": []} for fmt in ("json", "toml")
    }
    with tempfile.TemporaryDirectory(prefix="flow-tui-bench-") as tmp:
        paths = {fmt: Path(tmp) / f"snap.{fmt}" for fmt in ("json", "toml")}
        for path in paths.values():
            snap.save(path)
        del snap

        async def resume(fmt: str) -> None:
            t0 = time.perf_counter()
            loaded = Snapshot.load(paths[fmt])
            t1 = time.perf_counter()
            runner: TaskRunner[Any] = TaskRunnerBuilder(None).with_snapshot(loaded).build()
            t2 = time.perf_counter()
            results = await runner.execute(steps)
            t3 = time.perf_counter()
            plan = runner.plan
            if plan is None or len(plan.kept) != n or len(results) != n:
                raise AssertionError("resume did not keep every saved success")
            if any(r.status is not TaskStatus.SUCCESS for r in results.values()):
                raise AssertionError("a resumed task did not end in success")
            p = phases[fmt]
            p["load"].append(t1 - t0)
            p["build"].append(t2 - t1)
            p["execute"].append(t3 - t2)
            p["total"].append(t3 - t0)

        async def go() -> None:
            import gc

            for r in range(mode.resume_rounds):
                for fmt in rotate(["json", "toml"], r):
                    gc.collect()
                    await resume(fmt)

        run_on("asyncio", go)
    med = {fmt: {k: median(v) for k, v in p.items()} for fmt, p in phases.items()}
    log(
        f"  resume n={n}: "
        + "; ".join(
            f"{fmt} total {m['total']:.3f} s (load {m['load']:.3f}, build {m['build']:.3f}, "
            f"plan+execute {m['execute']:.3f})"
            for fmt, m in med.items()
        )
    )
    return {
        "n": n,
        "rounds": mode.resume_rounds,
        "seconds": med,
        "all_seconds": phases,
        "target_s": RESUME_TARGET_S,
        "passed": med["json"]["total"] <= RESUME_TARGET_S,
    }


def summarize_resume(f: dict[str, Any]) -> list[Row]:
    j, t = f["seconds"]["json"], f["seconds"]["toml"]
    return [
        Row(
            "resume",
            f"{_k(f['n'])}-task snapshot, all success: load + plan + execute (nothing runs)",
            f"JSON {j['total']:.3f} s (load {j['load']:.3f}, build {j['build']:.3f}, "
            f"plan+execute {j['execute']:.3f}); TOML {t['total']:.3f} s",
            f"<= {RESUME_TARGET_S:g} s with JSON",
            f["passed"],
        )
    ]


def details_resume(f: dict[str, Any]) -> list[Any]:
    rows = [
        [fmt, *(f"{m[k]:.3f}" for k in ("load", "build", "execute", "total"))]
        for fmt, m in f["seconds"].items()
    ]
    headers = ("format", "load s", "build s", "plan+execute s", "total s")
    return [(f"resume ({f['n']} tasks, median of {f['rounds']})", headers, rows)]
