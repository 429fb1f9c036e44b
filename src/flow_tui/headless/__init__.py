"""Headless runs for scripts, CI and servers: `reporters` turn a Session's events into
output (rich, plain lines, JSON Lines); `run` drives the run to its exit code. Signals are
`flow_tui.shutdown`'s, shared with the dashboard."""

from __future__ import annotations

from flow_tui.headless.reporters import (
    OUTPUTS,
    JsonLinesReporter,
    PlainReporter,
    Reporter,
    RichReporter,
    log_level,
    make_reporter,
    plan_lines,
    traceback_tail,
)
from flow_tui.headless.run import exit_code_for, run_headless, run_session

__all__ = [
    "OUTPUTS",
    "JsonLinesReporter",
    "PlainReporter",
    "Reporter",
    "RichReporter",
    "exit_code_for",
    "log_level",
    "make_reporter",
    "plan_lines",
    "run_headless",
    "run_session",
    "traceback_tail",
]
