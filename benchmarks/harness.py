"""Shared machinery: run modes and their sizes, interleaved rounds, medians, event loops."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True, slots=True)
class Mode:
    """Sizes and round counts for one run of the suite."""

    name: str  # full | quick | tiny
    scheduler_sizes: tuple[int, int]  # (small, large): growth compares the two
    scheduler_rounds: tuple[int, int]  # rounds at each size
    concurrencies: tuple[int | None, ...]
    memory_n: int
    memory_rounds: int
    snapshot_sizes: tuple[int, int]
    snapshot_rounds: int
    files_n: int
    files_rounds: int
    resume_n: int
    resume_rounds: int
    checkpoint_n: int
    checkpoint_rounds: int
    events_n: int
    events_rounds: int
    startup_runs: int


MODES = {
    "full": Mode(
        name="full",
        scheduler_sizes=(10_000, 100_000),
        scheduler_rounds=(9, 5),
        concurrencies=(64, None),
        memory_n=100_000,
        memory_rounds=3,
        snapshot_sizes=(10_000, 100_000),
        snapshot_rounds=5,
        files_n=100_000,
        files_rounds=3,
        resume_n=100_000,
        resume_rounds=3,
        checkpoint_n=10_000,
        checkpoint_rounds=5,
        events_n=10_000,
        events_rounds=7,
        startup_runs=10,
    ),
    "quick": Mode(
        name="quick",
        scheduler_sizes=(1_000, 10_000),
        scheduler_rounds=(5, 3),
        concurrencies=(64, None),
        memory_n=10_000,
        memory_rounds=1,
        snapshot_sizes=(1_000, 10_000),
        snapshot_rounds=3,
        files_n=10_000,
        files_rounds=2,
        resume_n=10_000,
        resume_rounds=2,
        checkpoint_n=2_000,
        checkpoint_rounds=3,
        events_n=5_000,
        events_rounds=3,
        startup_runs=4,
    ),
    "tiny": Mode(
        name="tiny",
        scheduler_sizes=(100, 300),
        scheduler_rounds=(1, 1),
        concurrencies=(64, None),
        memory_n=300,
        memory_rounds=1,
        snapshot_sizes=(100, 300),
        snapshot_rounds=1,
        files_n=300,
        files_rounds=1,
        resume_n=300,
        resume_rounds=1,
        checkpoint_n=100,
        checkpoint_rounds=1,
        events_n=200,
        events_rounds=1,
        startup_runs=1,
    ),
}


Log = Callable[[str], None]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def label(concurrency: int | None) -> str:
    return "unlimited" if concurrency is None else str(concurrency)


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median of the per-round ratios: both sides of a round ran back to back, so a load
    spike from other processes tends to hit both and cancel out."""
    return median([a / b for a, b in zip(numerator, denominator, strict=True)])


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how noisy a set of rounds was."""
    return (max(values) - min(values)) / median(values) if values else float("nan")


def rotate(items: Sequence[Any], r: int) -> list[Any]:
    """`items` starting at position r (mod len): round r runs them in this order."""
    k = r % len(items)
    return [*items[k:], *items[:k]]


async def timed_async(make: Callable[[], Awaitable[Any]]) -> float:
    """Seconds to await `make()`, after a full collection so earlier garbage is not billed."""
    gc.collect()
    start = time.perf_counter()
    await make()
    return time.perf_counter() - start


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


async def interleaved_async(
    variants: dict[str, Callable[[], Awaitable[Any]]], rounds: int
) -> dict[str, list[float]]:
    """Seconds of each variant per round; the order rotates each round (A B, B A, ...)."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        for name in rotate(names, r):
            times[name].append(await timed_async(variants[name]))
    return times


def interleaved(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(rounds):
        for name in rotate(names, r):
            times[name].append(timed(variants[name]))
    return times


# -- event loops -----------------------------------------------------------------------


def uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_on(
    loop: str, main: Callable[[], Coroutine[Any, Any, Any]]
) -> Any:  # pragma: no cover - trivial
    """Run `main()` on a fresh loop: "asyncio" (the default loop) or "uvloop"."""
    factory = uvloop_factory() if loop == "uvloop" else None
    if loop == "uvloop" and factory is None:
        raise RuntimeError("uvloop is not installed")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


# -- processes -------------------------------------------------------------------------


def python() -> str:
    return sys.executable


def flow_tui_command() -> list[str]:
    """The installed `flow-tui` console script (beside this interpreter), else `python -m`."""
    beside = Path(sys.executable).with_name("flow-tui")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("flow-tui")
    if found:
        return [found]
    return [sys.executable, "-m", "flow_tui.cli"]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: the repository root importable, no colour.

    Bytecode caching stays on (PYTHONDONTWRITEBYTECODE is dropped): an installed package
    has its .pyc files, and a process that compiled every module on each start would
    measure the compiler, not flow-tui (40-50 ms per start on the reference machine).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    env.setdefault("NO_COLOR", "1")
    env.update(extra)
    return env


def wall_seconds(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    """Seconds a child process takes, start to exit; a failed run raises with its stderr."""
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-300:]!r}")
    return elapsed


def fmt_us(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:.2f}"


def fmt_ratio(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.2f}x"


def fmt_s(x: float) -> str:
    return f"{x:.3f} s" if x >= 0.1 else f"{x * 1000:.1f} ms"
