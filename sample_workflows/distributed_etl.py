"""A workflow that runs unchanged on the local executor and on a Dask cluster.

    flow-tui launch sample_workflows/distributed_etl.py                     # local
    flow-tui launch sample_workflows/distributed_etl.py --executor dask     # LocalCluster
    flow-tui launch sample_workflows/distributed_etl.py --dask-address tcp://10.0.0.5:8786

Data flows between tasks as results, read with `upstream(name)`: a body on a Dask worker
gets a copy of the context, and what it changes there stays there. `report` is
`local=True`: it runs in the flow-tui process and may write to the shared context.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

from flow_tui import RetryPolicy, Workflow, upstream

log = logging.getLogger("distributed_etl")

workflow = Workflow(
    name="distributed-etl",
    context=dict,
    concurrency=4,
    description="extract, four CPU-bound shards, merge, report: local or on Dask",
)

SHARDS = 4


@workflow.task
async def extract(ctx: dict[str, Any]) -> list[int]:
    log.info("extracting on pid %d", os.getpid())
    return list(range(2_000))


def _digest_shard(rows: list[int], shard: int) -> str:
    """Pure-Python CPU work: a parallel step on a cluster, one at a time in threads."""
    h = hashlib.sha256()
    for row in rows[shard::SHARDS]:
        for _ in range(20):
            h.update(row.to_bytes(8, "little"))
    return h.hexdigest()


def _shard_body(shard: int) -> Any:
    def transform(ctx: dict[str, Any]) -> dict[str, Any]:
        rows = upstream("extract")
        print(f"shard {shard}: {len(rows[shard::SHARDS])} rows on pid {os.getpid()}")
        return {"shard": shard, "digest": _digest_shard(rows, shard)}

    transform.__name__ = f"transform_{shard}"
    return transform


for _shard in range(SHARDS):
    workflow.task(
        _shard_body(_shard),
        name=f"transform_{_shard}",
        dependencies=["extract"],
        retry=RetryPolicy(attempts=2, delay=0.5, backoff="exponential"),
    )


@workflow.task(dependencies=[f"transform_{i}" for i in range(SHARDS)])
def merge(ctx: dict[str, Any]) -> str:
    digests = [upstream(f"transform_{i}")["digest"] for i in range(SHARDS)]
    return hashlib.sha256("".join(digests).encode()).hexdigest()


@workflow.task(dependencies=["merge"], local=True)
def report(ctx: dict[str, Any]) -> str:
    ctx["merged"] = upstream("merge")  # local=True: this change is the run's context
    return f"merged digest {ctx['merged'][:12]}"
