"""Child process of the memory case: peak RSS at each stage of one run, as JSON.

    python -m benchmarks.cases.memory_probe ours|baseline SHAPE N CONCURRENCY|none

Imports only the standard minimum before the first reading, so that reading is (close
to) a bare interpreter.

Readings come from /proc/self/status (VmRSS now, VmHWM the peak) rather than
`getrusage().ru_maxrss`: on Linux ru_maxrss survives fork and exec, so a child of the
suite's large process would report the parent's peak. The peak is reset (clear_refs) once
the step list is built, so the run's peak is measured on its own. Elsewhere ru_maxrss is
the fallback.
"""

import json
import resource
import sys


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_kb() -> int:
    now = _status_kb("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_kb() -> int:
    peak = _status_kb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
    except OSError:
        return False
    return True


def main(argv: list[str]) -> dict[str, object]:
    runner, shape, n_text, conc_text = argv
    n = int(n_text)
    concurrency = None if conc_text == "none" else int(conc_text)
    bare = _rss_kb()

    import asyncio

    from benchmarks.baseline import run_dag
    from benchmarks.workloads import make_steps
    from flow_tui import TaskRunnerBuilder

    imported = _rss_kb()
    steps = make_steps(shape, n)
    with_steps = _rss_kb()
    reset = _reset_peak()

    async def go() -> int:
        if runner == "ours":
            results = await TaskRunnerBuilder(None).build().execute(steps, concurrency=concurrency)
        else:
            results = await run_dag(steps, concurrency)
        return len(results)

    count = asyncio.run(go())
    after = _peak_kb()
    if count != n:
        raise SystemExit(f"{runner} returned {count} results for {n} tasks")
    return {
        "runner": runner,
        "shape": shape,
        "n": n,
        "concurrency": concurrency,
        "bare_kb": bare,
        "imported_kb": imported,
        "steps_kb": with_steps,
        "after_kb": after,
        "peak_reset": reset,
        "source": "/proc/self/status" if _status_kb("VmHWM") is not None else "ru_maxrss",
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
