"""Background work of the webhooks domain: purging finished deliveries."""

from __future__ import annotations

import structlog

from eal import jobs
from eal.webhooks.recording import PURGE_BATCH, purge_finished

log = structlog.get_logger(__name__)


@jobs.task(
    "webhooks.purge_finished", payload=jobs.NoPayload, scope=jobs.TaskScope.SYSTEM, concurrency=1
)
async def purge_finished_deliveries(ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
    """Delete finished deliveries (and their attempts) past their 30 days, in batches."""
    total = 0
    while True:
        async with ctx.system_transaction() as tx:
            removed = await purge_finished(tx.conn, now=tx.clock.now())
        total += removed
        if removed < PURGE_BATCH:
            break
    if total:
        log.info("webhook_deliveries_purged", count=total)


jobs.schedule("webhooks.purge_finished", cron="29 * * * *")
