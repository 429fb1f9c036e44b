"""The `flow-tui` command: argument parsing, and errors turned into one line + exit 2.

argparse (standard library) rather than Click/Typer: the interface needs nothing they add,
and it keeps `flow-tui --help` and headless start-up fast with no extra dependency.
Over 400 lines on purpose: it is only the declarations of every command's arguments and
their help, which a reader looks for in one place; what a command does is elsewhere
(`commands`, `runs`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from flow_tui.exit_codes import EXIT_OK, EXIT_SIGINT, EXIT_USAGE
from flow_tui.streams import silence

EPILOG_LAUNCH = """\
examples:
  flow-tui launch sample_workflows/nightly_etl.py
  flow-tui launch nightly.py --checkpoint run.toml          # saves after every task
  flow-tui launch nightly.py --resume run.toml --checkpoint run.toml
  flow-tui launch nightly.py --headless --output jsonl > events.jsonl
  flow-tui launch nightly.py --resume run.toml --plan       # show what would run
"""


EPILOG_MAIN = """\
examples:
  flow-tui validate sample_workflows/nightly_etl.py
  flow-tui launch sample_workflows/nightly_etl.py --headless --checkpoint run.toml
  flow-tui ps                                # runs of yours on this machine
  flow-tui attach                            # the dashboard of the only run

Run `flow-tui COMMAND --help` for the options and examples of a command.
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str, *, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value != value or value == float("inf") or value < 0 or (value == 0 and not allow_zero):
        least = ">= 0" if allow_zero else "a positive number of"
        raise argparse.ArgumentTypeError(f"must be {least} seconds, got {text}")
    return value


def _grace(text: str) -> float:
    return _seconds(text, allow_zero=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from flow_tui import __version__

    parser = _Parser(
        prog="flow-tui",
        allow_abbrev=False,  # `--headles` is a typo, not --headless
        description="Run a workflow (a DAG of Python tasks) with a live dashboard, or "
        "headless for scripts and CI; pause, snapshot and resume without re-running "
        "finished work.",
        epilog=EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flow-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    launch = sub.add_parser(
        "launch",
        allow_abbrev=False,
        help="run a workflow (dashboard, or --headless)",
        description="Run WORKFLOW: a .py file or package.module[:attribute] defining a "
        "flow_tui.Workflow. Opens the dashboard unless --headless.",
        epilog=EPILOG_LAUNCH,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    launch.add_argument(
        "workflow", metavar="WORKFLOW", help="path/to/module.py or package.module[:attr]"
    )
    launch.add_argument("--headless", action="store_true", help="run without the dashboard")
    launch.add_argument(
        "--resume",
        metavar="SNAPSHOT",
        type=Path,
        help="continue from a saved snapshot or checkpoint: its successes are not run again",
    )
    launch.add_argument(
        "--checkpoint",
        metavar="PATH",
        type=Path,
        help="save a checkpoint (.json or .toml) after every task end and at exit",
    )
    launch.add_argument(
        "--concurrency",
        metavar="N",
        type=_positive_int,
        help="run at most N tasks at once (default: the workflow's)",
    )
    launch.add_argument(
        "--timeout", metavar="SECONDS", type=_seconds, help="cancel the run after SECONDS"
    )
    launch.add_argument("--dry-run", action="store_true", help="call no task: show what would run")
    launch.add_argument(
        "--paused", action="store_true", help="open the dashboard paused (press p to start)"
    )
    launch.add_argument(
        "--rerun-interrupted",
        action="store_true",
        help="consent to re-run non-idempotent tasks that were interrupted",
    )
    launch.add_argument(
        "--mark-done",
        metavar="TASK",
        action="append",
        default=[],
        help="record an interrupted TASK as completed by hand (repeatable)",
    )
    launch.add_argument(
        "--force", action="store_true", help="resume a snapshot of a differently named workflow"
    )
    launch.add_argument(
        "--plan",
        action="store_true",
        help="print the resume plan and exit without running anything",
    )
    launch.add_argument(
        "--continue",
        dest="continue_run",
        action="store_true",
        help="with --checkpoint PATH: resume PATH if it holds an unfinished run, else start "
        "fresh (a finished run's file is moved aside): one command for every night",
    )
    launch.add_argument(
        "--keep",
        metavar="N",
        type=_positive_int,
        help="with --continue: how many finished checkpoints moved aside to keep (default 5)",
    )
    launch.add_argument(
        "--output",
        choices=("auto", "rich", "plain", "jsonl", "json"),
        default=None,
        help="headless output: auto (default), rich (terminal), plain lines, or jsonl "
        "events; json only with --plan",
    )
    launch.add_argument(
        "--grace",
        metavar="SECONDS",
        type=_grace,
        default=10.0,
        help="on SIGINT/SIGTERM, let running tasks finish for SECONDS, then cancel (default 10)",
    )
    launch.add_argument(
        "--no-control",
        dest="control",
        action="store_false",
        help="serve no control socket: `flow-tui ps/attach/pause/stop` cannot reach this run",
    )
    launch.add_argument(
        "--verbose",
        action="store_true",
        help="headless: print every line tasks print or log (default: warnings and errors)",
    )
    launch.add_argument(
        "--executor",
        choices=("local", "dask"),
        default=None,
        help="where task bodies run: local (default: this process) or dask (a cluster; "
        "needs flow-tui[dask])",
    )
    launch.add_argument(
        "--dask-address",
        metavar="ADDR",
        default=None,
        help="run bodies on the Dask scheduler at ADDR (tcp://host:8786; implies --executor "
        "dask; default: $FLOW_TUI_DASK_ADDRESS, else a temporary LocalCluster)",
    )
    launch.add_argument(
        "--dask-workers",
        metavar="N",
        type=_positive_int,
        default=None,
        help="worker processes of the temporary LocalCluster (default: one per core)",
    )
    launch.add_argument("--debug", action="store_true", help="show tracebacks for errors")

    validate = sub.add_parser(
        "validate",
        allow_abbrev=False,
        help="check a workflow module and its task graph",
        description="Load WORKFLOW and validate its graph (cycles, missing dependencies, "
        "duplicate names); print a short summary.",
        epilog="example:\n  flow-tui validate sample_workflows/nightly_etl.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("workflow", metavar="WORKFLOW")
    validate.add_argument("--debug", action="store_true", help="show tracebacks for errors")

    graph = sub.add_parser(
        "graph",
        allow_abbrev=False,
        help="print the task graph as Mermaid",
        description="Print WORKFLOW's task graph as a Mermaid `graph TD`.",
        epilog="example:\n  flow-tui graph nightly.py --snapshot run.toml > graph.mmd",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    graph.add_argument("workflow", metavar="WORKFLOW")
    graph.add_argument(
        "--snapshot", metavar="FILE", type=Path, help="colour nodes by the status saved in FILE"
    )
    graph.add_argument(
        "--force", action="store_true", help="use a snapshot of a differently named workflow"
    )
    graph.add_argument("--debug", action="store_true", help="show tracebacks for errors")

    inspect = sub.add_parser(
        "inspect",
        allow_abbrev=False,
        help="show what a snapshot holds",
        description="Print the tasks saved in SNAPSHOT (status, duration, message) and, with "
        "--workflow, the plan for resuming it.",
        epilog="examples:\n  flow-tui inspect run.toml --workflow nightly.py\n"
        "  flow-tui inspect run.toml --output json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inspect.add_argument("snapshot", metavar="SNAPSHOT", type=Path)
    inspect.add_argument(
        "--workflow", metavar="WORKFLOW", help="plan a resume of this workflow from SNAPSHOT"
    )
    inspect.add_argument(
        "--force", action="store_true", help="plan from a snapshot of another workflow name"
    )
    inspect.add_argument(
        "--output",
        choices=("table", "json"),
        default="table",
        help="a table for people (default) or the snapshot as JSON",
    )
    inspect.add_argument("--debug", action="store_true", help="show tracebacks for errors")

    report = sub.add_parser(
        "report",
        allow_abbrev=False,
        help="write a run's HTML report (summary, timeline, tasks)",
        description="Write one self-contained HTML file of the run SNAPSHOT holds (a snapshot "
        "or a checkpoint): its summary, a timeline of where the time went and a table of "
        "every task. No script, no network: it opens anywhere.",
        epilog="examples:\n  flow-tui report state/nightly.toml -o nightly.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("snapshot", metavar="SNAPSHOT", type=Path)
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        default=None,
        help="the HTML file to write (default: SNAPSHOT's name with .html, in this folder)",
    )
    report.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    run_parsers = _add_run_commands(sub)
    for command_parser in (launch, validate, graph, inspect, report, *run_parsers):
        command_parser.set_defaults(command_parser=command_parser)
    return parser


#: The commands that talk to a running run (flow_tui.runs): no workflow is loaded.
RUN_COMMANDS = ("ps", "attach", "pause", "resume", "save", "stop")

RUN_HELP = (
    "the run: its id (or a unique prefix), its pid, its workflow's name when only one run "
    "has it, or its checkpoint path (see `flow-tui ps`)"
)


def _add_run_commands(sub: Any) -> list[argparse.ArgumentParser]:
    """ps, attach, pause, resume, save, stop: clients of a run's control socket."""
    ps = sub.add_parser(
        "ps",
        allow_abbrev=False,
        help="list your runs on this machine",
        description="List the flow-tui runs of this user on this machine (id, workflow, pid, "
        "state, progress, start, checkpoint); remove the files of runs that died.",
        epilog="examples:\n  flow-tui ps\n  flow-tui ps --output json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ps.add_argument(
        "--output",
        choices=("table", "json"),
        default="table",
        help="a table for people (default) or JSON for scripts",
    )

    attach = sub.add_parser(
        "attach",
        allow_abbrev=False,
        help="open the dashboard on a running run",
        description="Open the dashboard on a run started elsewhere (headless, another "
        "terminal): d detaches and the run goes on.",
        epilog="examples:\n  flow-tui attach\n  flow-tui attach nightly",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    attach.add_argument("run", metavar="RUN", nargs="?", help=RUN_HELP + "; optional with one run")

    pause = sub.add_parser(
        "pause",
        allow_abbrev=False,
        help="pause a running run",
        description="Pause RUN: no new task starts; running tasks finish (or, with "
        "--interrupt, are cancelled and run again on resume).",
        epilog="examples:\n  flow-tui pause nightly\n  flow-tui pause a1b2 --interrupt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pause.add_argument("run", metavar="RUN", help=RUN_HELP)
    pause.add_argument(
        "--interrupt",
        action="store_true",
        help="cancel running tasks now; they run again on resume (non-idempotent ones only "
        "with consent)",
    )

    resume = sub.add_parser(
        "resume",
        allow_abbrev=False,
        help="resume a paused run",
        description="Resume RUN. Interrupted non-idempotent tasks need a decision: "
        "--rerun-interrupted, or --mark-done TASK for each that completed.",
        epilog="examples:\n  flow-tui resume nightly\n"
        "  flow-tui resume nightly --mark-done charge_card",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    resume.add_argument("run", metavar="RUN", help=RUN_HELP)
    consent = resume.add_mutually_exclusive_group()
    consent.add_argument(
        "--rerun-interrupted",
        action="store_true",
        help="consent to re-run non-idempotent tasks that were interrupted",
    )
    consent.add_argument(
        "--mark-done",
        metavar="TASK",
        action="append",
        default=[],
        help="record an interrupted TASK as completed by hand (repeatable)",
    )

    save = sub.add_parser(
        "save",
        allow_abbrev=False,
        help="save a snapshot of a running run",
        description="Save a snapshot of RUN now to FILE (.toml or .json; a relative path is "
        "relative to this folder). An existing FILE is replaced only with --overwrite.",
        epilog="examples:\n  flow-tui save nightly snap.toml\n"
        "  flow-tui launch nightly.py --resume snap.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    save.add_argument("run", metavar="RUN", help=RUN_HELP)
    save.add_argument("file", metavar="FILE", help="the snapshot file: .toml or .json")
    save.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")

    stop = sub.add_parser(
        "stop",
        allow_abbrev=False,
        help="stop a run like SIGTERM",
        description="Stop RUN as SIGTERM does: no new task starts, running tasks get the "
        "grace period, then are cancelled; the run checkpoints and exits 143. Asked "
        "twice, it cancels at once.",
        epilog="examples:\n  flow-tui stop nightly\n  flow-tui stop a1b2 --grace 0 --wait",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stop.add_argument("run", metavar="RUN", help=RUN_HELP)
    stop.add_argument(
        "--grace",
        metavar="SECONDS",
        type=_grace,
        default=None,
        help="let running tasks finish for SECONDS (default: the run's --grace)",
    )
    stop.add_argument(
        "--wait", action="store_true", help="wait until the run has ended; print its exit code"
    )
    parsers = [ps, attach, pause, resume, save, stop]
    for command_parser in parsers:
        command_parser.add_argument(
            "--debug", action="store_true", help="show tracebacks for errors"
        )
    return parsers


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # Reported by the command's own parser, so the hint names the right --help.
        command_parser = getattr(args, "command_parser", parser)
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    debug = getattr(args, "debug", False) or bool(os.environ.get("FLOW_TUI_DEBUG"))
    from flow_tui.core.errors import FlowError

    try:
        return _dispatch(args)
    except FlowError as exc:
        if debug:
            traceback.print_exc()
        print(f"flow-tui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_SIGINT
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error of ours.
        silence(sys.stdout)
        return EXIT_OK
    except Exception as exc:  # one line unless --debug, never a bare traceback
        if debug:
            traceback.print_exc()
        print(
            f"flow-tui: internal error: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in RUN_COMMANDS:
        from flow_tui import runs

        run_handler = {
            "ps": runs.ps,
            "attach": runs.attach,
            "pause": runs.pause,
            "resume": runs.resume,
            "save": runs.save,
            "stop": runs.stop,
        }[args.command]
        run_code: int = run_handler(args)
        return run_code
    from flow_tui import commands

    handler = {
        "launch": commands.launch,
        "validate": commands.validate,
        "graph": commands.graph,
        "inspect": commands.inspect,
        "report": commands.report,
    }[args.command]
    code: int = handler(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
