"""Nightly ETL: extract from three sources, transform each (one is flaky), load, report.

    flow-tui launch sample_workflows/nightly_etl.py
"""

from __future__ import annotations

import asyncio
import logging
import random

from flow_tui import RetryPolicy, TaskResult, TaskStatus, Workflow

log = logging.getLogger("nightly_etl")

SOURCES = ["orders", "customers", "inventory"]


def new_context() -> dict[str, object]:
    return {"rows": {}, "flaky_calls": 0}


workflow = Workflow(
    name="nightly-etl",
    context=new_context,
    concurrency=4,
    description="Extract three sources, transform them (one flaky), load and report.",
    save_context=lambda ctx: {"rows": ctx["rows"]},
    restore_context=lambda data, ctx: ctx["rows"].update(data.get("rows", {})),
)


def _extract(source: str):  # noqa: ANN202 - a factory of task bodies
    async def extract(ctx: dict) -> dict:
        log.info("extracting %s", source)
        await asyncio.sleep(0.3 + random.random() * 0.3)
        rows = [{"id": i, "source": source} for i in range(100)]
        ctx["rows"][source] = len(rows)
        log.info("extracted %d rows from %s", len(rows), source)
        return {"rows": len(rows)}

    return extract


def _transform(source: str):  # noqa: ANN202
    async def transform(ctx: dict) -> TaskResult:
        await asyncio.sleep(0.4)
        if source == "inventory":
            # The flaky upstream API: the first call of a run times out, the retry works.
            ctx["flaky_calls"] += 1
            if ctx["flaky_calls"] == 1:
                log.warning("inventory API timed out, will retry")
                raise ConnectionError("inventory API timed out")
        count = ctx["rows"].get(source, 0)
        return TaskResult(TaskStatus.SUCCESS, message=f"{count} rows cleaned", data=count)

    return transform


for source in SOURCES:
    workflow.task(_extract(source), name=f"extract_{source}", tags=["extract"])
    workflow.task(
        _transform(source),
        name=f"transform_{source}",
        dependencies=[f"extract_{source}"],
        retry=RetryPolicy(attempts=3, delay=0.5, backoff="exponential"),
        tags=["transform"],
    )


@workflow.task(dependencies=[f"transform_{s}" for s in SOURCES], tags=["load"])
async def load_warehouse(ctx: dict) -> str:
    log.info("loading %s rows into the warehouse", sum(ctx["rows"].values()))
    await asyncio.sleep(0.8)
    return "warehouse.nightly updated"


@workflow.task(dependencies=["load_warehouse"], tags=["load"])
def build_report(ctx: dict) -> dict:
    # A sync task: it runs in a worker thread.
    total = sum(ctx["rows"].values())
    return {"total_rows": total, "sources": sorted(ctx["rows"])}
