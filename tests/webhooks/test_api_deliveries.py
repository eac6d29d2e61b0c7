"""Webhooks API: the delivery log, redelivery, row-level security and concurrency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from eal import events
from eal.db.engine import Database
from eal.events import Action
from tests.factories import Factory
from tests.support import tenant_tx
from tests.webhooks.support import (
    WEBHOOKS,
    assert_error,
    audit_actions,
    create_webhook,
    deliveries_of,
    record_event,
)

URL = "https://127.0.0.1:9/eal"  # never contacted: no worker runs in these tests


async def test_delivery_log_lists_queued_deliveries_paginated_and_capped(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Hooks Log")
    hook = await create_webhook(client, tenant, URL)
    for _ in range(5):
        await record_event(db, tenant.id)
    base = f"{WEBHOOKS}/{hook['id']}/deliveries"
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(base, headers=tenant.headers, params=params)).json()
        seen.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    rows = await deliveries_of(db, hook["id"])
    assert [d["id"] for d in seen] == [f"whd_{r.id.hex}" for r in reversed(rows)]
    item = seen[0]
    assert set(item) == {
        "id",
        "event",
        "status",
        "response_status",
        "latency_ms",
        "attempt",
        "delivered_at",
        "next_attempt_at",
        "error",
        "created_at",
    }
    assert item["event"] == "lead.created" and item["status"] == "pending"
    assert item["attempt"] == 0

    # Only the newest 100 entries are ever listed.
    async with tenant_tx(db, tenant.id) as tx:
        for _ in range(100):
            await events.record(tx, Action.LEAD_CREATED, {})
    total = 0
    cursor = None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(base, headers=tenant.headers, params=params)).json()
        total += len(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert total == 100
    assert_error(
        await client.get(base, headers=tenant.headers, params={"limit": 0}),
        422,
        "validation_failed",
    )
    assert_error(
        await client.get(base, headers=tenant.headers, params={"cursor": "nope"}),
        400,
        "invalid_request",
    )


async def test_redeliver_requeues_with_the_same_id(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Hooks Redeliver API")
    hook = await create_webhook(client, tenant, URL)
    await record_event(db, tenant.id)
    (delivery,) = await deliveries_of(db, hook["id"])
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, "
                "attempt = 8, retry_step = 7 WHERE id = :id"
            ),
            {"id": delivery.id},
        )
    public_id = f"whd_{delivery.id.hex}"
    url = f"{WEBHOOKS}/{hook['id']}/deliveries/{public_id}/redeliver"
    response = await client.post(url, headers=tenant.headers)
    assert response.status_code == 202, response.text
    assert response.json()["id"] == public_id
    assert response.json()["status"] == "pending"
    (after,) = await deliveries_of(db, hook["id"])
    assert (after.status, after.retry_step, after.attempt) == ("pending", 0, 8)
    assert after.body == delivery.body
    redelivered = [p for a, p in await audit_actions(db, tenant.id) if a == "webhook.redelivered"]
    assert redelivered[0]["delivery_id"] == public_id
    assert redelivered[0]["previous_status"] == "failed"

    for bad in ("whd_nothex", "whd_" + "0" * 32, delivery.id.hex, "evt_" + delivery.id.hex):
        bad_url = f"{WEBHOOKS}/{hook['id']}/deliveries/{bad}/redeliver"
        assert_error(await client.post(bad_url, headers=tenant.headers), 404, "not_found")

    # A disabled endpoint is enabled first.
    await client.patch(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers, json={"enabled": False})
    assert_error(await client.post(url, headers=tenant.headers), 409, "conflict")


async def test_rls_confines_every_webhook_table_to_its_tenant(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    a = await factory.tenant("Hooks RLS A")
    b = await factory.tenant("Hooks RLS B")
    hook_a = await create_webhook(client, a, URL)
    await create_webhook(client, b, URL)
    await record_event(db, a.id)
    await record_event(db, b.id)
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO webhook_attempts (organization_id, delivery_id, endpoint_id, "
                "attempt, status) SELECT organization_id, id, endpoint_id, 1, 'retrying' "
                "FROM webhook_deliveries WHERE organization_id IN (:a, :b)"
            ),
            {"a": a.id, "b": b.id},
        )
    async with db.tenant_transaction(a.id) as conn:
        for table in ("webhook_endpoints", "webhook_deliveries", "webhook_attempts"):
            orgs = (await conn.execute(text(f"SELECT DISTINCT organization_id FROM {table}"))).all()
            assert [r[0] for r in orgs] == [a.id], table
    with pytest.raises(Exception, match="row-level security"):
        async with db.tenant_transaction(a.id) as conn:
            await conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id, "
                    "event_type, body) VALUES (:b, :e, gen_random_uuid(), 'lead.created', '{}')"
                ),
                {"b": b.id, "e": uuid.UUID(hook_a["id"])},
            )
    with pytest.raises(Exception, match="permission denied"):
        async with db.tenant_transaction(a.id) as conn:
            await conn.execute(text("DELETE FROM webhook_endpoints"))


async def test_managing_a_webhook_while_its_events_are_recorded_does_not_deadlock(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    """Rotations and updates lock the endpoint row while events fan out to it."""
    tenant = await factory.tenant("Hooks Concurrency")
    hook = await create_webhook(client, tenant, URL, ["lead.created"])
    base = f"{WEBHOOKS}/{hook['id']}"

    async def manage(n: int) -> int:
        if n % 2:
            response = await client.post(f"{base}/rotate-secret", headers=tenant.headers)
        else:
            response = await client.patch(
                base, headers=tenant.headers, json={"description": f"round {n}"}
            )
        return response.status_code

    async def record(n: int) -> int:
        await record_event(db, tenant.id, "lead.created", {"n": n})
        return 200

    results = await asyncio.gather(
        *(manage(n) if n % 3 == 0 else record(n) for n in range(60)), return_exceptions=True
    )
    assert all(r == 200 for r in results), [r for r in results if r != 200]
    assert len(await deliveries_of(db, hook["id"])) == 40
