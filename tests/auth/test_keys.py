"""API keys: Bearer format, 401 vs 403, the scope ladder, storage and revocation."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import text

from eal.apikeys.service import revoke_api_key
from tests.support import assert_error, audit_entries, table_counts, tenant_tx

ME = "/api/v1/organizations/me"


async def _key_row(db, key_id):
    async with db.system_transaction() as conn:
        row = (
            await conn.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": key_id})
        ).one()
        return dict(row._mapping)


async def test_missing_key_is_401(client):
    r = await client.get(ME)
    assert_error(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-key",
        "Bearer eal_prod_" + "a" * 43,
        "Token eal_live_" + "a" * 43,
    ],
)
async def test_malformed_authorization_is_401(client, header):
    r = await client.get(ME, headers={"Authorization": header})
    assert_error(r, 401, "unauthenticated")


async def test_unknown_key_is_401(client, factory):
    t = await factory.tenant("Unknown Key Co")
    forged = t.key[:-4] + ("AAAA" if not t.key.endswith("AAAA") else "BBBB")
    r = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
    assert_error(r, 401, "unauthenticated")


async def test_bearer_scheme_is_case_insensitive(client, factory):
    t = await factory.tenant("Case Co", scopes="read")
    r = await client.get(ME, headers={"Authorization": f"bearer {t.key}"})
    assert r.status_code == 200, r.text


async def test_revoked_key_is_401_and_revocation_is_audited(client, factory, db):
    t = await factory.tenant("Revoked Co")
    assert (await client.get(ME, headers=t.headers)).status_code == 200
    async with tenant_tx(db, t.id) as tx:
        revoked = await revoke_api_key(tx, t.key_id)
    assert revoked.revoked_at is not None
    r = await client.get(ME, headers=t.headers)
    assert_error(r, 401, "unauthenticated")
    [entry] = await audit_entries(db, t.id, "api_key.revoked")
    assert entry["payload"]["api_key_id"] == str(t.key_id)
    assert entry["source"] == "system"


async def test_key_creation_is_audited_without_the_secret(factory, db):
    t = await factory.tenant("Audited Key Co", scopes="read,write")
    [entry] = await audit_entries(db, t.id, "api_key.created")
    assert entry["payload"]["api_key_id"] == str(t.key_id)
    assert entry["payload"]["scopes"] == ["read", "write"]
    assert t.key not in str(entry["payload"])


async def test_key_is_stored_only_as_hash_and_prefix(factory, db):
    t = await factory.tenant("Hashed Co", environment="test")
    row = await _key_row(db, t.key_id)
    assert t.key.startswith("eal_test_")
    assert bytes(row["key_hash"]) == hashlib.sha256(t.key.encode()).digest()
    assert t.key.startswith(row["prefix"]) and len(row["prefix"]) < len(t.key) // 2
    assert row["environment"] == "test"
    stored = " ".join(str(v) for v in row.values())
    assert t.key not in stored
    async with db.system_transaction() as conn:
        dump = await conn.scalar(
            text("SELECT string_agg(t::text, ' ') FROM api_keys t WHERE id = :id"),
            {"id": t.key_id},
        )
    assert t.key not in dump


async def test_last_used_at_is_recorded(client, factory, db):
    t = await factory.tenant("Used Key Co", scopes="read")
    assert (await _key_row(db, t.key_id))["last_used_at"] is None
    r = await client.get(ME, headers=t.headers)
    assert r.status_code == 200
    used = (await _key_row(db, t.key_id))["last_used_at"]
    assert used is not None
    assert used >= (await _key_row(db, t.key_id))["created_at"]


async def test_forbidden_write_changes_nothing(client, factory, db):
    t = await factory.tenant("Read Only Co", scopes="read")
    before = await table_counts(db)
    r = await client.post("/api/v1/organizations", json={"name": "Child"}, headers=t.headers)
    assert_error(r, 403, "forbidden")
    r = await client.patch(f"/api/v1/organizations/{t.id}", json={"name": "X"}, headers=t.headers)
    assert_error(r, 403, "forbidden")
    assert await table_counts(db) == before


async def test_a_request_holding_the_key_row_does_not_block_others(client, factory, db):
    t = await factory.tenant("Busy Key Co", scopes="read")
    # Another request's transaction holds the key row (as one does while it
    # records last_used_at); this request must neither wait for it nor fail.
    async with db.system_transaction() as conn:
        await conn.execute(
            text("SELECT 1 FROM api_keys WHERE id = :id FOR UPDATE"), {"id": t.key_id}
        )
        r = await asyncio.wait_for(client.get(ME, headers=t.headers), timeout=5)
        assert r.status_code == 200, r.text
