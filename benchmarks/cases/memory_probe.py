"""Child process of the memory case: peak RSS at each stage of one run, as JSON.

    python -m benchmarks.cases.memory_probe ours|baseline SHAPE N CONCURRENCY|none

Imports only the standard minimum before the first reading, so that reading is (close
to) a bare interpreter.
"""

import json
import resource
import sys


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main(argv: list[str]) -> dict[str, object]:
    runner, shape, n_text, conc_text = argv
    n = int(n_text)
    concurrency = None if conc_text == "none" else int(conc_text)
    bare = _peak_kb()

    import asyncio

    from benchmarks.baseline import run_dag
    from benchmarks.workloads import make_steps
    from flow_tui import TaskRunnerBuilder

    imported = _peak_kb()
    steps = make_steps(shape, n)
    with_steps = _peak_kb()

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
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
