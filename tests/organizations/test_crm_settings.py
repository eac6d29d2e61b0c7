"""settings.integrations.crm: the vendor API key is encrypted at rest and never returned."""

from __future__ import annotations

from sqlalchemy import text

from eal.kit.secretbox import SecretBox
from tests.support import audit_entries, org_row, table_counts

ORGS = "/api/v1/organizations"
RAW_KEY = "jn_live_4f7c2a9e81b34d0f"


def _crm(api_key: str = RAW_KEY, **extra):
    return {
        "settings": {"integrations": {"crm": {"vendor": "jobnimbus", "api_key": api_key, **extra}}}
    }


async def _all_audit_payloads(db) -> str:
    async with db.system_transaction() as conn:
        return str(
            await conn.scalar(text("SELECT string_agg(payload::text, ' ') FROM platform_events"))
        )


async def test_crm_key_is_encrypted_and_only_a_hint_is_returned(client, factory, db, settings):
    t = await factory.tenant("CRM Co")
    r = await client.patch(f"{ORGS}/{t.id}", json=_crm(), headers=t.headers)
    assert r.status_code == 200, r.text
    assert RAW_KEY not in r.text
    crm = r.json()["settings"]["integrations"]["crm"]
    assert crm["vendor"] == "jobnimbus"
    assert crm["api_key_hint"] == "****" + RAW_KEY[-4:]
    assert "api_key" not in crm and "api_key_encrypted" not in crm

    me = await client.get(f"{ORGS}/me", headers=t.headers)
    assert RAW_KEY not in me.text and "api_key_encrypted" not in me.text
    assert me.json()["settings"]["integrations"]["crm"]["api_key_hint"] == crm["api_key_hint"]

    stored = (await org_row(db, t.id))["settings"]["integrations"]["crm"]
    assert RAW_KEY not in str(await org_row(db, t.id))
    assert SecretBox(settings.secret_key).decrypt(stored["api_key_encrypted"]) == RAW_KEY

    assert RAW_KEY not in await _all_audit_payloads(db)
    [entry] = await audit_entries(db, t.id, "organization.updated")
    diff = entry["payload"]["diff"]
    assert diff["settings.integrations.crm.vendor"] == {"from": None, "to": "jobnimbus"}
    assert diff["settings.integrations.crm.api_key"] == {"from": None, "to": "***"}
    assert "api_key_encrypted" not in str(diff)


async def test_children_list_never_shows_crm_secrets(client, factory, db):
    parent = await factory.tenant("CRM Parent")
    r = await client.post(ORGS, json={"name": "CRM Child", **_crm()}, headers=parent.headers)
    assert r.status_code == 201, r.text
    assert RAW_KEY not in r.text and "api_key_encrypted" not in r.text
    listed = await client.get(ORGS, headers=parent.headers)
    assert RAW_KEY not in listed.text and "api_key_encrypted" not in listed.text
    [created] = await audit_entries(db, r.json()["id"], "organization.created")
    assert created["payload"]["diff"]["settings.integrations.crm.vendor"]["to"] == "jobnimbus"
    assert RAW_KEY not in await _all_audit_payloads(db)


async def test_resending_the_same_key_is_a_no_op(client, factory, db):
    t = await factory.tenant("Same Key Co")
    assert (await client.patch(f"{ORGS}/{t.id}", json=_crm(), headers=t.headers)).status_code == 200
    before_row = await org_row(db, t.id)
    before = await table_counts(db)
    r = await client.patch(f"{ORGS}/{t.id}", json=_crm(), headers=t.headers)
    assert r.status_code == 200, r.text
    assert await org_row(db, t.id) == before_row
    assert await table_counts(db) == before


async def test_rotating_the_key_is_audited_without_either_key(client, factory, db, settings):
    t = await factory.tenant("Rotating Co")
    assert (await client.patch(f"{ORGS}/{t.id}", json=_crm(), headers=t.headers)).status_code == 200
    # Same last four characters: the hint does not change, the key does.
    new_key = "jn_live_00000000000000" + RAW_KEY[-4:]
    r = await client.patch(f"{ORGS}/{t.id}", json=_crm(new_key), headers=t.headers)
    assert r.status_code == 200, r.text
    entries = await audit_entries(db, t.id, "organization.updated")
    assert len(entries) == 2
    assert entries[-1]["payload"]["diff"] == {
        "settings.integrations.crm.api_key": {"from": "***", "to": "***"}
    }
    payloads = await _all_audit_payloads(db)
    assert RAW_KEY not in payloads and new_key not in payloads
    stored = (await org_row(db, t.id))["settings"]["integrations"]["crm"]
    assert SecretBox(settings.secret_key).decrypt(stored["api_key_encrypted"]) == new_key


async def test_crm_settings_can_be_removed(client, factory, db):
    t = await factory.tenant("Removing Co")
    assert (await client.patch(f"{ORGS}/{t.id}", json=_crm(), headers=t.headers)).status_code == 200
    r = await client.patch(
        f"{ORGS}/{t.id}", json={"settings": {"integrations": {"crm": None}}}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    assert "crm" not in r.json()["settings"].get("integrations", {})
    assert "crm" not in (await org_row(db, t.id))["settings"].get("integrations", {})
    entry = (await audit_entries(db, t.id, "organization.updated"))[-1]
    assert entry["payload"]["diff"]["settings.integrations.crm.api_key"] == {
        "from": "***",
        "to": None,
    }


async def test_invalid_crm_settings_are_422_and_store_nothing(client, factory, db):
    t = await factory.tenant("Bad CRM Co")
    before_row = await org_row(db, t.id)
    for body in (
        _crm("short"),
        _crm(base_url="ftp://example.com"),
        _crm(secret="x"),
        {"settings": {"integrations": {"crm": {"api_key": RAW_KEY}}}},
    ):
        r = await client.patch(f"{ORGS}/{t.id}", json=body, headers=t.headers)
        assert r.status_code == 422, r.text
        assert RAW_KEY not in r.text
    assert await org_row(db, t.id) == before_row
