"""The per-organization SHA-256 hash chain and its verifier (function and `eal audit verify`)."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL

from eal.audit.chain import ChainReport, verify_chains
from eal.db.engine import Database
from tests.audit.helpers import (
    bare_organization,
    chain_rows,
    record_in_one_transaction,
    tampering,
)
from tests.cli.servers import cli_env, run_eal
from tests.factories import Factory

ZERO = bytes(32)


async def _verify(db: Database, org: uuid.UUID | None = None) -> ChainReport:
    async with db.snapshot_transaction() as conn:
        return await verify_chains(conn, org)


def _cli_verify(database_url: URL, tmp_path: Path, org: uuid.UUID) -> tuple[int, dict]:
    result = run_eal(
        ["audit", "verify", "--org", str(org)], cli_env(tmp_path, database_url), tmp_path
    )
    assert result.stdout.count("\n") == 1, result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


async def test_each_hash_is_sha256_of_the_predecessor_and_the_content(
    factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Linked Co")
    await record_in_one_transaction(db, tenant.id, 3)
    async with db.system_transaction() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, organization_id, seq, action, source, correlation_id, "
                    "payload::text AS payload_text, created_at, prev_hash, hash "
                    "FROM platform_events WHERE organization_id = :org ORDER BY seq"
                ),
                {"org": tenant.id},
            )
        ).all()

    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert bytes(rows[0].prev_hash) == ZERO
    for before, after in itertools.pairwise(rows):
        assert bytes(after.prev_hash) == bytes(before.hash)
    for r in rows:
        micros = (r.created_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        content = "|".join(
            [
                str(r.id),
                str(r.organization_id),
                str(r.seq),
                r.action,
                r.source,
                r.correlation_id or "",
                r.payload_text,
                str(micros),
            ]
        )
        expected = hashlib.sha256(bytes(r.prev_hash) + content.encode()).digest()
        assert bytes(r.hash) == expected


async def test_a_clean_chain_verifies(
    factory: Factory, db: Database, database_url: URL, tmp_path: Path
) -> None:
    tenant = await factory.tenant("Clean Chain Co")
    await record_in_one_transaction(db, tenant.id, 4)

    report = await _verify(db, tenant.id)
    assert report.ok
    assert (report.organizations, report.entries, report.broken) == (1, 6, [])

    code, out = _cli_verify(database_url, tmp_path, tenant.id)
    assert code == 0
    assert out == {"ok": True, "organizations": 1, "entries": 6, "broken": []}


async def test_an_altered_entry_is_the_first_broken_link(
    factory: Factory, db: Database, database_url: URL, tmp_path: Path
) -> None:
    tenant = await factory.tenant("Altered Co")
    await record_in_one_transaction(db, tenant.id, 5)
    victim = (await chain_rows(db, tenant.id))[3]  # seq 4
    async with tampering(db) as conn:
        await conn.execute(
            text("UPDATE platform_events SET payload = payload || '{\"n\": 99}' WHERE id = :id"),
            {"id": victim.id},
        )

    report = await _verify(db, tenant.id)
    assert not report.ok
    [link] = report.broken
    assert (link.organization_id, link.entry_id, link.seq) == (tenant.id, victim.id, 4)
    assert "altered" in link.reason

    code, out = _cli_verify(database_url, tmp_path, tenant.id)
    assert code == 1
    assert out["ok"] is False
    assert out["broken"] == [
        {
            "organization_id": str(tenant.id),
            "entry_id": str(victim.id),
            "seq": 4,
            "reason": link.reason,
        }
    ]

    # Putting the original content back makes the chain whole again.
    async with tampering(db) as conn:
        await conn.execute(
            text("UPDATE platform_events SET payload = CAST(:p AS jsonb) WHERE id = :id"),
            {"id": victim.id, "p": json.dumps(victim.payload)},
        )
    assert (await _verify(db, tenant.id)).ok


async def _delete(db: Database, org: uuid.UUID, seq: int) -> Any:
    """Delete the entry at `seq` behind the triggers' back; returns the row as it was."""
    async with tampering(db) as conn:
        return (
            await conn.execute(
                text(
                    "DELETE FROM platform_events WHERE organization_id = :org AND seq = :seq "
                    "RETURNING *"
                ),
                {"org": org, "seq": seq},
            )
        ).one()


async def _restore(db: Database, saved: Any) -> None:
    """Put a deleted entry back verbatim (same seq and hashes)."""
    async with tampering(db) as conn:
        await conn.execute(
            text(
                "INSERT INTO platform_events (id, organization_id, seq, action, source, "
                "correlation_id, payload, created_at, prev_hash, hash) VALUES (:id, "
                ":organization_id, :seq, :action, :source, :correlation_id, "
                "CAST(:payload AS jsonb), :created_at, :prev_hash, :hash)"
            ),
            {**saved._asdict(), "payload": json.dumps(saved.payload)},
        )


async def test_a_deleted_middle_entry_is_reported_as_missing(
    factory: Factory, db: Database, database_url: URL, tmp_path: Path
) -> None:
    tenant = await factory.tenant("Gap Co")
    await record_in_one_transaction(db, tenant.id, 5)
    rows = await chain_rows(db, tenant.id)
    saved = await _delete(db, tenant.id, 3)

    report = await _verify(db, tenant.id)
    [link] = report.broken
    assert (link.entry_id, link.seq) == (rows[3].id, 4)
    assert "seq 3 is missing" in link.reason
    code, out = _cli_verify(database_url, tmp_path, tenant.id)
    assert code == 1
    assert out["broken"][0]["seq"] == 4
    assert out["broken"][0]["entry_id"] == str(rows[3].id)

    # A chain with a gap stays broken after later appends (they link to the head, not the gap).
    await record_in_one_transaction(db, tenant.id, 1)
    assert (await _verify(db, tenant.id)).broken[0].seq == 4
    await _restore(db, saved)
    assert (await _verify(db, tenant.id)).ok


async def test_deleting_the_first_or_last_entry_is_detected(factory: Factory, db: Database) -> None:
    tenant = await factory.tenant("Ends Co")
    await record_in_one_transaction(db, tenant.id, 3)

    rows = await chain_rows(db, tenant.id)
    for seq, reported_at in ((1, 2), (5, 4)):
        saved = await _delete(db, tenant.id, seq)
        [link] = (await _verify(db, tenant.id)).broken
        assert (link.entry_id, link.seq) == (rows[reported_at - 1].id, reported_at)
        assert f"seq {seq} is missing" in link.reason
        await _restore(db, saved)
    assert (await _verify(db, tenant.id)).ok, "restoring the deleted entries heals the chain"


async def test_concurrent_appends_form_one_contiguous_chain(factory: Factory, db: Database) -> None:
    tenant = await factory.tenant("Busy Co")
    await asyncio.gather(*(record_in_one_transaction(db, tenant.id, 3) for _ in range(20)))

    rows = await chain_rows(db, tenant.id)
    assert [r.seq for r in rows] == list(range(1, 2 + 60 + 1))
    report = await _verify(db, tenant.id)
    assert report.ok, report.broken
    assert report.entries == 62


async def test_concurrent_first_appends_of_a_new_chain(db: Database) -> None:
    org = await bare_organization(db)
    await asyncio.gather(*(record_in_one_transaction(db, org, 2) for _ in range(20)))

    assert [r.seq for r in await chain_rows(db, org)] == list(range(1, 41))
    assert (await _verify(db, org)).ok


async def test_a_bulk_insert_in_one_statement_is_chained(db: Database) -> None:
    org = await bare_organization(db)
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO platform_events (organization_id, action, source, payload, seq, "
                "prev_hash, hash) SELECT :org, 'bulk.row', 'system', jsonb_build_object('n', g), "
                "0, ''::bytea, ''::bytea FROM generate_series(1, 500) AS g"
            ),
            {"org": org},
        )
    await record_in_one_transaction(db, org, 1)

    rows = await chain_rows(db, org)
    assert [r.seq for r in rows] == list(range(1, 502))
    report = await _verify(db, org)
    assert (report.ok, report.entries) == (True, 501)


async def test_verifying_every_organization(factory: Factory, db: Database) -> None:
    tenant = await factory.tenant("Everyone Co")
    report = await _verify(db)
    async with db.system_transaction() as conn:
        orgs = await conn.scalar(text("SELECT count(*) FROM organizations"))
        entries = await conn.scalar(text("SELECT count(*) FROM platform_events"))
    assert report.organizations == orgs
    assert report.entries == entries
    assert tenant.id not in {b.organization_id for b in report.broken}


async def test_cli_refuses_an_unknown_organization(database_url: URL, tmp_path: Path) -> None:
    env = cli_env(tmp_path, database_url)
    result = run_eal(["audit", "verify", "--org", str(uuid.uuid4())], env, tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert result.stdout == ""
    malformed = run_eal(["audit", "verify", "--org", "nope"], env, tmp_path)
    assert malformed.returncode == 2
    assert "UUID" in malformed.stderr
