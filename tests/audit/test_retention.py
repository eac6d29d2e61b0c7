"""Retention: entries older than 7 years are purged by the worker (and `eal audit purge`)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from eal.audit.chain import verify_chains
from eal.db.engine import Database
from eal.worker.periodic import PERIODIC_JOBS, run_job
from eal.worker.runner import run_periodic
from tests.audit.helpers import bare_organization, chain_rows, insert_aged_entry
from tests.cli.servers import cli_env, run_eal_json
from tests.factories import Factory

OLD = "7 years 1 day"
YOUNG = "7 years -1 day"
RETENTION_JOB = next(job for job in PERIODIC_JOBS if job.name == "audit_retention")


async def _ids(db: Database, org: uuid.UUID) -> set[uuid.UUID]:
    return {r.id for r in await chain_rows(db, org)}


async def _chain_ok(db: Database, org: uuid.UUID) -> bool:
    async with db.snapshot_transaction() as conn:
        return (await verify_chains(conn, org)).ok


async def test_the_worker_loop_purges_only_expired_entries(
    app: Any, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Retention Co")
    old, _ = await insert_aged_entry(db, tenant.id, OLD)
    young, _ = await insert_aged_entry(db, tenant.id, YOUNG)
    assert {old, young} <= await _ids(db, tenant.id)

    stop = asyncio.Event()
    loop = asyncio.create_task(run_periodic(app.state.eal, stop, tick=0.05))
    try:
        for _ in range(100):
            if old not in await _ids(db, tenant.id):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await loop

    remaining = await _ids(db, tenant.id)
    assert old not in remaining
    assert young in remaining
    assert len(remaining) == 3  # organization.created, api_key.created, the young entry
    # The purged entry leaves its link behind, so the chain still verifies.
    assert await _chain_ok(db, tenant.id)


async def test_the_job_reports_how_many_it_purged(db: Database, factory: Factory) -> None:
    tenant = await factory.tenant("Retention Count Co")
    for _ in range(3):
        await insert_aged_entry(db, tenant.id, OLD)
    async with db.system_transaction() as conn:
        purged = await run_job(conn, RETENTION_JOB)
    assert purged is not None and purged >= 3
    assert len(await _ids(db, tenant.id)) == 2
    async with db.system_transaction() as conn:
        assert await run_job(conn, RETENTION_JOB) == 0


async def test_the_job_runs_in_one_worker_at_a_time(db: Database, factory: Factory) -> None:
    tenant = await factory.tenant("Retention Lock Co")
    old, _ = await insert_aged_entry(db, tenant.id, OLD)
    async with db.system_transaction() as holder:
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": RETENTION_JOB.lock_id}
        )
        async with db.system_transaction() as conn:
            assert await run_job(conn, RETENTION_JOB) is None
    assert old in await _ids(db, tenant.id)


async def test_a_purged_prefix_folds_into_the_chain_anchor(db: Database) -> None:
    org = await bare_organization(db)
    for _ in range(3):
        await insert_aged_entry(db, org, OLD)  # seq 1..3
    young, _ = await insert_aged_entry(db, org, YOUNG)  # seq 4
    async with db.system_transaction() as conn:
        await run_job(conn, RETENTION_JOB)

    async with db.system_transaction() as conn:
        head = (
            await conn.execute(
                text("SELECT * FROM audit_chain_heads WHERE organization_id = :org"), {"org": org}
            )
        ).one()
        links = await conn.scalar(
            text("SELECT count(*) FROM audit_chain_purged WHERE organization_id = :org"),
            {"org": org},
        )
    [kept] = await chain_rows(db, org)
    assert kept.id == young
    assert (head.anchor_seq, bytes(head.anchor_hash)) == (3, bytes(kept.prev_hash))
    assert (head.last_seq, links) == (4, 0)
    assert await _chain_ok(db, org)

    # The chain goes on from its head, and the anchor still guards its start.
    await insert_aged_entry(db, org, "1 second")
    assert [r.seq for r in await chain_rows(db, org)] == [4, 5]
    assert await _chain_ok(db, org)


async def test_purging_the_newest_entry_keeps_the_chain_going(db: Database) -> None:
    org = await bare_organization(db)
    young, _ = await insert_aged_entry(db, org, YOUNG)  # seq 1
    await insert_aged_entry(db, org, OLD)  # seq 2, backdated: the newest link
    async with db.system_transaction() as conn:
        await run_job(conn, RETENTION_JOB)
    assert await _ids(db, org) == {young}
    assert await _chain_ok(db, org)

    await insert_aged_entry(db, org, "1 second")
    assert [r.seq for r in await chain_rows(db, org)] == [1, 3]
    assert await _chain_ok(db, org), "the purged link bridges seq 1 to seq 3"


async def test_young_entries_cannot_be_deleted_even_by_the_owner(
    db: Database, factory: Factory
) -> None:
    tenant = await factory.tenant("Immutable Co")
    young, _ = await insert_aged_entry(db, tenant.id, YOUNG)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.system_transaction() as conn:
            await conn.execute(text("DELETE FROM platform_events WHERE id = :id"), {"id": young})
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.system_transaction() as conn:
            await conn.execute(
                text("UPDATE platform_events SET action = 'x' WHERE id = :id"), {"id": young}
            )
    assert young in await _ids(db, tenant.id)


async def test_cli_purge(db: Database, factory: Factory, database_url: URL, tmp_path: Path) -> None:
    tenant = await factory.tenant("CLI Purge Co")
    old, _ = await insert_aged_entry(db, tenant.id, OLD)
    young, _ = await insert_aged_entry(db, tenant.id, YOUNG)

    out = run_eal_json(["audit", "purge"], cli_env(tmp_path, database_url), tmp_path)
    assert out["deleted"] >= 1
    remaining = await _ids(db, tenant.id)
    assert old not in remaining
    assert young in remaining
    again = run_eal_json(["audit", "purge"], cli_env(tmp_path, database_url), tmp_path)
    assert again == {"deleted": 0}
