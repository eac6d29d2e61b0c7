"""Background work of the HTTP layer: forgetting idempotent responses past their window."""

from __future__ import annotations

import structlog

from eal import jobs
from eal.kit.idempotency import purge_expired

log = structlog.get_logger(__name__)


@jobs.task(
    "api.purge_idempotency_keys",
    payload=jobs.NoPayload,
    scope=jobs.TaskScope.SYSTEM,
    concurrency=1,
)
async def purge_idempotency_keys(ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
    """Delete stored responses older than the 24-hour replay window."""
    async with ctx.system_transaction() as tx:
        deleted = await purge_expired(tx.conn, now=tx.clock.now())
    if deleted:
        log.info("idempotency_keys_purged", count=deleted)


jobs.schedule("api.purge_idempotency_keys", cron="23 * * * *")
