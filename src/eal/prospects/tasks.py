"""Background work of prospects: batch qualification, one job per batch.

Each prospect is read and scored in one transaction, phrased by the LLM (when
one is configured) outside any, and stored with its batch result in another,
so progress shows while the batch runs and a retried job goes on from the
first prospect without a result.
"""

from __future__ import annotations

from typing import Any

from eal import jobs
from eal.prospects import qualify, repository
from eal.prospects.service import QUALIFY_BATCH_TASK, QualifyBatch

QUALIFY_RETRY = jobs.RetryPolicy(max_attempts=5)


async def qualify_batch(ctx: jobs.JobContext, payload: QualifyBatch) -> None:
    """Qualify every prospect of the batch that has no result yet."""
    async with ctx.transaction() as tx:
        batch = await repository.get_batch(tx.conn, ctx.organization_id, payload.batch_id)
        if batch is None or batch.status == "completed":
            return
        pending = [p for p in batch.prospect_ids if str(p) not in batch.results]
    for index, prospect_id in enumerate(pending):
        last = index == len(pending) - 1
        async with ctx.transaction() as tx:
            row = await repository.get(tx.conn, ctx.organization_id, prospect_id)
            assessment = await qualify.assess(tx, row) if row is not None else None
        if assessment is not None:
            assessment = await qualify.phrase(ctx.runtime, assessment)
        async with ctx.transaction() as tx:
            result: dict[str, Any]
            current = await repository.get(tx.conn, ctx.organization_id, prospect_id, lock=True)
            if assessment is None or current is None:
                result = {"status": "not_found", "error": "no such prospect in this organization"}
            else:
                verdict = await qualify.store(tx, assessment)
                result = {"status": "qualified", "result": verdict.model_dump(mode="json")}
            await repository.add_batch_results(
                tx.conn,
                ctx.organization_id,
                payload.batch_id,
                {str(prospect_id): result},
                now=tx.now(),
                finished=last,
            )
    if not pending:
        async with ctx.transaction() as tx:
            await repository.add_batch_results(
                tx.conn, ctx.organization_id, payload.batch_id, {}, now=tx.now(), finished=True
            )


jobs.task(QUALIFY_BATCH_TASK, payload=QualifyBatch, retry=QUALIFY_RETRY)(qualify_batch)

__all__ = ["qualify_batch"]
