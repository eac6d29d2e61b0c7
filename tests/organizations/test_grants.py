"""POST /organizations/{id}/grants: a child grants its own parent read scopes until a date."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import assert_error, audit_entries, error_fields, table_counts

ORGS = "/api/v1/organizations"


def _when(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat().replace("+00:00", "Z")


async def _family(factory, name: str):
    parent = await factory.tenant(f"{name} Parent")
    child = await factory.tenant(f"{name} Child", parent=parent.id)
    return parent, child


def _body(parent_id, scopes=("leads.read", "audit_log.read"), expires_at=None):
    return {
        "parent_organization_id": str(parent_id),
        "scopes": list(scopes),
        "expires_at": expires_at or _when(365),
    }


async def test_child_grants_its_parent_and_it_is_audited(client, factory, db):
    parent, child = await _family(factory, "Granting")
    expires = "2099-04-27T00:00:00.000Z"
    r = await client.post(
        f"{ORGS}/{child.id}/grants",
        json=_body(parent.id, expires_at=expires),
        headers={**child.headers, "X-Request-ID": "corr_grant"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["parent_organization_id"] == str(parent.id)
    assert body["scopes"] == ["leads.read", "audit_log.read"]
    assert body["expires_at"] == expires
    assert body["created_at"].endswith("Z")
    uuid.UUID(body["grant_id"])
    [entry] = await audit_entries(db, child.id, "grant.created")
    assert entry["payload"]["grant_id"] == body["grant_id"]
    assert entry["payload"]["parent_organization_id"] == str(parent.id)
    assert entry["payload"]["scopes"] == ["leads.read", "audit_log.read"]
    assert entry["payload"]["key_id"] == str(child.key_id)
    assert entry["correlation_id"] == "corr_grant"
    listed = (await client.get(ORGS, headers=parent.headers)).json()["data"]
    assert [c["grants"] for c in listed] == [["audit_log.read", "leads.read"]]


async def test_expires_at_with_an_offset_is_normalised_to_utc(client, factory, db):
    parent, child = await _family(factory, "Offset")
    r = await client.post(
        f"{ORGS}/{child.id}/grants",
        json=_body(parent.id, expires_at="2099-01-01T05:00:00-05:00"),
        headers=child.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"] == "2099-01-01T10:00:00.000Z"
    (entry,) = await audit_entries(db, child.id, "grant.created")
    assert entry["payload"]["expires_at"] == "2099-01-01T10:00:00.000Z"


async def test_granting_a_parent_that_is_not_yours_is_422_and_changes_nothing(client, factory, db):
    _parent, child = await _family(factory, "Wrong Parent")
    other = await factory.tenant("Unrelated Parent")
    before = await table_counts(db)
    for target in (other.id, child.id, uuid.uuid4()):
        r = await client.post(
            f"{ORGS}/{child.id}/grants", json=_body(target), headers=child.headers
        )
        assert error_fields(r) == ["parent_organization_id"]
    assert await table_counts(db) == before


async def test_an_organization_without_a_parent_cannot_grant(client, factory, db):
    top = await factory.tenant("Top Level")
    before = await table_counts(db)
    r = await client.post(f"{ORGS}/{top.id}/grants", json=_body(uuid.uuid4()), headers=top.headers)
    assert error_fields(r) == ["parent_organization_id"]
    assert await table_counts(db) == before


async def test_a_parent_cannot_grant_itself_access_to_a_child(client, factory, db):
    parent, child = await _family(factory, "Self Grant")
    before = await table_counts(db)
    r = await client.post(
        f"{ORGS}/{child.id}/grants", json=_body(parent.id), headers=parent.headers
    )
    # The parent knows the child (it lists it), so say why instead of "not found".
    assert_error(r, 403, "forbidden")
    assert "child organization" in r.json()["error"]["message"]
    assert await table_counts(db) == before


async def test_granting_for_a_stranger_organization_is_404(client, factory, db):
    stranger = await factory.tenant("Grant Stranger")
    other = await factory.tenant("Grant Other")
    r = await client.post(
        f"{ORGS}/{other.id}/grants", json=_body(uuid.uuid4()), headers=stranger.headers
    )
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["leads.write"]}, "scopes.0"),
        ({"scopes": ["admin"]}, "scopes.0"),
        ({"scopes": ["leads.read", "leads.read"]}, "scopes"),
        ({"scopes": "leads.read"}, "scopes"),
        ({"expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"expires_at": None}, "expires_at"),
        ({"parent_organization_id": "not-a-uuid"}, "parent_organization_id"),
        ({"note": "hello"}, "note"),
    ],
)
async def test_invalid_grant_bodies_are_422_and_change_nothing(client, factory, db, change, field):
    parent, child = await _family(factory, "Invalid Grant")
    before = await table_counts(db)
    r = await client.post(
        f"{ORGS}/{child.id}/grants", json={**_body(parent.id), **change}, headers=child.headers
    )
    assert error_fields(r) == [field]
    assert await table_counts(db) == before


async def test_an_expiry_in_the_past_is_422(client, factory, db):
    parent, child = await _family(factory, "Past Grant")
    before = await table_counts(db)
    r = await client.post(
        f"{ORGS}/{child.id}/grants",
        json=_body(parent.id, expires_at=_when(-1)),
        headers=child.headers,
    )
    assert error_fields(r) == ["expires_at"]
    assert await table_counts(db) == before


async def test_a_non_admin_child_key_cannot_grant(client, factory, db):
    parent = await factory.tenant("Reader Grant Parent")
    child = await factory.tenant("Reader Grant Child", parent=parent.id, scopes="read,write")
    before = await table_counts(db)
    r = await client.post(f"{ORGS}/{child.id}/grants", json=_body(parent.id), headers=child.headers)
    assert_error(r, 403, "forbidden")
    assert await table_counts(db) == before
