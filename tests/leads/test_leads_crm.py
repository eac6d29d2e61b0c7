"""POST /leads/{id}/push-to-crm against a real local JobNimbus-protocol server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from eal.integrations.jobnimbus import DEFAULT_LEAD_ID_FIELD
from tests.factories import Tenant
from tests.integrations.fake_jobnimbus import FakeJobNimbus, run_fake_jobnimbus
from tests.leads.support import LEADS, audit_entries, create_lead

API_KEY = "jn_live_key_5f3c9a1e77"


@pytest.fixture
def jobnimbus() -> Iterator[FakeJobNimbus]:
    with run_fake_jobnimbus(API_KEY) as fake:
        yield fake


async def configure_crm(
    client: httpx.AsyncClient, admin: Tenant, fake: FakeJobNimbus, api_key: str = API_KEY
) -> httpx.Response:
    response = await client.patch(
        f"/api/v1/organizations/{admin.id}",
        headers=admin.headers,
        json={
            "settings": {
                "integrations": {
                    "crm": {"vendor": "jobnimbus", "api_key": api_key, "base_url": fake.base_url}
                }
            }
        },
    )
    assert response.status_code == 200, response.text
    return response


def creates(fake: FakeJobNimbus) -> int:
    return sum(1 for r in fake.requests if r.method == "POST")


async def push(client: httpx.AsyncClient, tenant: Tenant, lead_id: str) -> httpx.Response:
    return await client.post(f"{LEADS}/{lead_id}/push-to-crm", headers=tenant.headers)


async def test_push_creates_one_contact_and_is_idempotent(client, factory, db, jobnimbus):
    t = await factory.tenant("CRM Co")
    shown = await configure_crm(client, t, jobnimbus)
    crm_settings = shown.json()["settings"]["integrations"]["crm"]
    assert API_KEY not in shown.text and "api_key_encrypted" not in crm_settings
    assert crm_settings["api_key_hint"].endswith(API_KEY[-4:])
    lead = await create_lead(
        client,
        t,
        name="Dana Whitfield",
        email="dana@example.com",
        phone="512-555-0143",
        postal_code="78756",
        source="website",
        message="Basement flooding after the storm",
    )

    first = await push(client, t, lead["id"])
    assert first.status_code == 200, first.text
    sync = first.json()["crm_sync"]
    assert first.json()["id"] == lead["id"]
    assert sync["vendor"] == "jobnimbus" and sync["status"] == "ok"
    assert sync["external_id"].startswith("jn") and sync["last_synced_at"]
    (contact,) = jobnimbus.contacts
    assert contact["jnid"] == sync["external_id"]
    assert contact[DEFAULT_LEAD_ID_FIELD] == lead["id"].replace("-", "")
    assert (contact["first_name"], contact["last_name"]) == ("Dana", "Whitfield")
    assert contact["email"] == "dana@example.com" and contact["mobile_phone"] == "5125550143"
    assert "Basement flooding" in contact["description"]
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in jobnimbus.requests)

    calls = len(jobnimbus.requests)
    second = await push(client, t, lead["id"])
    assert second.status_code == 200
    assert second.json()["crm_sync"] == sync
    assert len(jobnimbus.requests) == calls  # answered from the stored sync
    assert len(jobnimbus.contacts) == 1

    fetched = (await client.get(f"{LEADS}/{lead['id']}", headers=t.headers)).json()
    assert fetched["crm_sync"] == sync
    synced = await audit_entries(db, t.id, "lead.crm_synced")
    assert len(synced) == 1 and synced[0]["payload"]["external_id"] == sync["external_id"]


async def test_concurrent_pushes_create_one_vendor_record(client, factory, jobnimbus):
    t = await factory.tenant("Race Co")
    await configure_crm(client, t, jobnimbus)
    lead = await create_lead(client, t, name="Race Lead", email="race@example.com")
    # Slow vendor answers widen the window in which the pushes overlap.
    jobnimbus.set_delay(0.2)
    responses = await asyncio.gather(*(push(client, t, lead["id"]) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    external_ids = {r.json()["crm_sync"]["external_id"] for r in responses}
    assert len(external_ids) == 1
    assert len(jobnimbus.contacts) == 1
    assert creates(jobnimbus) == 1


async def test_no_crm_configured_is_409(client, factory, db):
    t = await factory.tenant("No CRM Co")
    lead = await create_lead(client, t)
    response = await push(client, t, lead["id"])
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict" and "No CRM is configured" in error["message"]
    assert error["details"]["reason"] == "crm_not_configured"
    assert (await client.get(f"{LEADS}/{lead['id']}", headers=t.headers)).json()["crm_sync"] is None
    assert await audit_entries(db, t.id, "lead.crm_synced") == []


async def test_vendor_failure_is_502_stored_as_error_and_retryable(client, factory, db, jobnimbus):
    t = await factory.tenant("Flaky CRM Co")
    await configure_crm(client, t, jobnimbus)
    lead = await create_lead(client, t, name="Flaky Lead", email="flaky@example.com")
    jobnimbus.fail_next(1, 503)

    failed = await push(client, t, lead["id"])
    assert failed.status_code == 502, failed.text
    error = failed.json()["error"]
    assert error["code"] == "upstream_error"
    assert error["details"]["vendor"] == "jobnimbus"
    assert error["details"]["transient"] is True
    assert error["details"]["crm_sync"]["status"] == "error"
    stored = (await client.get(f"{LEADS}/{lead['id']}", headers=t.headers)).json()["crm_sync"]
    assert stored["status"] == "error" and stored["external_id"] is None
    assert "503" in stored["error"]
    assert len(await audit_entries(db, t.id, "lead.crm_sync_failed")) == 1
    assert jobnimbus.contacts == []

    retried = await push(client, t, lead["id"])
    assert retried.status_code == 200, retried.text
    sync = retried.json()["crm_sync"]
    assert sync["status"] == "ok" and sync["error"] is None
    assert len(jobnimbus.contacts) == 1


async def test_retry_finds_contact_the_vendor_created_before_failing(client, factory, jobnimbus):
    t = await factory.tenant("Lost Answer Co")
    await configure_crm(client, t, jobnimbus)
    lead = await create_lead(client, t, name="Lost Answer", email="lost@example.com")
    # The first push fails from our side of the wire...
    jobnimbus.fail_next(1, 500)
    assert (await push(client, t, lead["id"])).status_code == 502
    # ...although the vendor holds the record (created, answer lost).
    jnid = jobnimbus.add_contact(
        first_name="Lost", **{DEFAULT_LEAD_ID_FIELD: lead["id"].replace("-", "")}
    )
    retried = await push(client, t, lead["id"])
    assert retried.status_code == 200, retried.text
    assert retried.json()["crm_sync"]["external_id"] == jnid
    assert creates(jobnimbus) == 0
    assert len(jobnimbus.contacts) == 1


async def test_rejected_credentials_are_502_not_retried_blindly(client, factory, jobnimbus):
    t = await factory.tenant("Wrong Key Co")
    await configure_crm(client, t, jobnimbus, api_key="jn_wrong_key_000000")
    lead = await create_lead(client, t)
    response = await push(client, t, lead["id"])
    assert response.status_code == 502
    details = response.json()["error"]["details"]
    assert details["reason"] == "CrmAuthError" and details["transient"] is False
    assert "jn_wrong_key_000000" not in response.text
    assert jobnimbus.contacts == []


async def test_test_key_records_a_simulated_sync_without_calling_the_vendor(
    client, factory, db, jobnimbus
):
    live = await factory.tenant("Sandbox Co")
    await configure_crm(client, live, jobnimbus)
    test_key = await factory.key(live.id, "write", "test")
    sandbox = Tenant(id=live.id, key=test_key["key"], key_id=test_key["id"], org=live.org)
    lead = await create_lead(client, sandbox, name="Sandbox Lead", email="sandbox@example.com")

    first = await push(client, sandbox, lead["id"])
    assert first.status_code == 200, first.text
    sync = first.json()["crm_sync"]
    assert sync["status"] == "simulated"
    assert sync["external_id"] == "sim_" + lead["id"].replace("-", "")
    assert sync["vendor"] == "jobnimbus"
    again = await push(client, sandbox, lead["id"])
    assert again.json()["crm_sync"] == sync
    assert jobnimbus.requests == []
    simulated = await audit_entries(db, live.id, "lead.crm_synced")
    assert [e["payload"]["status"] for e in simulated] == ["simulated"]

    # A live key does push for real afterwards.
    real = await push(client, live, lead["id"])
    assert real.status_code == 200
    assert real.json()["crm_sync"]["status"] == "ok"
    assert real.json()["crm_sync"]["external_id"].startswith("jn")
    assert len(jobnimbus.contacts) == 1


async def test_read_key_cannot_push(client, factory, jobnimbus):
    admin = await factory.tenant("Read Push Co")
    await configure_crm(client, admin, jobnimbus)
    lead = await create_lead(client, admin)
    read_key = await factory.key(admin.id, "read")
    reader = Tenant(id=admin.id, key=read_key["key"], key_id=read_key["id"], org=admin.org)
    assert (await push(client, reader, lead["id"])).status_code == 403
    assert jobnimbus.requests == []
