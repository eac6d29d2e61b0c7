"""Tenant isolation on every lead endpoint, RLS on the leads tables, parent roll-up reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.leads.support import LEADS, audit_entries, create_lead


async def test_every_lead_endpoint_hides_other_tenants(client, factory, db):
    owner = await factory.tenant("Owner Restoration")
    other = await factory.tenant("Other Restoration")
    # The other tenant has a CRM configured, so a 404 cannot be a "no CRM" 409 in disguise.
    configured = await client.patch(
        f"/api/v1/organizations/{other.id}",
        headers=other.headers,
        json={"settings": {"integrations": {"crm": {"vendor": "jobnimbus", "api_key": "k" * 16}}}},
    )
    assert configured.status_code == 200, configured.text
    lead = await create_lead(client, owner, name="Private Person", email="private@example.com")
    url = f"{LEADS}/{lead['id']}"

    assert (await client.get(url, headers=other.headers)).status_code == 404
    patched = await client.patch(url, headers=other.headers, json={"pipeline_stage": "lost"})
    assert patched.status_code == 404
    assert (await client.post(f"{url}/score", headers=other.headers)).status_code == 404
    assert (await client.post(f"{url}/push-to-crm", headers=other.headers)).status_code == 404
    listed = await client.get(LEADS, headers=other.headers)
    assert listed.status_code == 200 and listed.json()["data"] == []
    by_source = await client.get(LEADS, headers=other.headers, params={"pipeline_stage": "new"})
    assert by_source.json()["data"] == []

    assert (await client.get(url, headers=owner.headers)).json() == lead
    lead_actions = [
        e["action"]
        for org in (owner.id, other.id)
        for e in await audit_entries(db, org)
        if e["action"].startswith("lead.")
    ]
    assert lead_actions == ["lead.created"]


async def test_row_level_security_on_lead_tables(client, factory, db):
    a = await factory.tenant("RLS A")
    b = await factory.tenant("RLS B")
    lead_a = await create_lead(client, a)
    await create_lead(client, b)
    event = await client.post(
        "/api/v1/weather-events",
        headers=a.headers,
        json={
            "event_type": "storm",
            "postal_codes": ["30075"],
            "occurred_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        },
    )
    assert event.status_code == 201, event.text

    async with db.tenant_transaction(b.id) as conn:
        # No WHERE clause: the policy alone keeps tenant A's rows out.
        orgs = (await conn.execute(text("SELECT DISTINCT organization_id FROM leads"))).scalars()
        assert list(orgs) == [b.id]
        assert await conn.scalar(text("SELECT count(*) FROM weather_events")) == 0
        changed = await conn.execute(
            text("UPDATE leads SET lead_score = 1 WHERE id = :id"), {"id": uuid.UUID(lead_a["id"])}
        )
        assert changed.rowcount == 0
    for table, columns, values in (
        ("leads", "organization_id, email", ":org, 'x@example.com'"),
        (
            "weather_events",
            "organization_id, event_type, postal_codes, occurred_at",
            ":org, 'storm', ARRAY['30075'], now()",
        ),
    ):
        with pytest.raises(DBAPIError, match="row-level security"):
            async with db.tenant_transaction(b.id) as conn:
                await conn.execute(
                    text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), {"org": a.id}
                )
    # Without a tenant nothing is visible at all.
    async with db.runtime_transaction() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM leads")) == 0
    async with db.tenant_transaction(a.id) as conn:
        assert await conn.scalar(text("SELECT lead_score FROM leads")) == lead_a["lead_score"]


async def test_parent_reads_child_leads_only_with_a_grant(client, factory):
    parent = await factory.tenant("Network HQ")
    child = await factory.tenant("Network Child", parent=parent.id)
    lead = await create_lead(client, child)
    as_child = {**parent.headers, "X-EAL-Organization": str(child.id)}
    url = f"{LEADS}/{lead['id']}"

    assert (await client.get(LEADS, headers=as_child)).status_code == 403
    assert (await client.get(url, headers=as_child)).status_code == 403
    assert (await client.get(url, headers=parent.headers)).status_code == 404

    grant = await client.post(
        f"/api/v1/organizations/{child.id}/grants",
        headers=child.headers,
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["leads.read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert grant.status_code == 201, grant.text
    listed = await client.get(LEADS, headers=as_child)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [lead["id"]]
    assert (await client.get(url, headers=as_child)).json() == lead
    # The grant is read-only.
    write = await client.patch(url, headers=as_child, json={"pipeline_stage": "lost"})
    assert write.status_code == 403
    assert (await client.post(f"{url}/score", headers=as_child)).status_code == 403
