"""Test workflow: extract -> transform -> load, all succeed; with FAIL_TRANSFORM=1 in the
environment `transform` fails. Bodies append their name to $FLOW_TUI_TEST_LOG."""

from __future__ import annotations

import os

from flow_tui import TaskStep, Workflow


def record(line: str) -> None:
    with open(os.environ["FLOW_TUI_TEST_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def extract(ctx: object) -> int:
    record("extract")
    return 3


async def transform(ctx: object) -> int:
    record("transform")
    if os.environ.get("FAIL_TRANSFORM"):
        raise RuntimeError("transform failed on purpose")
    return 6


def load(ctx: object) -> str:  # a sync body: it runs in a worker thread
    record("load")
    return "loaded"


workflow = Workflow(
    name="simple",
    steps=[
        TaskStep("extract", extract),
        TaskStep("transform", transform, ["extract"]),
        TaskStep("load", load, ["transform"]),
    ],
)
