"""Kill real headless runs with SIGKILL at random moments, resume until done, and check the
checkpoint's promises after every kill.

Each trial runs `flow-tui launch crash_workflow.py --headless --checkpoint ck.{json,toml}`,
kills it (seeded random moments: during start-up, or after a random number of task bodies
have begun, plus a random few milliseconds), then resumes with `--resume ck --checkpoint
ck` until a run exits 0. Half the trials go through a wrapper that sets tiny compaction
thresholds, so kills also land while the journal is being folded into the file.

The call log (see crash_workflow.py) says which bodies began and completed in which
process; the checkpoint says what is durable. After every launch:
- the checkpoint loads (Snapshot.load);
- no task that was a durable success before the launch began again in it;
- every task that began had all its dependencies durably successful (an end is durable
  before its dependents start);
- the tasks that began but are not durably successful are at most the concurrency limit
  (an end is durable before its slot is reused): a kill re-runs only what was in flight;
- a non-idempotent task that began and is not durably successful is listed in
  Snapshot.interrupted (its start was durable before its body ran);
- a non-idempotent task that began before begins again only in a resume given
  --rerun-interrupted, and only if that resume's plan listed it as needing consent;
  without that flag the resume exits 2 naming it, and runs and writes nothing.
At the end every task succeeded, and the journal, lock and temp files are gone.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import crash_workflow as wf
import pytest

from flow_tui import Snapshot, TaskStatus

WORKFLOW = Path(__file__).with_name("crash_workflow.py")
FLOW_TUI = Path(sys.executable).with_name("flow-tui")
TRIALS = int(os.environ.get("CRASH_TRIALS", "14"))  # per format
SEED = int(os.environ.get("CRASH_SEED", "20261125"))
ALL_TASKS = [wf.name(layer, pos) for layer in range(wf.LAYERS) for pos in range(wf.WIDTH)]
DEPS = {
    wf.name(layer, pos): wf.dependencies(layer, pos)
    for layer in range(wf.LAYERS)
    for pos in range(wf.WIDTH)
}
# The real CLI entry point with compaction thresholds small enough that a 60-task run
# folds its journal into the checkpoint several times.
COMPACTING = (
    "import sys, flow_tui.checkpoint as c; c.MIN_COMPACT_BYTES = 1024; c.COMPACT_RATIO = 1; "
    "from flow_tui.cli import main; sys.exit(main(sys.argv[1:]))"
)
DEADLINE = 30.0  # seconds for one launch; a run takes well under one


@dataclass
class Calls:
    """The call log: which bodies began (B) and completed (E) in which process."""

    path: Path

    def lines(self) -> list[tuple[str, int, str]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            kind, pid, task = line.split(" ")
            out.append((kind, int(pid), task))
        return out

    def of(self, pid: int, kind: str) -> list[str]:
        return [t for k, p, t in self.lines() if p == pid and k == kind]

    def count(self, pid: int, kind: str) -> int:
        return sum(1 for k, p, _ in self.lines() if p == pid and k == kind)


@dataclass
class Trial:
    fmt: str
    seed: int
    folder: Path
    compacting: bool
    kills: int = 0
    launches: int = 0
    refusals: int = 0
    marked_done: list[str] = field(default_factory=list)
    reruns: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)

    @property
    def ck(self) -> Path:
        return self.folder / f"ck.{self.fmt}"

    def where(self) -> str:
        return f"[{self.fmt} seed {self.seed}] " + " | ".join(self.log)


def _command(trial: Trial, extra: list[str]) -> list[str]:
    args = ["launch", str(WORKFLOW), "--headless", "--output", "jsonl"]
    args += ["--checkpoint", str(trial.ck), *extra]
    if trial.compacting:
        return [sys.executable, "-c", COMPACTING, *args]
    return [str(FLOW_TUI), *args]


def _start(trial: Trial, extra: list[str], tag: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CRASH_CALL_LOG=str(trial.folder / "calls.log"))
    env.pop("FLOW_TUI_DEBUG", None)
    out = open(trial.folder / f"{tag}.out", "wb")  # noqa: SIM115 - closed by the child
    err = open(trial.folder / f"{tag}.err", "wb")  # noqa: SIM115
    try:
        return subprocess.Popen(
            _command(trial, extra), cwd=trial.folder, env=env, stdout=out, stderr=err
        )
    finally:
        out.close()
        err.close()


def _kill_at_random_moment(
    proc: subprocess.Popen[bytes], calls: Calls, rng: random.Random, remaining: int
) -> str:
    """SIGKILL `proc` at a random moment; returns how the moment was chosen."""
    deadline = time.monotonic() + DEADLINE
    if remaining == 0 or rng.random() < 0.25:
        delay = rng.uniform(0.0, 0.35)  # anywhere in start-up, open, or the first tasks
        moment = f"at {delay * 1000:.0f} ms"
    else:
        target = rng.randint(1, remaining)
        while proc.poll() is None and calls.count(proc.pid, "B") < target:
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.001)
        delay = rng.uniform(0.0, 0.015)
        moment = f"after {target} bodies began + {delay * 1000:.1f} ms"
    if delay:
        time.sleep(delay)  # the random moment itself, not a wait for something
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    return moment


def _successes(snapshot: Snapshot) -> set[str]:
    return {n for n, r in snapshot.results.items() if r.status is TaskStatus.SUCCESS}


def run_trial(fmt: str, seed: int, folder: Path) -> Trial:
    rng = random.Random(seed)
    trial = Trial(fmt, seed, folder, compacting=seed % 2 == 1)
    calls = Calls(folder / "calls.log")
    kills_wanted = rng.randint(2, 4)
    durable: set[str] = set()  # successes in the checkpoint before the next launch
    began_before: set[str] = set()
    ended_before: set[str] = set()
    while True:
        trial.launches += 1
        assert trial.launches <= 12, trial.where()
        extra: list[str] = []
        needs_consent: list[str] = []
        mark_done: list[str] = []
        if trial.ck.exists():
            before = Snapshot.load(trial.ck)
            needs_consent = [
                n
                for n in before.interrupted
                if n in wf.NON_IDEMPOTENT and n not in _successes(before)
            ]
            extra = ["--resume", str(trial.ck)]
            if needs_consent:
                _check_refusal(trial, calls, extra, needs_consent)
                done_by_hand = [n for n in needs_consent if n in ended_before]
                if done_by_hand and rng.random() < 0.7:
                    # The operator knows these completed (their bodies did end).
                    mark_done = done_by_hand
                    extra += [arg for n in mark_done for arg in ("--mark-done", n)]
                    trial.marked_done += mark_done
                if set(needs_consent) - set(mark_done):
                    extra.append("--rerun-interrupted")
        proc = _start(trial, extra, f"run{trial.launches}")
        moment = "not killed"
        if trial.kills < kills_wanted:
            moment = _kill_at_random_moment(proc, calls, rng, len(ALL_TASKS) - len(durable))
        code = proc.wait(timeout=DEADLINE)
        killed = code == -signal.SIGKILL
        trial.kills += killed
        trial.log.append(
            f"launch {trial.launches} {' '.join(extra) or 'fresh'}: {moment}, exit {code}"
        )
        began = calls.of(proc.pid, "B")
        ended = calls.of(proc.pid, "E")
        if not trial.ck.exists():
            assert killed and not began, trial.where()  # the file is written before any task
            continue
        after = Snapshot.load(trial.ck)  # loads, whatever instant the process died
        now_durable = _successes(after)
        where = trial.where()
        assert durable <= now_durable, f"a durable success was lost {where}"
        assert not set(began) & durable, f"a durable success ran again {where}"
        for task in began:
            missing = [d for d in DEPS[task] if d not in now_durable]
            assert not missing, f"{task} started before {missing} were durable {where}"
        in_flight = set(began) - now_durable
        assert len(in_flight) <= wf.CONCURRENCY, f"not durable: {sorted(in_flight)} {where}"
        for task in in_flight & wf.NON_IDEMPOTENT:
            assert task in after.interrupted, f"{task} ran, not interrupted {where}"
        for task in set(began) & wf.NON_IDEMPOTENT & began_before:
            assert "--rerun-interrupted" in extra and task in needs_consent, (
                f"non-idempotent {task} re-ran without consent {where}"
            )
        for task in mark_done:
            assert task not in began, where
            assert "marked done" in (after.results[task].message or ""), where
        for task in began:
            trial.reruns[task] += task in began_before
        began_before |= set(began)
        ended_before |= set(ended)
        durable = now_durable
        if code == 0:
            break
        assert killed, f"exit {code}: {(folder / f'run{trial.launches}.err').read_text()}"
    _check_finished(trial, ended_before)
    return trial


def _check_refusal(trial: Trial, calls: Calls, extra: list[str], needs: list[str]) -> None:
    """Without consent the resume exits 2 naming the tasks, and nothing runs or changes."""
    journal = trial.ck.with_name(trial.ck.name + ".journal")
    files = {p: p.read_bytes() for p in (trial.ck, journal) if p.exists()}
    trial.refusals += 1
    tag = f"refused{trial.refusals}"
    proc = _start(trial, extra, tag)
    code = proc.wait(timeout=DEADLINE)
    err = (trial.folder / f"{tag}.err").read_text()
    where = trial.where()
    assert code == 2, f"exit {code}: {err} {where}"
    assert err.count("\n") == 1 and "--rerun-interrupted" in err, err
    for name in needs:
        assert repr(name) in err, f"{name} not named in {err!r} {where}"
    assert not calls.of(proc.pid, "B"), where
    assert {p: p.read_bytes() for p in files} == files, f"a refused resume wrote {where}"


def _check_finished(trial: Trial, ended: set[str]) -> None:
    where = trial.where()
    final = Snapshot.load(trial.ck)
    assert all(
        (r := final.results.get(n)) is not None and r.status is TaskStatus.SUCCESS
        for n in ALL_TASKS
    ), f"not all succeeded: {final.counts()} {where}"
    assert final.interrupted == [], where
    assert set(ALL_TASKS) - ended <= set(trial.marked_done), where
    # Each re-run is a body cut off by one of the kills: at most the concurrency limit each.
    assert sum(trial.reruns.values()) <= wf.CONCURRENCY * trial.kills, where
    leftovers = [p.name for p in trial.folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temp files left: {leftovers} {where}"
    for suffix in (".journal", ".lock"):
        assert not trial.ck.with_name(trial.ck.name + suffix).exists(), where


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_sigkill_at_random_moments_then_resume(fmt: str, tmp_path: Path) -> None:
    seeds = [SEED + 1000 * (fmt == "toml") + k for k in range(TRIALS)]
    for seed in seeds:
        (tmp_path / str(seed)).mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        trials = list(pool.map(lambda s: run_trial(fmt, s, tmp_path / str(s)), seeds))
    kills = sum(t.kills for t in trials)
    # Real crashes happened (a kill can miss when a short resumed run ends first), and
    # some hit a non-idempotent task mid-flight.
    assert kills >= TRIALS
    assert sum(t.refusals for t in trials) >= 1
    print(
        f"\n{fmt}: {len(trials)} trials, {kills} kills, "
        f"{sum(t.launches for t in trials)} launches, "
        f"{sum(t.refusals for t in trials)} refused resumes, "
        f"{sum(len(t.marked_done) for t in trials)} marked done, "
        f"{sum(sum(t.reruns.values()) for t in trials)} re-runs"
    )
