"""A small deploy pipeline for the consent end-to-end tests (after
sample_workflows/deploy_pipeline.py): `migrate_database` is not idempotent.

`migrate_database` appends "applying migration" to $FLOW_TUI_E2E_LOG each time its body
starts, then waits until the file $FLOW_TUI_E2E_GATE exists. `notify_chat` always fails,
so a finished run has a failure.
"""

from __future__ import annotations

import asyncio
import os

from flow_tui import TaskStep, Workflow

LOG = os.environ.get("FLOW_TUI_E2E_LOG", "e2e.log")
GATE = os.environ.get("FLOW_TUI_E2E_GATE", "e2e.gate")


def record(line: str) -> None:
    with open(LOG, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


async def build(ctx: object) -> str:
    return "registry.local/app:1.4.2"


async def migrate_database(ctx: object) -> str:
    record("applying migration")
    while not os.path.exists(GATE):
        await asyncio.sleep(0.02)  # the gate is a file the test creates
    return "0042_add_invoices applied"


async def deploy(ctx: object) -> str:
    record("deploying")
    return "3/3 replicas ready"


async def notify_chat(ctx: object) -> None:
    raise RuntimeError("DEPLOY_WEBHOOK is not set: nobody was notified")


workflow = Workflow(
    name="deploy",
    steps=[
        TaskStep("build", build),
        TaskStep("migrate_database", migrate_database, dependencies=["build"], idempotent=False),
        TaskStep("deploy", deploy, dependencies=["migrate_database"]),
        TaskStep("notify_chat", notify_chat, dependencies=["deploy"]),
    ],
    concurrency=2,
)
