"""lead.created / lead.updated carry the lead, as GET returns it, to webhook subscribers."""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.leads.support import LEADS, create_lead


async def test_lead_events_queue_the_lead_as_webhook_data(client, factory, db):
    t = await factory.tenant("Event Data Co")
    async with db.system_transaction() as conn:
        # A subscribed endpoint (the webhooks API is exercised in tests/webhooks).
        await conn.execute(
            text(
                "INSERT INTO webhook_endpoints (organization_id, url, events, secret_encrypted, "
                "secret_prefix) VALUES (:org, 'https://hooks.example.com/eal', "
                "ARRAY['lead.created', 'lead.updated'], 'unused', 'whsec_')"
            ),
            {"org": t.id},
        )
    lead = await create_lead(client, t, name="Webhook Lead", email="hook@example.com")
    patched = await client.patch(
        f"{LEADS}/{lead['id']}", headers=t.headers, json={"pipeline_stage": "contacted"}
    )
    assert patched.status_code == 200
    # Neither a no-op PATCH nor a re-score is a lead.created/lead.updated event.
    await client.patch(f"{LEADS}/{lead['id']}", headers=t.headers, json={})
    await client.post(f"{LEADS}/{lead['id']}/score", headers=t.headers)

    async with db.system_transaction() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT event_type, body FROM webhook_deliveries WHERE organization_id = :org "
                    "ORDER BY created_at"
                ),
                {"org": t.id},
            )
        ).all()
    bodies = {row.event_type: json.loads(row.body) for row in rows}
    assert [row.event_type for row in rows] == ["lead.created", "lead.updated"]
    assert bodies["lead.created"]["data"] == lead
    assert bodies["lead.updated"]["data"] == patched.json()
    assert bodies["lead.created"]["organization_id"] == str(t.id)
