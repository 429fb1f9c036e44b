"""Deploy pipeline: build, test, migrate (not idempotent), deploy, notify (may fail).

    flow-tui launch sample_workflows/deploy_pipeline.py
"""

from __future__ import annotations

import asyncio
import logging
import os

from flow_tui import RetryPolicy, TaskResult, TaskStatus, Workflow

log = logging.getLogger("deploy")

workflow = Workflow(name="deploy-pipeline", concurrency=2, context=dict)


@workflow.task(version="1")
async def build(ctx: dict) -> str:
    log.info("building image")
    await asyncio.sleep(1.0)
    ctx["image"] = "registry.local/app:1.4.2"
    return "registry.local/app:1.4.2"


@workflow.task(dependencies=["build"])
async def unit_tests(ctx: dict) -> TaskResult:
    await asyncio.sleep(0.8)
    return TaskResult(TaskStatus.SUCCESS, message="412 passed")


@workflow.task(dependencies=["build"])
async def lint(ctx: dict) -> None:
    await asyncio.sleep(0.3)


@workflow.task(dependencies=["unit_tests", "lint"], idempotent=False, timeout=30)
async def migrate_database(ctx: dict) -> str:
    # Not idempotent: after an interruption it must not run again without consent.
    log.info("applying migration 0042_add_invoices")
    await asyncio.sleep(1.5)
    return "0042_add_invoices applied"


@workflow.task(
    dependencies=["migrate_database"],
    idempotent=False,
    retry=RetryPolicy(attempts=2, delay=0.5),
)
async def deploy(ctx: dict) -> str:
    log.info("rolling out %s", ctx.get("image", "?"))
    await asyncio.sleep(1.2)
    return "3/3 replicas ready"


@workflow.task(dependencies=["deploy"], continue_on_error=True)
async def notify_chat(ctx: dict) -> None:
    await asyncio.sleep(0.2)
    if not os.environ.get("DEPLOY_WEBHOOK"):
        raise RuntimeError("DEPLOY_WEBHOOK is not set: nobody was notified")


@workflow.task(dependencies=["notify_chat"])
async def smoke_test(ctx: dict) -> str:
    await asyncio.sleep(0.5)
    return "GET /health 200"
