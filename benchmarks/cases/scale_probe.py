"""Child process of the scale case: one size, measured in a fresh interpreter, as JSON.

    python -m benchmarks.cases.scale_probe time N ROUNDS_JSON   # timings
    python -m benchmarks.cases.scale_probe rss N                # peak RSS

`time`: N no-op tasks, each depending on task i-100 (workloads "stride"), concurrency 64,
through the public API: execute (flow-tui and the lean baseline in interleaved rounds),
`runner.snapshot()` (the first call, then later ones), `Snapshot.save` / `Snapshot.load`
in JSON and TOML, and the resume of the saved all-success JSON snapshot (load + build +
execute, where nothing runs). Progress goes to stderr, the figures to stdout.

`rss`: only execute + `snapshot()` + JSON save, nothing else in the process, so the peak
is theirs: VmHWM of the process, absolute (it includes the interpreter, the imports and
the step list), the peak reset once the step list is built; and each stage's peak.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.cases.memory_probe import _peak_kb, _reset_peak, _rss_kb

SHAPE = "stride"
CONCURRENCY = 64


def _log(text: str) -> None:
    print(f"    {text}", file=sys.stderr, flush=True)


def _timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def _timed_async(make: Callable[[], Awaitable[Any]]) -> float:
    gc.collect()
    start = time.perf_counter()
    await make()
    return time.perf_counter() - start


async def _measure(n: int, rounds: dict[str, int]) -> dict[str, Any]:
    from benchmarks.baseline import run_dag
    from benchmarks.harness import rotate
    from benchmarks.workloads import make_steps
    from flow_tui import Snapshot, TaskRunner, TaskRunnerBuilder, TaskStatus

    out: dict[str, Any] = {"n": n, "rounds": rounds}
    t0 = time.perf_counter()
    steps = make_steps(SHAPE, n)
    out["steps_s"] = time.perf_counter() - t0

    # -- execute: interleaved rounds; each run starts with the last one's results gone --
    last: dict[str, Any] = {}

    async def baseline() -> None:
        last["baseline"] = await run_dag(steps, CONCURRENCY)

    async def ours() -> None:
        runner: TaskRunner[Any] = TaskRunnerBuilder(None).build()
        last["ours"] = await runner.execute(steps, concurrency=CONCURRENCY)
        last["runner"] = runner

    variants = {"baseline": baseline, "ours": ours}
    execute: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(rounds["execute"]):
        for name in rotate(list(variants), r):
            last.clear()
            execute[name].append(await _timed_async(variants[name]))
        _log(
            f"execute n={n} round {r + 1}: ours {execute['ours'][-1]:.2f} s, baseline "
            f"{execute['baseline'][-1]:.2f} s"
        )
    out["execute_s"] = execute
    if "runner" not in last:
        last.clear()
        await ours()
    runner = last.pop("runner")
    results = last.pop("ours")
    last.clear()
    if len(results) != n or any(r.status is not TaskStatus.SUCCESS for r in results.values()):
        raise AssertionError("not every task succeeded")
    del results

    # -- runner.snapshot() --
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    runner.snapshot()
    out["snapshot_cold_s"] = time.perf_counter() - start
    out["snapshot_cold_cpu_s"] = time.process_time() - cpu  # the machine may be shared
    out["snapshot_s"] = [_timed(runner.snapshot) for _ in range(rounds["snapshot"])]
    _log(f"snapshot() n={n}: first {out['snapshot_cold_s']:.3f} s, then {out['snapshot_s']}")
    snap = runner.snapshot()
    del runner
    gc.collect()

    with tempfile.TemporaryDirectory(prefix="flow-tui-scale-") as tmp:
        paths = {fmt: Path(tmp) / f"snap.{fmt}" for fmt in ("json", "toml")}
        files: dict[str, list[float]] = {}
        for fmt, path in paths.items():
            k = rounds[fmt]
            save, load = functools.partial(snap.save, path), functools.partial(Snapshot.load, path)
            files[f"{fmt}_save"] = [_timed(save) for _ in range(k)]
            files[f"{fmt}_load"] = [_timed(load) for _ in range(k)]
            if fmt == "json":
                out["json_load_cpu_s"] = []
                for _ in range(k):
                    gc.collect()
                    cpu = time.process_time()
                    load()
                    out["json_load_cpu_s"].append(time.process_time() - cpu)
            _log(f"{fmt} n={n}: save {files[f'{fmt}_save']}, load {files[f'{fmt}_load']}")
        out["files_s"] = files
        out["bytes"] = {fmt: path.stat().st_size for fmt, path in paths.items()}
        raw = paths["json"].read_bytes()
        parse = functools.partial(json.loads, raw)
        out["json_parse_only_s"] = [_timed(parse) for _ in range(2)]
        del raw, parse, save, load
        loaded = Snapshot.load(paths["json"])
        if len(loaded.results) != n or loaded.tasks != snap.tasks:
            raise AssertionError("the JSON snapshot did not load every result")
        del loaded, snap
        paths["toml"].unlink()

        # -- resume: load + build + execute, nothing runs --
        phases: dict[str, list[float]] = {"load": [], "build": [], "execute": [], "total": []}
        cpu_phases: dict[str, list[float]] = {"load": [], "build": [], "execute": [], "total": []}
        for _ in range(rounds["resume"]):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            saved = Snapshot.load(paths["json"])
            c1, t1 = time.process_time(), time.perf_counter()
            resumed: TaskRunner[Any] = TaskRunnerBuilder(None).with_snapshot(saved).build()
            c2, t2 = time.process_time(), time.perf_counter()
            results = await resumed.execute(steps, concurrency=CONCURRENCY)
            c3, t3 = time.process_time(), time.perf_counter()
            for key, value in zip(cpu_phases, (c1 - c0, c2 - c1, c3 - c2, c3 - c0), strict=True):
                cpu_phases[key].append(value)
            plan = resumed.plan
            if plan is None or len(plan.kept) != n or len(results) != n:
                raise AssertionError("resume did not keep every saved success")
            for key, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                phases[key].append(value)
            del saved, resumed, results, plan
        out["resume_s"] = phases
        out["resume_cpu_s"] = cpu_phases
        _log(f"resume n={n}: {phases['total']}")
    return out


def _time_main(n: int, rounds: dict[str, int]) -> dict[str, Any]:
    return asyncio.run(_measure(n, rounds))


def _rss_main(n: int) -> dict[str, Any]:
    bare = _rss_kb()
    from benchmarks.workloads import make_steps
    from flow_tui import TaskRunnerBuilder

    imported = _rss_kb()
    steps = make_steps(SHAPE, n)
    with_steps = _rss_kb()
    reset = _reset_peak()
    runner = TaskRunnerBuilder(None).build()

    async def go() -> int:
        return len(await runner.execute(steps, concurrency=CONCURRENCY))

    count = asyncio.run(go())
    if count != n:
        raise SystemExit(f"{count} results for {n} tasks")
    after_execute = _peak_kb()
    snap = runner.snapshot()
    after_snapshot = _peak_kb()
    with tempfile.TemporaryDirectory(prefix="flow-tui-scale-") as tmp:
        snap.save(Path(tmp) / "snap.json")
        after_save = _peak_kb()
    return {
        "n": n,
        "bare_kb": bare,
        "imported_kb": imported,
        "steps_kb": with_steps,
        "peak_execute_kb": after_execute,
        "peak_snapshot_kb": after_snapshot,
        "peak_kb": after_save,
        "peak_reset": reset,
    }


def main(argv: list[str]) -> dict[str, Any]:
    what, n_text, *rest = argv
    n = int(n_text)
    if what == "time":
        return _time_main(n, json.loads(rest[0]))
    if what == "rss":
        return _rss_main(n)
    raise SystemExit(f"unknown probe {what!r}: time | rss")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
