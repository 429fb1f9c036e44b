"""Every way a command line or a workflow module can be wrong: exit 2, exactly one line on
stderr that names the thing, no traceback; `--debug` adds the traceback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from flowcli import WORKFLOWS, Result, Workspace, assert_usage_error


@dataclass(frozen=True)
class BadModule:
    file: str  # written into the workspace; "" for none
    source: str
    spec: str  # the WORKFLOW argument
    needles: tuple[str, ...]  # what the one stderr line must name


BAD_MODULES = {
    "file not found": BadModule("", "", "missing_workflow.py", ("missing_workflow.py", "not")),
    "folder given": BadModule("pkg/__init__.py", "", "pkg/", ("pkg", "folder")),
    "syntax error": BadModule(
        "broken_syntax.py",
        "from flow_tui import Workflow\n\nworkflow = Workflow(name='x'\n",
        "broken_syntax.py",
        ("syntax error", "broken_syntax.py", "line 3"),
    ),
    "missing module": BadModule(
        "imports_missing.py",
        "from flow_tui import Workflow\nimport no_such_module_xyz\nworkflow = Workflow('x')\n",
        "imports_missing.py",
        ("imports_missing.py", "line 2", "no_such_module_xyz"),
    ),
    "missing name": BadModule(
        "imports_bad_name.py",
        "from flow_tui import Workflow\nfrom os import no_such_name\nworkflow = Workflow('x')\n",
        "imports_bad_name.py",
        ("imports_bad_name.py", "line 2", "no_such_name", "'os'"),
    ),
    "raises while imported": BadModule(
        "raises.py",
        "from flow_tui import Workflow\n\nraise RuntimeError('no config found')\n",
        "raises.py",
        ("raises.py", "line 3", "RuntimeError", "no config found"),
    ),
    "sys.exit while imported": BadModule(
        "exits.py", "import sys\nsys.exit(3)\n", "exits.py", ("exits.py", "sys.exit(3)")
    ),
    "no workflow": BadModule(
        "no_workflow.py",
        "VALUE = 1\n",
        "no_workflow.py",
        ("no_workflow.py", "no flow_tui.Workflow"),
    ),
    "several workflows": BadModule(
        "several.py",
        "from flow_tui import Workflow\nalpha = Workflow('alpha')\nbeta = Workflow('beta')\n",
        "several.py",
        ("several.py", "alpha", "beta", "several.py:NAME"),
    ),
    "missing attribute": BadModule(
        "several.py",
        "from flow_tui import Workflow\nalpha = Workflow('alpha')\nbeta = Workflow('beta')\n",
        "several.py:gamma",
        ("several.py", "no attribute 'gamma'"),
    ),
    "attribute not a workflow": BadModule(
        "several.py",
        "from flow_tui import Workflow\nalpha = Workflow('alpha')\nNUMBER = 3\n",
        "several.py:NUMBER",
        ("several.py", "'NUMBER'", "int", "not a flow_tui.Workflow"),
    ),
    "empty attribute": BadModule("", "", "several.py:", ("several.py:", "attribute")),
    "no such module": BadModule("", "", "no_such_pkg.flows:wf", ("no_such_pkg.flows",)),
    "cycle": BadModule(
        "cycle.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): pass\n"
        "workflow = Workflow('cyclic', steps=[TaskStep('extract', body, ['load']),\n"
        "    TaskStep('transform', body, ['extract']), TaskStep('load', body, ['transform'])])\n",
        "cycle.py",
        ("cycle.py", "cyclic", "cycle", "extract", "transform", "load"),
    ),
    "missing dependency": BadModule(
        "ghost.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): pass\n"
        "workflow = Workflow('haunted', steps=[TaskStep('needs_ghost', body, ['ghost'])])\n",
        "ghost.py",
        ("ghost.py", "needs_ghost", "'ghost'"),
    ),
    "duplicate name": BadModule(
        "twice.py",
        "from flow_tui import TaskStep, Workflow\n"
        "async def body(ctx): pass\n"
        "workflow = Workflow('dup', steps=[TaskStep('twice', body), TaskStep('twice', body)])\n",
        "twice.py",
        ("twice.py", "duplicate", "'twice'"),
    ),
}


def _prepare(ws: Workspace, case: BadModule) -> None:
    if case.file:
        ws.write(case.file, case.source)


DEBUG_CASES = ["file not found", "missing module", "cycle"]
OTHER_COMMAND_CASES = [
    "syntax error",
    "missing name",
    "several workflows",
    "cycle",
    "duplicate name",
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    """Every bad module run through the commands at once (the runs are independent and
    each is mostly interpreter start-up): (case, how) -> result."""
    jobs: list[tuple[tuple[str, str], Workspace, tuple[str, ...]]] = []
    for case, bad in BAD_MODULES.items():
        ws = Workspace(tmp_path_factory.mktemp("bad"))
        _prepare(ws, bad)
        jobs.append(((case, "launch"), ws, ("launch", bad.spec, "--headless")))
        if case in DEBUG_CASES:
            jobs.append(((case, "debug"), ws, ("launch", bad.spec, "--headless", "--debug")))
        if case in OTHER_COMMAND_CASES:
            jobs.append(((case, "validate"), ws, ("validate", bad.spec)))
            jobs.append(((case, "graph"), ws, ("graph", bad.spec)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: job[1].run(*job[2]), jobs))
    for _, ws, _ in jobs:
        assert ws.calls() == []  # no task body ran
    return {key: result for (key, _, _), result in zip(jobs, results, strict=True)}


@pytest.mark.parametrize("case", list(BAD_MODULES), ids=list(BAD_MODULES))
def test_bad_workflow_module_is_one_line_and_exit_2(
    bad_runs: dict[tuple[str, str], Result], case: str
) -> None:
    assert_usage_error(bad_runs[case, "launch"], *BAD_MODULES[case].needles)


@pytest.mark.parametrize("case", OTHER_COMMAND_CASES)
@pytest.mark.parametrize("command", ["validate", "graph"])
def test_other_commands_report_bad_modules_the_same_way(
    bad_runs: dict[tuple[str, str], Result], case: str, command: str
) -> None:
    assert_usage_error(bad_runs[case, command], *BAD_MODULES[case].needles)


@pytest.mark.parametrize("case", DEBUG_CASES)
def test_debug_shows_the_traceback_and_still_exits_2(
    bad_runs: dict[tuple[str, str], Result], case: str
) -> None:
    result = bad_runs[case, "debug"]
    assert result.returncode == 2, result
    assert "Traceback (most recent call last)" in result.stderr, result
    last = result.stderr_lines[-1]
    assert last.startswith("flow-tui: error: ")
    for needle in BAD_MODULES[case].needles:
        assert needle in last


def test_module_form_names_the_package_module_and_line(ws: Workspace) -> None:
    ws.write("pipelines/__init__.py", "")
    ws.write(
        "pipelines/nightly.py",
        "from flow_tui import Workflow\nimport pipelines.helpers_that_are_gone\n",
    )
    result = ws.run("validate", "pipelines.nightly:workflow")
    assert_usage_error(result, "pipelines/nightly.py", "line 2", "pipelines.helpers_that_are_gone")


USAGE_ERRORS = {
    "unknown flag": (["launch", "x.py", "--headless", "--bogus"], ("--bogus", "launch --help")),
    "concurrency zero": (["launch", "x.py", "--concurrency", "0"], ("--concurrency", "0")),
    "concurrency negative": (["launch", "x.py", "--concurrency=-2"], ("--concurrency", "-2")),
    "concurrency not a number": (
        ["launch", "x.py", "--concurrency", "many"],
        ("--concurrency", "'many'"),
    ),
    "timeout zero": (["launch", "x.py", "--timeout", "0"], ("--timeout",)),
    "timeout not a number": (["launch", "x.py", "--timeout", "soon"], ("--timeout", "'soon'")),
    "grace negative": (["launch", "x.py", "--grace=-1"], ("--grace",)),
    "bad output": (["launch", "x.py", "--output", "xml"], ("--output", "xml")),
    "missing workflow": (["launch"], ("WORKFLOW",)),
    "unknown command": (["lanch", "x.py"], ("lanch",)),
    "inspect without snapshot": (["inspect"], ("SNAPSHOT",)),
    "abbreviated flag": (["launch", "x.py", "--headles"], ("--headles",)),
    "abbreviated flag of the main parser": (["--vers"], ("--vers",)),
    "output without headless": (
        ["launch", "x.py", "--output", "jsonl"],
        ("--output", "--headless"),
    ),
    "output json during a run": (
        ["launch", "x.py", "--headless", "--output", "json"],
        ("--output json", "--plan", "jsonl"),
    ),
}


@pytest.fixture(scope="module")
def usage_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    ws = Workspace(tmp_path_factory.mktemp("usage"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda args: ws.run(*args), [a for a, _ in USAGE_ERRORS.values()])
        return dict(zip(USAGE_ERRORS, results, strict=True))


@pytest.mark.parametrize("case", list(USAGE_ERRORS), ids=list(USAGE_ERRORS))
def test_usage_errors_exit_2_with_one_line(usage_runs: dict[str, Result], case: str) -> None:
    assert_usage_error(usage_runs[case], *USAGE_ERRORS[case][1])


def test_paused_is_refused_headless(ws: Workspace) -> None:
    result = ws.run("launch", WORKFLOWS / "simple.py", "--headless", "--paused")
    assert_usage_error(result, "--paused", "--headless")
    assert ws.calls() == []


def test_launch_without_a_terminal_suggests_headless(ws: Workspace) -> None:
    result = ws.run("launch", WORKFLOWS / "simple.py")  # stdout is a pipe here
    assert_usage_error(result, "not a terminal", "--headless")
    assert ws.calls() == []


def test_no_command_prints_help_and_exits_2(ws: Workspace) -> None:
    result = ws.run()
    assert result.returncode == 2
    assert "usage: flow-tui" in result.stdout


def test_relative_import_suggests_the_module_form(ws: Workspace) -> None:
    ws.write("pipelines/__init__.py", "")
    ws.write("pipelines/helpers.py", "from flow_tui import Workflow\nworkflow = Workflow('x')\n")
    ws.write("pipelines/nightly.py", "from .helpers import workflow\n")
    result = ws.run("launch", "pipelines/nightly.py", "--headless")
    assert_usage_error(result, "pipelines/nightly.py", "relative import", "pipelines.nightly")
    # ... and the suggestion works.
    assert ws.run("validate", "pipelines.nightly").returncode == 0


def test_relative_import_outside_a_package_says_what_to_add(ws: Workspace) -> None:
    ws.write("nightly.py", "from .helpers import workflow\n")
    result = ws.run("launch", "nightly.py", "--headless")
    assert_usage_error(result, "nightly.py", "relative import", "__init__.py")


def test_mark_done_names_only_an_interrupted_task(ws: Workspace) -> None:
    assert (
        ws.run("launch", WORKFLOWS / "simple.py", "--headless", "--checkpoint", "s.json").returncode
        == 0
    )
    ws.reset_calls()
    for name in ("extract", "no_such_task"):
        result = ws.run(
            "launch", WORKFLOWS / "simple.py", "--headless", "--resume", "s.json",
            "--mark-done", name,
        )  # fmt: skip
        assert_usage_error(result, repr(name), "interrupted")
    assert ws.calls() == []
