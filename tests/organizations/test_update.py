"""PATCH /organizations/{id}: name and settings, real time zones, audit diffs, no-ops."""

from __future__ import annotations

import pytest

from tests.support import assert_error, audit_entries, error_fields, org_row, table_counts

ORGS = "/api/v1/organizations"


async def _patch(client, tenant, body, **headers):
    return await client.patch(
        f"{ORGS}/{tenant.id}", json=body, headers={**tenant.headers, **headers}
    )


async def test_rename_and_settings_change_are_saved_and_audited(client, factory, db):
    t = await factory.tenant("Before Name")
    r = await _patch(client, t, {"name": "After Name", "settings": {"timezone": "America/Denver"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == str(t.id)
    assert body["name"] == "After Name"
    # Settings merge key by key: the locale stays.
    assert body["settings"] == {"timezone": "America/Denver", "default_locale": "en-US"}
    assert body["updated_at"].endswith("Z")
    row = await org_row(db, t.id)
    assert row["name"] == "After Name" and row["settings"]["timezone"] == "America/Denver"
    assert row["updated_at"] > row["created_at"]
    [entry] = await audit_entries(db, t.id, "organization.updated")
    assert entry["payload"]["key_id"] == str(t.key_id)
    assert entry["payload"]["organization_id"] == str(t.id)
    assert entry["payload"]["diff"] == {
        "name": {"from": "Before Name", "to": "After Name"},
        "settings.timezone": {"from": "America/New_York", "to": "America/Denver"},
    }
    me = (await client.get(f"{ORGS}/me", headers=t.headers)).json()
    assert me["name"] == "After Name"


async def test_diff_names_only_changed_fields(client, factory, db):
    t = await factory.tenant("Same Name")
    r = await _patch(client, t, {"name": "Same Name", "settings": {"default_locale": "es-US"}})
    assert r.status_code == 200, r.text
    [entry] = await audit_entries(db, t.id, "organization.updated")
    assert entry["payload"]["diff"] == {"settings.default_locale": {"from": "en-US", "to": "es-US"}}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "No Op Co"},
        {"settings": {"timezone": "America/New_York"}},
        {"name": "No Op Co", "settings": {"default_locale": "en-US"}},
        {"settings": {"integrations": {"crm": None}}},
        {"settings": {"integrations": {}, "service_area": None}},
    ],
)
async def test_no_op_patch_writes_nothing(client, factory, db, body):
    t = await factory.tenant("No Op Co")
    before_row = await org_row(db, t.id)
    before = await table_counts(db)
    r = await _patch(client, t, body)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "No Op Co"
    assert await org_row(db, t.id) == before_row
    assert await table_counts(db) == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"nickname": "x"}, ["nickname"]),
        ({"name": "Ok", "industry": "mold"}, ["industry"]),
        ({"settings": {"timezone": "UTC", "theme": "dark"}}, ["settings.theme"]),
        ({"name": 7}, ["name"]),
        ({"name": ""}, ["name"]),
        ({"name": None}, ["name"]),
        ({"settings": "America/New_York"}, ["settings"]),
        ({"settings": {"timezone": 5}}, ["settings.timezone"]),
        ({"settings": {"timezone": None}}, ["settings.timezone"]),
        ({"settings": {"default_locale": None}}, ["settings.default_locale"]),
        (
            {"settings": {"integrations": {"crm": {"vendor": "salesforce", "api_key": "k" * 20}}}},
            ["settings.integrations.crm.vendor"],
        ),
        (
            {"settings": {"service_area": {"center_postal_code": "30301"}}},
            ["settings.service_area"],
        ),
    ],
)
async def test_bad_bodies_are_422_naming_the_field_and_change_nothing(
    client, factory, db, body, fields
):
    t = await factory.tenant("Strict Co")
    before_row = await org_row(db, t.id)
    before = await table_counts(db)
    assert error_fields(await _patch(client, t, body)) == fields
    assert await org_row(db, t.id) == before_row
    assert await table_counts(db) == before


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus",
        "EST5EDT",
        "EST",
        "GMT",
        "posix/America/New_York",
        "right/Europe/London",
        "America/New_York/../../../etc/passwd",
        "../zoneinfo/UTC",
        "america/new_york",
        "",
    ],
)
async def test_timezones_must_be_real_iana_names(client, factory, db, zone):
    t = await factory.tenant("Zone Co")
    before_row = await org_row(db, t.id)
    r = await _patch(client, t, {"settings": {"timezone": zone}})
    assert error_fields(r) == ["settings.timezone"]
    assert await org_row(db, t.id) == before_row


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/London", "Australia/Lord_Howe", "America/Indiana/Knox"]
)
async def test_real_timezones_are_accepted(client, factory, zone):
    t = await factory.tenant("Real Zone Co")
    r = await _patch(client, t, {"settings": {"timezone": zone}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["timezone"] == zone


async def test_service_area_and_scoring_settings_can_be_set_and_removed(client, factory, db):
    t = await factory.tenant("Area Co")
    area = {"center_postal_code": "30301", "radius_miles": 25}
    r = await _patch(client, t, {"settings": {"service_area": area}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["service_area"] == {**area, "radius_miles": 25.0}
    r = await _patch(client, t, {"settings": {"service_area": None}})
    assert "service_area" not in r.json()["settings"]
    actions = [e["action"] for e in await audit_entries(db, t.id)]
    assert actions.count("organization.updated") == 2


async def test_a_parent_cannot_patch_its_child(client, factory, db):
    parent = await factory.tenant("Patch Parent")
    child = await factory.tenant("Patch Child", parent=parent.id)
    before = await org_row(db, child.id)
    r = await client.patch(f"{ORGS}/{child.id}", json={"name": "Taken"}, headers=parent.headers)
    assert_error(r, 404, "not_found")
    assert await org_row(db, child.id) == before


async def test_unknown_organization_is_404(client, factory):
    t = await factory.tenant("Lost Co")
    r = await client.patch(
        f"{ORGS}/00000000-0000-4000-8000-000000000000", json={"name": "X"}, headers=t.headers
    )
    assert_error(r, 404, "not_found")
