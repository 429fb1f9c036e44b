"""Cost of attached viewers: a headless run of 5,000 no-op tasks with two viewers reading
its events over the control socket, against the same run with none.

    python benchmarks/attach.py                      # 5 interleaved rounds
    python benchmarks/attach.py --rounds 9 --tasks 5000 --viewers 2 --json /tmp/attach.json

Each round runs every variant once (the order rotates each round) and the median is
reported. A run is `flow-tui launch benchmarks/workflows/gated_noop.py --headless --output
jsonl` (stdout to /dev/null): its first task waits for a gate file, so that the viewers
(real processes: `hello`, `subscribe`, then read every event until `bye`) are attached
before the work starts; the time measured is from opening the gate to the run's exit.
Both variants wait for the run's socket before opening the gate. Target: <= 1.2x. The
run's CPU seconds in the same span (user + system, from /proc and wait4) are reported too:
on a machine without a spare core the viewers' own CPU shows in the wall time, not there;
`--nice 19` runs the viewers only on CPU the run leaves.

`--frozen`: the viewers subscribe, then stop themselves (SIGSTOP) until the run has
exited, and read what they were sent after it: the run's own cost of serving two viewers
(encoding, batches, sends, holding their connections), without the viewers' CPU. At most
~5k tasks: each viewer's events must fit in the kernel's buffer for its socket (1 MiB
asked, twice that given), or the run waits up to 2 s for them at its end.

`--dashboards`: the viewers are `flow-tui attach` itself, the whole dashboard, each in a
pseudo-terminal of 120x40 whose output a thread reads and drops; the gate opens once the
run's `status` counts them subscribed and a second has let them draw their first screen.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root is not on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import child_env
from flow_tui.control.client import ControlClient
from flow_tui.control.registry import RunInfo

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "benchmarks" / "workflows" / "gated_noop.py"
TARGET = 1.2

#: A viewer: subscribes, says so on stdout, reads every message until `bye`, then prints
#: how many task events it read.
VIEWER = """
import sys
from flow_tui.control.client import ControlClient
from flow_tui.control.registry import resolve_run
info = resolve_run(sys.argv[1])
with ControlClient(info, timeout=None) as client:
    client.request("subscribe")
    print("subscribed", flush=True)
    ends = 0
    bye = None
    for message in client.messages():
        if message.get("event") == "task_end":
            ends += 1
        if message.get("type") == "bye":
            bye = message
print(ends, bye and bye.get("exit_code"), flush=True)
"""

#: A viewer of --frozen: the same, stopped from its `subscribed` until the run has exited.
FROZEN_VIEWER = VIEWER.replace(
    'print("subscribed", flush=True)',
    'print("subscribed", flush=True)\n    import os, signal; os.kill(os.getpid(), signal.SIGSTOP)',
)


def _flow_tui() -> str:
    script = Path(sys.executable).with_name("flow-tui")
    return str(script) if script.exists() else "flow-tui"


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _span(events_file: Path) -> float:
    """Seconds from the gate task's end to `workflow_end`, read from the run's JSON Lines
    (millisecond timestamps): the time the run took to finish its tasks."""
    first = last = None
    with open(events_file, encoding="utf-8") as fh:
        for line in fh:
            event = json.loads(line)
            if event["event"] == "task_end" and first is None:
                first = event["ts"]
            elif event["event"] == "workflow_end":
                last = event["ts"]
    if first is None or last is None:
        raise RuntimeError("the run's JSON Lines have no task_end or workflow_end")
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()


def _dashboard(
    ident: str, env: dict[str, str], prefix: list[str], pin: bool
) -> subprocess.Popen[str]:
    """`flow-tui attach ident` in a pseudo-terminal of 120x40, its output read and dropped."""
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [*prefix, _flow_tui(), "attach", ident],
        env={**env, "TERM": "xterm-256color"},
        stdin=side,
        stdout=side,
        stderr=side,
        text=True,
        start_new_session=True,
        preexec_fn=_on_cpus(pin, _OTHER_CPUS),
    )
    os.close(side)

    def drop() -> None:
        with contextlib.suppress(OSError):
            while os.read(main, 1 << 16):
                pass
        os.close(main)

    threading.Thread(target=drop, daemon=True).start()
    return proc


def _wait_subscribed(runtime: Path, ident: str, viewers: int, run: subprocess.Popen[Any]) -> None:
    """Until the run's `status` counts `viewers` subscribed (dashboards say nothing)."""
    info = RunInfo.from_dict(json.loads((runtime / f"{ident}.json").read_text()))
    deadline = time.monotonic() + 60
    with ControlClient(info) as client:
        while client.request("status")["status"]["viewers"] < viewers:
            if run.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboards did not attach")
            time.sleep(0.05)
    time.sleep(1.0)  # their first screen drawn: the run's own work is what is timed


def one_run(
    tasks: int,
    viewers: int,
    folder: Path,
    k: int,
    cpu: list[float],
    nice: int = 0,
    spans: list[float] | None = None,
    pin: bool = False,
    dashboards: bool = False,
    frozen: bool = False,
) -> float:
    """Seconds from opening the gate to the run's exit, `viewers` attached; the CPU
    seconds (user + system) the run used in that time are appended to `cpu`, and the
    seconds from the gate task's end to workflow_end (the tasks done, before the run
    hands its viewers what they have not read yet and exits) to `spans`."""
    runtime = Path(tempfile.mkdtemp(prefix="fb", dir="/tmp"))
    gate = folder / f"gate-{k}"
    env = child_env(BENCH_TASKS=str(tasks), BENCH_GATE=str(gate), FLOW_TUI_RUNTIME_DIR=str(runtime))
    cmd = [_flow_tui(), "launch", str(WORKFLOW), "--headless", "--output", "jsonl"]
    errors = folder / f"stderr-{k}"
    events_file = folder / f"events-{k}.jsonl"
    with open(errors, "wb") as err, open(events_file, "wb") as out:
        run = subprocess.Popen(
            cmd, cwd=folder, env=env, stdout=out, stderr=err, preexec_fn=_on_cpus(pin, {0})
        )
    procs: list[subprocess.Popen[str]] = []
    try:
        while not list(runtime.glob("*.json")):
            if run.poll() is not None:
                raise RuntimeError(
                    f"the run exited {run.returncode} before serving: {errors.read_text()[-500:]}"
                )
            time.sleep(0.005)
        ident = next(runtime.glob("*.json")).stem
        niceness = ["nice", "-n", str(nice)] if nice else []
        for _ in range(viewers if dashboards else 0):
            procs.append(_dashboard(ident, env, niceness, pin))
        if dashboards and viewers:
            _wait_subscribed(runtime, ident, viewers, run)
        for _ in range(0 if dashboards else viewers):
            procs.append(
                subprocess.Popen(
                    [*niceness, sys.executable, "-c", FROZEN_VIEWER if frozen else VIEWER, ident],
                    env=env,
                    stdout=subprocess.PIPE,
                    text=True,
                    preexec_fn=_on_cpus(pin, _OTHER_CPUS),
                )
            )
        for proc in [] if dashboards else procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "subscribed":
                raise RuntimeError("a viewer did not subscribe")
        before = _cpu_seconds(run.pid)
        start = time.perf_counter()
        gate.touch()
        _, status, usage = os.wait4(run.pid, 0)
        elapsed = time.perf_counter() - start
        run.returncode = code = os.waitstatus_to_exitcode(status)
        cpu.append(usage.ru_utime + usage.ru_stime - before)
        if frozen:
            for proc in procs:
                proc.send_signal(signal.SIGCONT)
        if code != 0:
            raise RuntimeError(f"the run exited {code}: {errors.read_text()[-500:]}")
        for proc in [] if dashboards else procs:
            said, _ = proc.communicate(timeout=60)
            ends, exit_code = said.split()
            if int(ends) != tasks + 1 or exit_code != "0":
                raise RuntimeError(f"a viewer read {ends} task ends, exit code {exit_code}")
        if spans is not None:
            spans.append(_span(events_file))
        return elapsed
    finally:
        everything: list[subprocess.Popen[Any]] = [run, *procs]
        for proc in everything:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(runtime, ignore_errors=True)


_OTHER_CPUS = set(range(1, os.cpu_count() or 2)) or {0}


def _on_cpus(pin: bool, cpus: set[int]) -> Any:
    """With --pin: a child's preexec_fn that keeps it on `cpus` (the run on CPU 0, the
    viewers on the others), so the viewers' own CPU does not show in the run's time."""
    if not pin:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def measure(
    tasks: int,
    rounds: int,
    viewers: int,
    nice: int = 0,
    pin: bool = False,
    dashboards: bool = False,
    frozen: bool = False,
) -> dict[str, Any]:
    kind = "dashboards" if dashboards else "frozen viewers" if frozen else "viewers"
    variants = {"none": 0, f"{viewers} {kind}": viewers}
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    spans: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="flow-tui-attach-") as tmp:
        folder = Path(tmp)
        k = 0
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                k += 1
                times[name].append(
                    one_run(
                        tasks,
                        variants[name],
                        folder,
                        k,
                        cpu[name],
                        nice,
                        spans[name],
                        pin,
                        dashboards,
                        frozen,
                    )
                )
                print(
                    f"round {r + 1}: {name}: {times[name][-1]:.3f}s (run CPU "
                    f"{cpu[name][-1]:.3f}s, tasks done in {spans[name][-1]:.3f}s)",
                    file=sys.stderr,
                )
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    med_span = {name: statistics.median(t) for name, t in spans.items()}
    return {
        "tasks": tasks,
        "rounds": rounds,
        "viewer_nice": nice,
        "pinned": pin,
        "dashboards": dashboards,
        "frozen": frozen,
        "seconds": med,
        "all_seconds": times,
        "ratio": med[names[1]] / med["none"],
        "run_cpu_seconds": med_cpu,
        "all_run_cpu_seconds": cpu,
        "cpu_ratio": med_cpu[names[1]] / med_cpu["none"],
        "tasks_done_seconds": med_span,
        "all_tasks_done_seconds": spans,
        "tasks_done_ratio": med_span[names[1]] / med_span["none"],
        "target": TARGET,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--viewers", type=int, default=2)
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the viewers at this niceness: with 19 they take only CPU the run leaves, "
        "which isolates the run's own cost on a machine with few or busy cores",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run flow-tui on CPU 0 and the viewers on the other CPUs (both variants)",
    )
    parser.add_argument(
        "--dashboards",
        action="store_true",
        help="the viewers are `flow-tui attach` dashboards, each in a pseudo-terminal",
    )
    parser.add_argument(
        "--frozen",
        action="store_true",
        help="the viewers stop after subscribing until the run has exited: the run's own "
        "cost of serving them, without their CPU",
    )
    parser.add_argument("--json", metavar="PATH", help="write every figure to PATH")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    if args.frozen and args.dashboards:
        parser.error("--frozen is for the viewer processes, not --dashboards")
    figures = measure(
        args.tasks, args.rounds, args.viewers, args.nice, args.pin, args.dashboards, args.frozen
    )
    figures["load_average_before"] = load_before
    names = list(figures["seconds"])
    print(
        f"{args.tasks} no-op tasks, median of {args.rounds} interleaved rounds"
        + (f" (viewers at nice {args.nice})" if args.nice else "")
        + (" (flow-tui on CPU 0, the viewers on the others)" if args.pin else "")
        + ": "
        + ", ".join(f"{n} {figures['seconds'][n]:.3f}s" for n in names)
        + f"; ratio {figures['ratio']:.2f}x (target <= {TARGET}x); the run's CPU in that time "
        + ", ".join(f"{n} {figures['run_cpu_seconds'][n]:.3f}s" for n in names)
        + f" ({figures['cpu_ratio']:.2f}x); its tasks done (gate to workflow_end) "
        + ", ".join(f"{n} {figures['tasks_done_seconds'][n]:.3f}s" for n in names)
        + f" ({figures['tasks_done_ratio']:.2f}x); load average "
        + " ".join(f"{x:.2f}" for x in load_before)
        + f" before, {os.cpu_count()} CPUs"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["ratio"] <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
