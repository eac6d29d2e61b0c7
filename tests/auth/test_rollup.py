"""Parent roll-up reads: X-EAL-Organization works only under an unexpired, covering grant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.support import assert_error, table_counts

AUDIT = "/api/v1/audit-log"
ALL_GRANTS = ["leads.read", "calls.read", "audit_log.read"]


def _future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat().replace("+00:00", "Z")


async def _family(factory, name: str):
    parent = await factory.tenant(f"{name} Parent")
    child = await factory.tenant(f"{name} Child", parent=parent.id)
    return parent, child


async def _grant(client, parent, child, scopes=ALL_GRANTS, expires_at=None):
    r = await client.post(
        f"/api/v1/organizations/{child.id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": scopes,
            "expires_at": expires_at or _future(),
        },
        headers=child.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _as(parent, org_id) -> dict[str, str]:
    return {**parent.headers, "X-EAL-Organization": str(org_id)}


async def test_parent_reads_child_audit_log_with_a_grant(client, factory):
    parent, child = await _family(factory, "Rollup")
    grant = await _grant(client, parent, child)
    r = await client.get(AUDIT, headers=_as(parent, child.id))
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    assert entries and {e["organization_id"] for e in entries} == {str(child.id)}
    assert grant["grant_id"] in {e["payload"].get("grant_id") for e in entries}
    # Without the header the parent sees its own log, not the child's.
    own = (await client.get(AUDIT, headers=parent.headers)).json()["data"]
    assert {e["organization_id"] for e in own} == {str(parent.id)}


async def test_without_a_grant_is_403(client, factory):
    parent, child = await _family(factory, "No Grant")
    r = await client.get(AUDIT, headers=_as(parent, child.id))
    error = assert_error(r, 403, "forbidden")
    assert error["details"]["required_grant"] == "audit_log.read"


async def test_expired_grant_is_403(client, factory, db):
    parent, child = await _family(factory, "Expired Grant")
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO org_grants (organization_id, parent_organization_id, scopes, "
                "expires_at) VALUES (:child, :parent, :scopes, now() - interval '1 second')"
            ),
            {"child": child.id, "parent": parent.id, "scopes": ALL_GRANTS},
        )
    assert_error(await client.get(AUDIT, headers=_as(parent, child.id)), 403, "forbidden")


async def test_grant_lacking_audit_log_read_is_403(client, factory):
    parent, child = await _family(factory, "Narrow Grant")
    await _grant(client, parent, child, scopes=["leads.read", "calls.read"])
    assert_error(await client.get(AUDIT, headers=_as(parent, child.id)), 403, "forbidden")


async def test_write_with_the_header_is_403_and_changes_nothing(client, factory, db):
    parent, child = await _family(factory, "Rollup Write")
    await _grant(client, parent, child)
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/organizations", json={"name": "Sneaky"}, headers=_as(parent, child.id)
    )
    assert_error(r, 403, "forbidden")
    r = await client.patch(
        f"/api/v1/organizations/{child.id}", json={"name": "Sneaky"}, headers=_as(parent, child.id)
    )
    assert_error(r, 403, "forbidden")
    assert await table_counts(db) == before


async def test_a_strangers_organization_is_403(client, factory):
    parent, _ = await _family(factory, "Stranger Parent")
    stranger_parent, stranger = await _family(factory, "Stranger")
    await _grant(client, stranger_parent, stranger)
    assert_error(await client.get(AUDIT, headers=_as(parent, stranger.id)), 403, "forbidden")
    assert_error(await client.get(AUDIT, headers=_as(parent, uuid.uuid4())), 403, "forbidden")


async def test_a_child_cannot_read_its_parent(client, factory):
    parent, child = await _family(factory, "Upward")
    await _grant(client, parent, child)
    assert_error(await client.get(AUDIT, headers=_as(child, parent.id)), 403, "forbidden")


async def test_endpoints_without_a_grant_resource_refuse_the_header(client, factory):
    parent, child = await _family(factory, "Me Rollup")
    await _grant(client, parent, child)
    r = await client.get("/api/v1/organizations/me", headers=_as(parent, child.id))
    assert_error(r, 403, "forbidden")


async def test_header_naming_the_callers_own_organization_is_plain_access(client, factory):
    parent, _ = await _family(factory, "Self Header")
    r = await client.get(AUDIT, headers=_as(parent, parent.id))
    assert r.status_code == 200, r.text


async def test_malformed_header_is_400(client, factory):
    parent, _ = await _family(factory, "Bad Header")
    r = await client.get(AUDIT, headers=_as(parent, "not-a-uuid"))
    error = assert_error(r, 400, "invalid_request")
    assert error["details"]["header"] == "X-EAL-Organization"


async def test_child_audit_entry_is_readable_one_by_one_under_the_grant(client, factory):
    parent, child = await _family(factory, "Single Entry")
    grant = await _grant(client, parent, child)
    entries = (await client.get(AUDIT, headers=_as(parent, child.id))).json()["data"]
    entry = next(e for e in entries if e["payload"].get("grant_id") == grant["grant_id"])
    r = await client.get(f"{AUDIT}/{entry['id']}", headers=_as(parent, child.id))
    assert r.status_code == 200, r.text
    # Without the header the same id is another tenant's entry: 404.
    assert_error(
        await client.get(f"{AUDIT}/{entry['id']}", headers=parent.headers), 404, "not_found"
    )
