"""Retention: entries older than 7 years are purged by a scheduled job (and `eal audit purge`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from eal.audit.chain import verify_chains
from eal.audit.retention import purge_expired_entries
from eal.audit.tasks import purge_expired
from eal.db.engine import Database
from eal.jobs.registry import TASKS
from eal.runtime import Runtime
from tests.audit.helpers import bare_organization, chain_rows, insert_aged_entry
from tests.cli.servers import cli_env, run_eal_json
from tests.factories import Factory
from tests.jobs.support import enqueue_system, job_worker, wait_for_status

OLD = "7 years 1 day"
YOUNG = "7 years -1 day"


async def _ids(db: Database, org: uuid.UUID) -> set[uuid.UUID]:
    return {r.id for r in await chain_rows(db, org)}


async def _chain_ok(db: Database, org: uuid.UUID) -> bool:
    async with db.snapshot_transaction() as conn:
        return (await verify_chains(conn, org)).ok


async def test_the_retention_job_purges_only_expired_entries(
    runtime: Runtime, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Retention Co")
    old, _ = await insert_aged_entry(db, tenant.id, OLD)
    young, _ = await insert_aged_entry(db, tenant.id, YOUNG)
    assert {old, young} <= await _ids(db, tenant.id)

    definition = TASKS["audit.purge_expired"]
    assert definition.fn is purge_expired
    job_id = await enqueue_system(db, definition.name, dedupe_key="test")
    assert job_id is not None
    async with job_worker(runtime, [definition]):
        await wait_for_status(db, job_id, "successful")

    remaining = await _ids(db, tenant.id)
    assert old not in remaining
    assert young in remaining
    assert len(remaining) == 3  # organization.created, api_key.created, the young entry
    # The purged entry leaves its link behind, so the chain still verifies.
    assert await _chain_ok(db, tenant.id)


async def test_the_purge_reports_how_many_it_removed(db: Database, factory: Factory) -> None:
    tenant = await factory.tenant("Retention Count Co")
    for _ in range(3):
        await insert_aged_entry(db, tenant.id, OLD)
    async with db.system_transaction() as conn:
        purged = await purge_expired_entries(conn)
    assert purged >= 3
    assert len(await _ids(db, tenant.id)) == 2
    async with db.system_transaction() as conn:
        assert await purge_expired_entries(conn) == 0


async def test_a_purged_prefix_folds_into_the_chain_anchor(db: Database) -> None:
    org = await bare_organization(db)
    for _ in range(3):
        await insert_aged_entry(db, org, OLD)  # seq 1..3
    young, _ = await insert_aged_entry(db, org, YOUNG)  # seq 4
    async with db.system_transaction() as conn:
        await purge_expired_entries(conn)

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
        await purge_expired_entries(conn)
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
