"""`eal worker` as its own process: it runs the periodic jobs and stops cleanly on SIGTERM."""

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


async def _exists(db: Database, entry_id: object) -> bool:
    async with db.system_transaction() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM platform_events WHERE id = :id"), {"id": entry_id}
        )
    return bool(found)


async def test_worker_process_purges_expired_audit_entries(
    factory: Factory, db: Database, database_url: URL, tmp_path: Path
) -> None:
    tenant = await factory.tenant("Worker Retention Co")
    old, _ = await insert_aged_entry(db, tenant.id, "7 years 2 days")
    young, _ = await insert_aged_entry(db, tenant.id, "7 years -2 days")

    with process([EAL, "worker"], cli_env(tmp_path, database_url), tmp_path) as worker:
        deadline = time.monotonic() + 30
        while await _exists(db, old):
            assert worker.popen.poll() is None, worker.stderr()
            assert time.monotonic() < deadline, "the worker did not purge the expired entry"
            await asyncio.sleep(0.2)
        assert worker.stop() == 0
    assert "Traceback" not in worker.stderr()
    assert worker.stdout() == ""
    assert await _exists(db, young)
