"""CRM settings are checked when saved: private vendor URLs, and keeping the stored key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from eal.app import create_app
from eal.config import Settings
from tests.support import audit_entries, org_row

ORGS = "/api/v1/organizations"


@pytest.fixture(scope="module")
async def strict_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with the production default: no private or plain-http vendor URLs."""
    strict = create_app(settings.model_copy(update={"allow_private_webhook_urls": False}))
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _crm(**fields):
    return {"settings": {"integrations": {"crm": {"vendor": "jobnimbus", **fields}}}}


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:9/api1", "https://10.0.0.5/api1", "https://169.254.169.254/"]
)
async def test_private_vendor_url_is_refused_when_saved(strict_client, factory, db, base_url):
    t = await factory.tenant("CRM URL Co")
    before = await org_row(db, t.id)
    r = await strict_client.patch(
        f"{ORGS}/{t.id}",
        json=_crm(api_key="jn_live_0123456789", base_url=base_url),
        headers=t.headers,
    )
    assert r.status_code == 422, r.text
    fields = [f["field"] for f in r.json()["error"]["details"]["fields"]]
    assert fields == ["settings.integrations.crm.base_url"]
    assert await org_row(db, t.id) == before


async def test_public_vendor_url_is_accepted(strict_client, factory):
    t = await factory.tenant("CRM URL Ok")
    r = await strict_client.patch(
        f"{ORGS}/{t.id}",
        json=_crm(api_key="jn_live_0123456789", base_url="https://93.184.216.34/api1"),
        headers=t.headers,
    )
    assert r.status_code == 200, r.text


async def test_changing_other_crm_fields_keeps_the_stored_key(client, factory, db):
    t = await factory.tenant("CRM Keep Key")
    first = await client.patch(
        f"{ORGS}/{t.id}", json=_crm(api_key="jn_live_0123456789"), headers=t.headers
    )
    assert first.status_code == 200, first.text
    stored = (await org_row(db, t.id))["settings"]["integrations"]["crm"]

    r = await client.patch(
        f"{ORGS}/{t.id}", json=_crm(lead_id_field="cf_string_7"), headers=t.headers
    )
    assert r.status_code == 200, r.text
    crm = (await org_row(db, t.id))["settings"]["integrations"]["crm"]
    assert crm["lead_id_field"] == "cf_string_7"
    assert crm["api_key_encrypted"] == stored["api_key_encrypted"]
    assert r.json()["settings"]["integrations"]["crm"]["api_key_hint"] == "****6789"
    updates = [e for e in await audit_entries(db, t.id) if e["action"] == "organization.updated"]
    assert "settings.integrations.crm.lead_id_field" in updates[-1]["payload"]["diff"]


async def test_a_first_crm_setting_needs_the_key(client, factory, db):
    t = await factory.tenant("CRM No Key")
    before = await org_row(db, t.id)
    r = await client.patch(
        f"{ORGS}/{t.id}", json=_crm(lead_id_field="cf_string_7"), headers=t.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["fields"][0]["field"] == "settings.integrations.crm.api_key"
    assert await org_row(db, t.id) == before
