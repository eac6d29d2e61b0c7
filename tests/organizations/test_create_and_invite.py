"""POST /organizations (a child with a 7-day invite) and POST /invites/{token}/accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.support import assert_error, audit_entries, error_fields, org_row, table_counts

ORGS = "/api/v1/organizations"


def _token(invite_url: str) -> str:
    return invite_url.rsplit("/", 1)[-1]


async def _create_child(client, parent, **extra):
    body = {"name": "PuroClean of West Cobb", **extra}
    r = await client.post(ORGS, json=body, headers=parent.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_child_returns_invite_valid_for_seven_days(client, factory, db):
    parent = await factory.tenant("Create Parent")
    started = datetime.now(UTC)
    body = await _create_child(
        client,
        parent,
        industry="water_damage",
        settings={"timezone": "America/Chicago"},
        primary_admin_email="Owner@Example.com",
    )
    assert body["parent_organization_id"] == str(parent.id)
    assert body["name"] == "PuroClean of West Cobb"
    assert body["industry"] == "water_damage"
    assert body["settings"] == {"timezone": "America/Chicago", "default_locale": "en-US"}
    assert body["invite_url"].startswith("http://testserver/")
    assert _token(body["invite_url"]).startswith("itok_")
    expires = datetime.fromisoformat(body["invite_expires_at"])
    assert (
        timedelta(days=7) - timedelta(minutes=1) < expires - started <= timedelta(days=7, seconds=5)
    )
    row = await org_row(db, body["id"])
    assert row["parent_organization_id"] == parent.id
    async with db.system_transaction() as conn:
        invite = (
            await conn.execute(
                text("SELECT * FROM org_invites WHERE organization_id = :id"), {"id": body["id"]}
            )
        ).one()
    # Only a hash of the token is stored.
    assert _token(body["invite_url"]) not in str(dict(invite._mapping))
    assert invite.primary_admin_email == "Owner@example.com"


async def test_create_child_is_audited_in_both_organizations(client, factory, db):
    parent = await factory.tenant("Audited Parent")
    body = await _create_child(client, parent, name="Audited Child")
    [created] = await audit_entries(db, body["id"], "organization.created")
    assert created["payload"]["parent_organization_id"] == str(parent.id)
    assert created["payload"]["key_id"] == str(parent.key_id)
    assert created["payload"]["diff"]["name"] == {"from": None, "to": "Audited Child"}
    [noted] = await audit_entries(db, parent.id, "organization.child_created")
    assert noted["payload"]["organization_id"] == body["id"]
    assert _token(body["invite_url"]) not in str(created["payload"]) + str(noted["payload"])


async def test_the_new_child_is_listed_by_its_parent(client, factory):
    parent = await factory.tenant("Listing Parent")
    body = await _create_child(client, parent, name="Fresh Child")
    listed = (await client.get(ORGS, headers=parent.headers)).json()["data"]
    assert [c["id"] for c in listed] == [body["id"]]


async def test_invalid_child_bodies_are_422_and_change_nothing(client, factory, db):
    parent = await factory.tenant("Invalid Create Parent")
    before = await table_counts(db)
    cases = [
        ({}, ["name"]),
        ({"name": ""}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"name": ["list"]}, ["name"]),
        ({"name": "Ok", "industry": "bakery"}, ["industry"]),
        ({"name": "Ok", "settings": {"timezone": "Mars/Olympus"}}, ["settings.timezone"]),
        ({"name": "Ok", "settings": {"default_locale": "english"}}, ["settings.default_locale"]),
        ({"name": "Ok", "settings": {"colour": "red"}}, ["settings.colour"]),
        ({"name": "Ok", "primary_admin_email": "nobody"}, ["primary_admin_email"]),
        ({"name": "Ok", "parent_organization_id": str(parent.id)}, ["parent_organization_id"]),
    ]
    for body, fields in cases:
        r = await client.post(ORGS, json=body, headers=parent.headers)
        assert error_fields(r) == fields, body
    assert await table_counts(db) == before


async def test_invite_accept_returns_the_first_admin_key_once(client, factory, db):
    parent = await factory.tenant("Invite Parent")
    child = await _create_child(client, parent, name="Invited Child")
    token = _token(child["invite_url"])
    r = await client.post(f"/api/v1/invites/{token}/accept", headers={"X-Request-ID": "corr_inv"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["organization"]["id"] == child["id"]
    assert body["organization"]["parent_organization_id"] == str(parent.id)
    key = body["api_key"]["key"]
    assert key.startswith("eal_live_")
    assert body["api_key"]["scopes"] == ["admin"]
    assert "_warning" in body
    me = await client.get(f"{ORGS}/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["id"] == child["id"]
    [entry] = await audit_entries(db, child["id"], "api_key.created")
    assert entry["payload"]["api_key_id"] == body["api_key"]["id"]
    assert entry["correlation_id"] == "corr_inv"
    assert key not in str(entry["payload"])
    assert len(await audit_entries(db, child["id"], "invite.accepted")) == 1


async def test_a_token_works_only_once(client, factory, db):
    parent = await factory.tenant("Reuse Parent")
    child = await _create_child(client, parent, name="Reused Child")
    url = f"/api/v1/invites/{_token(child['invite_url'])}/accept"
    assert (await client.post(url)).status_code == 201
    before = await table_counts(db)
    error = assert_error(await client.post(url), 409, "conflict")
    assert error["details"]["reason"] == "already_accepted"
    assert await table_counts(db) == before


async def test_an_expired_token_does_not_work(client, factory, db):
    parent = await factory.tenant("Expiry Parent")
    child = await _create_child(client, parent, name="Expired Child")
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE org_invites SET expires_at = now() - interval '1 second' "
                "WHERE organization_id = :id"
            ),
            {"id": child["id"]},
        )
    before = await table_counts(db)
    r = await client.post(f"/api/v1/invites/{_token(child['invite_url'])}/accept")
    error = assert_error(r, 409, "conflict")
    assert error["details"]["reason"] == "expired"
    assert await table_counts(db) == before


async def test_an_unknown_token_is_404(client, db):
    before = await table_counts(db)
    r = await client.post("/api/v1/invites/itok_doesnotexist/accept")
    assert_error(r, 404, "not_found")
    assert await table_counts(db) == before
