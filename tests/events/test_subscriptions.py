"""Skipping bodies nobody subscribes to never loses a delivery someone subscribed to.

A process remembers, per organization and config revision, which event types
have subscribers. These tests warm that memory, then change the endpoints
(through the API, and behind its back as another process would) and expect
the very next change to be delivered accordingly.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

from tests.leads.support import config_revision, create_lead
from tests.webhooks.support import WEBHOOKS, create_webhook, deliveries_of

URL = "http://127.0.0.1:9/hook"


def types_of(rows: list) -> list[str]:  # type: ignore[type-arg]
    return [row.event_type for row in rows]


async def test_endpoint_changes_raise_the_config_revision(client, factory, db):
    t = await factory.tenant("Hook Revision Co")
    start = await config_revision(db, t.id)
    hook = await create_webhook(client, t, URL)
    assert await config_revision(db, t.id) == start + 1
    response = await client.patch(
        f"{WEBHOOKS}/{hook['id']}", headers=t.headers, json={"enabled": False}
    )
    assert response.status_code == 200, response.text
    assert await config_revision(db, t.id) == start + 2
    assert (await client.delete(f"{WEBHOOKS}/{hook['id']}", headers=t.headers)).status_code in (
        200,
        204,
    )
    assert await config_revision(db, t.id) == start + 3


async def test_an_endpoint_registered_after_quiet_writes_gets_the_next_event(client, factory, db):
    t = await factory.tenant("Late Hook Co")
    await create_lead(client, t)  # nobody subscribes yet: remembered as such
    await create_lead(client, t)
    # Registered in a transaction that began with "nobody listens" in memory,
    # the audit stream endpoint still gets its own registration entry.
    stream = await create_webhook(client, t, URL, ["audit.log.event"])
    hook = await create_webhook(client, t, URL, ["lead.created"])
    lead = await create_lead(client, t)
    rows = await deliveries_of(db, hook["id"])
    assert types_of(rows) == ["lead.created"]
    assert json.loads(rows[0].body)["data"]["id"] == lead["id"]
    actions = [json.loads(r.body)["data"]["action"] for r in await deliveries_of(db, stream["id"])]
    assert actions == ["webhook.created", "webhook.created", "lead.created"]


async def test_an_endpoint_written_outside_the_api_gets_the_next_event(client, factory, db):
    t = await factory.tenant("Direct Hook Co")
    hook = await create_webhook(client, t, URL, ["lead.updated"])
    await create_lead(client, t)  # remembered: only lead.updated has a subscriber
    async with db.system_transaction() as conn:
        await conn.execute(
            text("UPDATE webhook_endpoints SET events = ARRAY['lead.created'] WHERE id = :id"),
            {"id": uuid.UUID(hook["id"])},
        )
    lead = await create_lead(client, t)
    rows = await deliveries_of(db, hook["id"])
    assert types_of(rows) == ["lead.created"]
    assert json.loads(rows[0].body)["data"]["id"] == lead["id"]


async def test_a_disabled_endpoint_gets_nothing_more(client, factory, db):
    t = await factory.tenant("Quiet Hook Co")
    hook = await create_webhook(client, t, URL, ["lead.created"])
    await create_lead(client, t)
    response = await client.patch(
        f"{WEBHOOKS}/{hook['id']}", headers=t.headers, json={"enabled": False}
    )
    assert response.status_code == 200, response.text
    await create_lead(client, t)
    assert types_of(await deliveries_of(db, hook["id"])) == ["lead.created"]
