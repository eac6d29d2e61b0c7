"""Background work of the audit log: retention."""

from __future__ import annotations

import structlog

from eal import jobs
from eal.audit.retention import purge_expired_entries

log = structlog.get_logger(__name__)


@jobs.task(
    "audit.purge_expired", payload=jobs.NoPayload, scope=jobs.TaskScope.SYSTEM, concurrency=1
)
async def purge_expired(ctx: jobs.JobContext, _payload: jobs.NoPayload) -> None:
    """Delete entries past the 7-year retention (their chain links are kept)."""
    async with ctx.system_transaction() as tx:
        deleted = await purge_expired_entries(tx.conn)
    if deleted:
        log.info("audit_entries_purged", count=deleted)


jobs.schedule("audit.purge_expired", cron="17 * * * *")
