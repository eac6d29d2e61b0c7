"""Periodic maintenance jobs, run by any worker; an advisory lock lets one run at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.audit.retention import purge_expired_entries
from eal.kit.idempotency import purge_expired

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A maintenance job and how often it runs."""

    name: str
    every_seconds: float
    run: Callable[[AsyncConnection], Awaitable[int]]
    lock_id: int


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("audit_retention", 3600, purge_expired_entries, 7_402_113_101),
    PeriodicJob("idempotency_purge", 3600, purge_expired, 7_402_113_102),
]


async def run_job(conn: AsyncConnection, job: PeriodicJob) -> int | None:
    """Run one job if no other worker is running it; returns rows affected or None if skipped."""
    got = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": job.lock_id})
    if not got:
        return None
    affected = await job.run(conn)
    if affected:
        log.info("periodic_job_done", job=job.name, affected=affected)
    return affected
