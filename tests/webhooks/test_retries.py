"""Retries, failures, auto-disable, deletion and redelivery, end to end with a real worker."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from eal.config import Settings
from eal.db.engine import Database
from eal.webhooks import verify
from tests.factories import Factory
from tests.webhooks.support import (
    WEBHOOKS,
    Received,
    Receiver,
    attempts_of,
    audit_actions,
    create_webhook,
    deliveries_of,
    record_event,
    running_worker,
    set_endpoint,
    standard_verify,
    wait_for_rows,
    wait_until,
)


async def test_server_errors_are_retried_with_identical_bytes_until_delivered(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Retry")
    fast = settings.model_copy(update={"webhook_retry_schedule": (1, 1, 1)})

    def respond(_request: Received, index: int) -> tuple[int, bytes]:
        return (500, b"database is down") if index < 2 else (200, b"")

    async with Receiver(respond) as receiver, running_worker(fast, db):
        hook = await create_webhook(client, tenant, receiver.url)
        await record_event(db, tenant.id)
        requests = await receiver.wait_for(3)
        await wait_for_rows(
            db,
            "SELECT status FROM webhook_deliveries WHERE endpoint_id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].status == "delivered",
        )

    assert len({r.delivery_id for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert all(gap >= 0.9 for gap in gaps), gaps
    for request in requests:  # each retry is signed afresh, for both schemes
        verify(hook["signing_secret"], request.headers, request.body)
        standard_verify(hook["signing_secret"], request)

    log = (await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=tenant.headers)).json()
    summary = [(i["attempt"], i["status"], i["response_status"]) for i in log["data"]]
    assert summary == [(3, "delivered", 200), (2, "retrying", 500), (1, "retrying", 500)]
    assert log["data"][2]["error"] == "HTTP 500: database is down"
    assert log["data"][2]["next_attempt_at"] is not None
    (delivery,) = await deliveries_of(db, hook["id"])
    assert (delivery.status, delivery.attempt, delivery.response_status) == ("delivered", 3, 200)
    assert delivery.leased_until is None and delivery.next_attempt_at is None


async def test_a_timeout_is_retried(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Timeout")
    quick = settings.model_copy(
        update={"webhook_timeout_seconds": 0.5, "webhook_retry_schedule": (1,)}
    )

    async def respond(_request: Received, index: int) -> int:
        if index == 0:
            await asyncio.sleep(2)
        return 200

    async with Receiver(respond) as receiver, running_worker(quick, db):
        hook = await create_webhook(client, tenant, receiver.url)
        await record_event(db, tenant.id)
        requests = await receiver.wait_for(2)
        attempts = await wait_for_rows(
            db,
            "SELECT * FROM webhook_attempts WHERE endpoint_id = :e ORDER BY attempt",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: len(rows) == 2,
        )

    assert requests[0].delivery_id == requests[1].delivery_id
    assert [(a.attempt, a.status, a.response_status) for a in attempts] == [
        (1, "retrying", None),
        (2, "delivered", 200),
    ]
    assert attempts[0].error == "timed out after 0.5s"
    assert 450 <= attempts[0].latency_ms < 1500


async def test_exhausted_retries_end_as_failed(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Exhausted")
    short = settings.model_copy(update={"webhook_retry_schedule": (0, 1)})
    async with Receiver(lambda _r, _i: 503) as receiver, running_worker(short, db):
        hook = await create_webhook(client, tenant, receiver.url)
        await record_event(db, tenant.id)
        await wait_for_rows(
            db,
            "SELECT status FROM webhook_deliveries WHERE endpoint_id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].status == "failed",
        )
        await asyncio.sleep(0.3)
    assert len(receiver.received) == 3
    attempts = await attempts_of(db, hook["id"])
    assert [(a.attempt, a.status) for a in attempts] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "failed"),
    ]
    fetched = (await client.get(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)).json()
    assert fetched["enabled"] is True  # failing for seconds, not days
    assert fetched["last_delivery_status"] == 503


async def test_410_disables_the_endpoint_at_once(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Gone")
    async with Receiver(lambda _r, _i: 410) as receiver, running_worker(settings, db):
        hook = await create_webhook(client, tenant, receiver.url)
        await record_event(db, tenant.id)
        await receiver.wait_for(1)
        await wait_for_rows(
            db,
            "SELECT enabled FROM webhook_endpoints WHERE id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].enabled is False,
        )
        await record_event(db, tenant.id)
        await asyncio.sleep(0.5)
    assert len(receiver.received) == 1
    (delivery,) = await deliveries_of(db, hook["id"])
    assert (delivery.status, delivery.response_status) == ("failed", 410)
    disabled = [p for a, p in await audit_actions(db, tenant.id) if a == "webhook.disabled"]
    assert disabled[0]["reason"] == "the receiver answered 410 Gone"
    fetched = (await client.get(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)).json()
    assert fetched["enabled"] is False


async def test_failing_for_five_days_disables_and_audits(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Five Days")
    async with (
        Receiver(lambda _r, _i: 500) as failing,
        Receiver() as auditor,
        running_worker(settings, db),
    ):
        hook = await create_webhook(client, tenant, failing.url)
        await create_webhook(client, tenant, auditor.url, ["audit.log.event"])
        await auditor.wait_for(1)
        await set_endpoint(db, hook["id"], "failing_since = now() - interval '5 days 1 minute'")
        await record_event(db, tenant.id)
        await wait_for_rows(
            db,
            "SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].enabled is False,
        )
        await wait_until(
            lambda: any(
                json.loads(r.body)["data"]["action"] == "webhook.disabled" for r in auditor.received
            ),
            5,
            "webhook.disabled on the audit stream",
        )
    assert len(failing.received) == 1
    (delivery,) = await deliveries_of(db, hook["id"])
    assert delivery.status == "cancelled"  # its retry was cancelled with the endpoint
    disabled = [p for a, p in await audit_actions(db, tenant.id) if a == "webhook.disabled"]
    assert disabled[0]["webhook_id"] == hook["id"]
    assert disabled[0]["reason"] == "every delivery attempt failed for 5 days"


async def test_a_recent_failure_streak_does_not_disable(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Four Days")
    async with Receiver(lambda _r, _i: 500) as failing, running_worker(settings, db):
        hook = await create_webhook(client, tenant, failing.url)
        await set_endpoint(db, hook["id"], "failing_since = now() - interval '4 days'")
        await record_event(db, tenant.id)
        await wait_for_rows(
            db,
            "SELECT count(*) AS n FROM webhook_attempts WHERE endpoint_id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].n == 1,
        )
    (row,) = await wait_for_rows(
        db,
        "SELECT enabled, failing_since FROM webhook_endpoints WHERE id = :e",
        {"e": uuid.UUID(hook["id"])},
        lambda rows: True,
    )
    assert row.enabled is True
    assert row.failing_since < datetime.now(UTC) - timedelta(days=3)


async def test_a_success_resets_the_failure_streak(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Recovered")
    async with Receiver() as receiver, running_worker(settings, db):
        hook = await create_webhook(client, tenant, receiver.url)
        await set_endpoint(db, hook["id"], "failing_since = now() - interval '6 days'")
        await record_event(db, tenant.id)
        await wait_for_rows(
            db,
            "SELECT failing_since FROM webhook_endpoints WHERE id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].failing_since is None,
        )
    fetched = (await client.get(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)).json()
    assert fetched["enabled"] is True


async def test_deleted_endpoint_gets_nothing_more(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Deleted")
    slow_retry = settings.model_copy(update={"webhook_retry_schedule": (2,)})

    def respond(_request: Received, index: int) -> int:
        return 200 if index == 0 else 500

    async with Receiver(respond) as receiver, running_worker(slow_retry, db):
        hook = await create_webhook(client, tenant, receiver.url)
        await record_event(db, tenant.id)
        await receiver.wait_for(1)
        await record_event(db, tenant.id)  # answered 500: a retry is scheduled
        await wait_for_rows(
            db,
            "SELECT status FROM webhook_deliveries WHERE endpoint_id = :e ORDER BY created_at",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: [r.status for r in rows] == ["delivered", "retrying"],
        )
        response = await client.delete(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)
        assert response.status_code == 200
        await record_event(db, tenant.id)
        await asyncio.sleep(3)  # past the scheduled retry
    assert len(receiver.received) == 2
    assert [d.status for d in await deliveries_of(db, hook["id"])] == ["delivered", "cancelled"]


async def test_delete_drops_a_send_in_flight(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Delete In Flight")
    release = asyncio.Event()

    async def respond(_request: Received, _index: int) -> int:
        await release.wait()
        return 200

    async with Receiver(respond) as receiver, running_worker(settings, db) as worker:
        hook = await create_webhook(client, tenant, receiver.url)
        await record_event(db, tenant.id)
        await receiver.wait_for(1)
        response = await client.delete(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)
        assert response.status_code == 200
        await wait_until(lambda: worker.in_flight == 0, 5, "the send to be cancelled")
        assert worker.sent == 0
        release.set()
        await asyncio.sleep(0.3)
    (delivery,) = await deliveries_of(db, hook["id"])
    assert delivery.status == "cancelled"
    assert await attempts_of(db, hook["id"]) == []
    assert len(receiver.received) == 1


async def test_redelivery_sends_the_same_delivery_again(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Redeliver", scopes="read,write")
    admin = await factory.key(tenant.id, "admin")
    admin_headers = {"Authorization": f"Bearer {admin['key']}"}
    async with Receiver() as receiver, running_worker(settings, db):
        response = await client.post(
            WEBHOOKS,
            headers=admin_headers,
            json={"url": receiver.url, "events": ["lead.created"]},
        )
        hook = response.json()
        await record_event(db, tenant.id)
        (first,) = await receiver.wait_for(1)
        await wait_for_rows(
            db,
            "SELECT status FROM webhook_deliveries WHERE endpoint_id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: rows[0].status == "delivered",
        )
        url = f"{WEBHOOKS}/{hook['id']}/deliveries/{first.delivery_id}/redeliver"
        response = await client.post(url, headers=tenant.headers)  # a write key suffices
        assert response.status_code == 202, response.text
        second = (await receiver.wait_for(2))[1]
        await wait_for_rows(
            db,
            "SELECT status, attempt FROM webhook_deliveries WHERE endpoint_id = :e",
            {"e": uuid.UUID(hook["id"])},
            lambda rows: (rows[0].status, rows[0].attempt) == ("delivered", 2),
        )
    assert second.delivery_id == first.delivery_id
    assert second.body == first.body
    log = (await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=tenant.headers)).json()
    assert [(i["attempt"], i["status"]) for i in log["data"]] == [
        (2, "delivered"),
        (1, "delivered"),
    ]
