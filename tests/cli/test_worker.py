"""`eal worker` as its own process: it registers the schedules, runs jobs, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.db.engine import Database
from tests.audit.helpers import insert_aged_entry
from tests.cli.servers import EAL, cli_env, process
from tests.factories import Factory
from tests.jobs.support import enqueue_system, wait_for_status

SCHEDULED = {"audit.purge_expired", "api.purge_idempotency_keys", "webhooks.purge_finished"}


async def _exists(db: Database, entry_id: object) -> bool:
    async with db.system_transaction() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM platform_events WHERE id = :id"), {"id": entry_id}
        )
    return bool(found)


async def _schedules(db: Database) -> set[str]:
    async with db.system_transaction() as conn:
        rows = await conn.execute(text("SELECT entrypoint FROM pgqueuer_schedules"))
        return {r[0] for r in rows}


async def test_worker_process_schedules_maintenance_and_runs_its_jobs(
    factory: Factory, db: Database, database_url: URL, tmp_path: Path
) -> None:
    tenant = await factory.tenant("Worker Retention Co")
    old, _ = await insert_aged_entry(db, tenant.id, "7 years 2 days")
    young, _ = await insert_aged_entry(db, tenant.id, "7 years -2 days")

    with process([EAL, "worker"], cli_env(tmp_path, database_url), tmp_path) as worker:
        deadline = time.monotonic() + 30
        while not await _schedules(db) >= SCHEDULED:
            assert worker.popen.poll() is None, worker.stderr()
            assert time.monotonic() < deadline, "the worker did not register its schedules"
            await asyncio.sleep(0.2)
        # What the hourly schedule does when it fires: one retention job.
        job_id = await enqueue_system(db, "audit.purge_expired", dedupe_key="cli-test")
        assert job_id is not None
        await wait_for_status(db, job_id, "successful", within=30)
        assert not await _exists(db, old)
        assert worker.stop() == 0
    assert "Traceback" not in worker.stderr()
    assert worker.stdout() == ""
    assert await _exists(db, young)
