"""Running the job worker in tests, deferring jobs, and reading the queue."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pydantic import BaseModel
from sqlalchemy import text

from eal import jobs
from eal.db.engine import Database, driver_connection
from eal.jobs.queue import Envelope, enqueue
from eal.jobs.registry import RetryPolicy, TaskDef, TaskScope
from eal.jobs.worker import JobWorker
from eal.runtime import Runtime
from tests.support import tenant_tx


def task_def(
    name: str,
    fn: Callable[[jobs.JobContext, Any], Awaitable[None]],
    *,
    payload: type[BaseModel] = jobs.NoPayload,
    scope: TaskScope = TaskScope.TENANT,
    concurrency: int = 0,
    retry: RetryPolicy | None = None,
) -> TaskDef[Any]:
    """A task for one test (not in the global registry, so names never clash across tests)."""
    return TaskDef(
        name=name,
        fn=fn,
        payload=payload,
        scope=scope,
        concurrency=concurrency,
        retry=retry or RetryPolicy(),
    )


def unique_name(prefix: str) -> str:
    """A task name no other test uses (leftover jobs of other tests are never picked)."""
    return f"tests.{prefix}_{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def job_worker(
    runtime: Runtime,
    tasks: Iterable[TaskDef[Any]],
    *,
    heartbeat: timedelta = timedelta(seconds=5),
    retry_scale: float = 0.0,
    concurrency: int | None = None,
) -> AsyncIterator[JobWorker]:
    """A job worker for `tasks` running in this event loop until the block ends."""
    worker = JobWorker(
        runtime,
        tasks=list(tasks),
        schedules=[],
        heartbeat=heartbeat,
        retry_scale=retry_scale,
        concurrency=concurrency,
        dequeue_timeout=timedelta(seconds=1),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.ready.wait(), 20)
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)


async def defer_for(
    db: Database,
    organization_id: uuid.UUID,
    task: str,
    payload: BaseModel | dict[str, Any] | None = None,
    **options: Any,
) -> int | None:
    """Defer a job for the tenant in a committed transaction of its own."""
    async with tenant_tx(db, organization_id) as tx:
        return await jobs.defer(tx, task, payload, **options)


async def job_history(db: Database, job_id: int) -> list[str]:
    """The statuses PgQueuer logged for one job, oldest first."""
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text("SELECT status::text FROM pgqueuer_log WHERE job_id = :id ORDER BY id"),
            {"id": job_id},
        )
        return [r[0] for r in rows]


async def job_row(db: Database, job_id: int) -> Any:
    """The job's row in the queue table (None once it finished and left it)."""
    async with db.system_transaction() as conn:
        return (
            await conn.execute(text("SELECT * FROM pgqueuer WHERE id = :id"), {"id": job_id})
        ).first()


async def wait_for_status(
    db: Database, job_id: int, status: str, *, within: float = 20.0
) -> list[str]:
    """Wait until the job's log reaches `status`; returns its whole history."""
    deadline = time.monotonic() + within
    while True:
        history = await job_history(db, job_id)
        if status in history:
            return history
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never reached {status!r}: {history}")
        await asyncio.sleep(0.05)


async def enqueue_system(db: Database, task: str, *, dedupe_key: str | None = None) -> int | None:
    """Queue a system job (no tenant) as a schedule would, committed."""
    async with db.system_transaction() as conn:
        queries = Queries(AsyncpgDriver(await driver_connection(conn)))
        return await enqueue(queries, task, Envelope(), dedupe_key=dedupe_key)


async def drop_earlier_jobs(db: Database) -> None:
    """Remove the jobs earlier tests queued and never ran.

    The queue table lives for the whole run, and a test's worker takes every due job of its
    tasks, any tenant's: late in a long run it would first work through the backlog of
    every earlier test that queued, say, a classification without running a worker.
    """
    async with db.system_transaction() as conn:
        await conn.execute(text("DELETE FROM pgqueuer"))
