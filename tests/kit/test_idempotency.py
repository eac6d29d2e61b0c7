"""Idempotency-Key on POST: replay, mismatch, in-flight, failures not stored, key length."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from eal.app import create_app
from eal.kit.idempotency import MAX_KEY_LENGTH, check_key, request_fingerprint
from tests.support import assert_error, audit_entries, error_fields, table_counts

ORGS = "/api/v1/organizations"


async def _children(db, parent_id) -> list[str]:
    async with db.system_transaction() as conn:
        rows = await conn.scalars(
            text("SELECT name FROM organizations WHERE parent_organization_id = :p"),
            {"p": parent_id},
        )
        return list(rows)


def test_fingerprint_depends_on_method_path_query_and_body():
    base = request_fingerprint("POST", "/a", "", b"{}")
    assert base == request_fingerprint("POST", "/a", "", b"{}")
    assert base != request_fingerprint("POST", "/b", "", b"{}")
    assert base != request_fingerprint("POST", "/a", "x=1", b"{}")
    assert base != request_fingerprint("POST", "/a", "", b'{"a":1}')
    assert base != request_fingerprint("PATCH", "/a", "", b"{}")


def test_key_length_bounds():
    assert check_key("k" * MAX_KEY_LENGTH) == "k" * MAX_KEY_LENGTH


async def test_same_key_and_body_replays_the_first_response(client, factory, db):
    parent = await factory.tenant("Replay Parent")
    headers = {**parent.headers, "Idempotency-Key": "create-west-cobb-1"}
    first = await client.post(ORGS, json={"name": "West Cobb"}, headers=headers)
    assert first.status_code == 201, first.text
    counts = await table_counts(db)
    again = await client.post(ORGS, json={"name": "West Cobb"}, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert "idempotent-replayed" not in first.headers
    assert await _children(db, parent.id) == ["West Cobb"]
    assert await table_counts(db) == counts
    assert len(await audit_entries(db, first.json()["id"], "organization.created")) == 1
    assert len(await audit_entries(db, parent.id, "organization.child_created")) == 1


async def test_keys_are_scoped_to_the_api_key(client, factory, db):
    a = await factory.tenant("Key Scope A")
    b = await factory.tenant("Key Scope B")
    for t in (a, b):
        r = await client.post(
            ORGS, json={"name": "Shared Key Child"}, headers={**t.headers, "Idempotency-Key": "k1"}
        )
        assert r.status_code == 201, r.text
        assert r.headers.get("idempotent-replayed") is None
    assert await _children(db, a.id) == ["Shared Key Child"]
    assert await _children(db, b.id) == ["Shared Key Child"]


async def test_same_key_with_a_different_body_is_409(client, factory, db):
    parent = await factory.tenant("Mismatch Parent")
    headers = {**parent.headers, "Idempotency-Key": "mismatch-1"}
    assert (await client.post(ORGS, json={"name": "One"}, headers=headers)).status_code == 201
    before = await table_counts(db)
    r = await client.post(ORGS, json={"name": "Two"}, headers=headers)
    error = assert_error(r, 409, "conflict")
    assert error["details"]["reason"] == "body_mismatch"
    assert await table_counts(db) == before
    assert await _children(db, parent.id) == ["One"]


async def test_a_request_in_flight_with_the_key_is_409(client, factory, db):
    parent = await factory.tenant("In Flight Parent")
    key = "in-flight-1"
    before = await table_counts(db)
    async with db.system_transaction() as conn:
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"{parent.key_id}:{key}"},
        )
        r = await client.post(
            ORGS, json={"name": "Racing"}, headers={**parent.headers, "Idempotency-Key": key}
        )
        error = assert_error(r, 409, "conflict")
        assert error["details"]["reason"] == "in_flight"
    assert await table_counts(db) == before
    # Once the other request is done, the key is free (nothing was stored).
    r = await client.post(
        ORGS, json={"name": "Racing"}, headers={**parent.headers, "Idempotency-Key": key}
    )
    assert r.status_code == 201, r.text
    assert r.headers.get("idempotent-replayed") is None


async def test_a_rejected_first_attempt_is_not_stored(client, factory, db):
    parent = await factory.tenant("Retry Parent")
    headers = {**parent.headers, "Idempotency-Key": "fix-and-retry"}
    before = await table_counts(db)
    assert error_fields(await client.post(ORGS, json={"name": ""}, headers=headers)) == ["name"]
    assert await table_counts(db) == before
    r = await client.post(ORGS, json={"name": "Fixed"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers.get("idempotent-replayed") is None
    replay = await client.post(ORGS, json={"name": "Fixed"}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == r.json()["id"]


async def test_a_replay_older_than_24_hours_runs_again(client, factory, db):
    parent = await factory.tenant("Stale Key Parent")
    headers = {**parent.headers, "Idempotency-Key": "stale-1"}
    first = await client.post(ORGS, json={"name": "Stale"}, headers=headers)
    assert first.status_code == 201, first.text
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                "WHERE api_key_id = :k"
            ),
            {"k": parent.key_id},
        )
    second = await client.post(ORGS, json={"name": "Stale"}, headers=headers)
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]
    assert sorted(await _children(db, parent.id)) == ["Stale", "Stale"]


async def test_key_longer_than_255_is_400(client, factory, db):
    parent = await factory.tenant("Long Key Parent")
    before = await table_counts(db)
    for bad in ("k" * (MAX_KEY_LENGTH + 1), ""):
        r = await client.post(
            ORGS, json={"name": "Long"}, headers={**parent.headers, "Idempotency-Key": bad}
        )
        error = assert_error(r, 400, "invalid_request")
        assert error["details"]["header"] == "Idempotency-Key"
    assert await table_counts(db) == before
    r = await client.post(
        ORGS,
        json={"name": "Longest"},
        headers={**parent.headers, "Idempotency-Key": "k" * MAX_KEY_LENGTH},
    )
    assert r.status_code == 201, r.text


async def test_stored_responses_do_not_hold_secrets_in_clear(client, factory, db):
    parent = await factory.tenant("Secret Replay Parent")
    headers = {**parent.headers, "Idempotency-Key": "secret-1"}
    r = await client.post(ORGS, json={"name": "Secret Child"}, headers=headers)
    assert r.status_code == 201, r.text
    token = r.json()["invite_url"].rsplit("/", 1)[-1]
    async with db.system_transaction() as conn:
        stored = await conn.scalar(
            text("SELECT response_body FROM idempotency_keys WHERE api_key_id = :k"),
            {"k": parent.key_id},
        )
    assert stored is not None
    assert token.encode() not in bytes(stored)
    replay = await client.post(ORGS, json={"name": "Secret Child"}, headers=headers)
    assert replay.json()["invite_url"] == r.json()["invite_url"]


async def test_a_response_sealed_under_another_secret_key_is_not_rerun(
    client, factory, db, settings
):
    parent = await factory.tenant("Rotated Secret Parent")
    headers = {**parent.headers, "Idempotency-Key": "rotated-1"}
    assert (await client.post(ORGS, json={"name": "Once"}, headers=headers)).status_code == 201
    other = create_app(settings.model_copy(update={"secret_key": "another-secret-key"}))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.post(ORGS, json={"name": "Once"}, headers=headers)
    error = assert_error(r, 409, "conflict")
    assert error["details"]["reason"] == "unreadable"
    assert await _children(db, parent.id) == ["Once"]


def test_fingerprint_counts_json_by_content_not_bytes():
    compact = request_fingerprint("POST", "/a", "", b'{"name":"X","industry":"mold"}')
    spaced = request_fingerprint("POST", "/a", "", b'{ "industry": "mold",\n  "name": "X" }')
    assert compact == spaced
    assert compact != request_fingerprint("POST", "/a", "", b'{"name":"Y","industry":"mold"}')


async def test_a_reserialised_retry_is_replayed_not_refused(client, factory, db):
    parent = await factory.tenant("Reserialised Parent")
    headers = {
        **parent.headers,
        "Idempotency-Key": "reserialised-1",
        "Content-Type": "application/json",
    }
    first = await client.post(
        ORGS, content=b'{"name":"Marietta","industry":"mold"}', headers=headers
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        ORGS, content=b'{ "industry": "mold", "name": "Marietta" }', headers=headers
    )
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await _children(db, parent.id) == ["Marietta"]
