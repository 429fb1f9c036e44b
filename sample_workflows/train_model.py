"""Train a model: slow tasks (seconds each), good for pausing and resuming by hand.

    flow-tui launch sample_workflows/train_model.py
"""

from __future__ import annotations

import asyncio
import logging
import math

from flow_tui import LoopPolicy, TaskResult, Workflow

log = logging.getLogger("train")

EPOCHS = 6


def new_context() -> dict[str, object]:
    return {"epoch": 0, "loss": 1.0}


workflow = Workflow(
    name="train-model",
    context=new_context,
    concurrency=2,
    save_context=lambda ctx: {"epoch": ctx["epoch"], "loss": ctx["loss"]},
    restore_context=lambda data, ctx: ctx.update(data),
)


@workflow.task(tags=["data"])
async def download_dataset(ctx: dict) -> dict:
    for part in range(1, 4):
        log.info("downloading shard %d/3", part)
        await asyncio.sleep(1.0)
    return {"shards": 3, "rows": 120_000}


@workflow.task(tags=["data"])
async def fetch_base_weights(ctx: dict) -> str:
    await asyncio.sleep(2.0)
    return "resnet-lite-v2"


@workflow.task(dependencies=["download_dataset"], tags=["data"])
def preprocess(ctx: dict) -> dict:
    import time

    time.sleep(2.0)  # CPU-bound work runs in a worker thread
    return {"features": 64}


async def _epoch(ctx: dict) -> dict:
    await asyncio.sleep(1.5)
    ctx["epoch"] += 1
    ctx["loss"] = round(math.exp(-0.45 * ctx["epoch"]), 4)
    log.info("epoch %d: loss %.4f", ctx["epoch"], ctx["loss"])
    return {"epoch": ctx["epoch"], "loss": ctx["loss"]}


workflow.task(
    _epoch,
    name="train",
    dependencies=["preprocess", "fetch_base_weights"],
    loop=LoopPolicy(until=lambda ctx, result: ctx["epoch"] >= EPOCHS, max_iterations=EPOCHS),
    tags=["train"],
    version="2",
)


@workflow.task(dependencies=["train"], tags=["train"])
async def evaluate(ctx: dict) -> TaskResult:
    await asyncio.sleep(2.0)
    accuracy = round(0.9 - ctx["loss"] / 10, 3)
    return TaskResult("success", message=f"accuracy {accuracy}", data={"accuracy": accuracy})


@workflow.task(dependencies=["evaluate"], idempotent=False, tags=["release"])
async def publish_model(ctx: dict) -> str:
    await asyncio.sleep(1.0)
    return "model-registry://train-model/7"
