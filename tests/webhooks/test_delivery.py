"""End-to-end delivery: a real worker, real PostgreSQL and a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import standardwebhooks
from sqlalchemy import text

from eal import events
from eal.config import Settings
from eal.db.engine import Database
from eal.events import Action
from eal.kit.clock import ManualClock, isoformat
from eal.webhooks import WebhookVerificationError, verify
from eal.webhooks.delivery import valid_secrets
from tests.factories import Factory
from tests.support import tenant_tx
from tests.webhooks.support import (
    WEBHOOKS,
    Receiver,
    create_webhook,
    deliveries_of,
    record_event,
    running_worker,
    standard_verify,
    wait_for_rows,
    wait_until,
)


async def test_delivery_body_headers_and_both_signature_schemes(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Basic", environment="test")
    async with Receiver() as receiver, running_worker(settings, db):
        hook = await create_webhook(client, tenant, receiver.url, ["lead.created"])
        secret = hook["signing_secret"]
        lead = {"id": str(uuid.uuid4()), "full_name": "Dana Whitfield", "score": 87}
        event = await record_event(db, tenant.id, "lead.created", lead)
        (request,) = await receiver.wait_for(1)

    assert request.method == "POST" and request.path == "/hook"
    assert json.loads(request.body) == {
        "id": f"evt_{event.id.hex}",
        "type": "lead.created",
        "created_at": isoformat(event.created_at),
        "organization_id": str(tenant.id),
        "data": lead,
    }
    (delivery,) = await deliveries_of(db, hook["id"])
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-eal-event"] == "lead.created"
    assert headers["x-eal-delivery"] == headers["webhook-id"] == f"whd_{delivery.id.hex}"
    assert headers["x-eal-timestamp"] == headers["webhook-timestamp"]
    assert abs(int(headers["x-eal-timestamp"]) - time.time()) < 30
    assert headers["x-eal-signature"].startswith(f"t={headers['x-eal-timestamp']},v1=")

    verify(secret, headers, request.body)
    assert standard_verify(secret, request) == json.loads(request.body)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, request.body + b" ")
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(request.body + b" ", headers)

    await wait_for_rows(
        db,
        "SELECT status FROM webhook_deliveries WHERE id = :id",
        {"id": delivery.id},
        lambda rows: rows[0].status == "delivered",
    )
    log = (await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=tenant.headers)).json()
    (item,) = log["data"]
    assert item["id"] == f"whd_{delivery.id.hex}"
    assert (item["event"], item["status"], item["response_status"], item["attempt"]) == (
        "lead.created",
        "delivered",
        200,
        1,
    )
    assert isinstance(item["latency_ms"], int) and item["delivered_at"].endswith("Z")
    fetched = (await client.get(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)).json()
    assert fetched["last_delivery_status"] == 200 and fetched["last_delivery_at"]


async def test_only_subscribers_of_the_event_and_audit_stream_receive_it(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Routing")
    other = await factory.tenant("Deliver Routing Other")
    async with (
        Receiver() as created_rx,
        Receiver() as updated_rx,
        Receiver() as audit_rx,
        Receiver() as foreign_rx,
        running_worker(settings, db),
    ):
        await create_webhook(client, tenant, created_rx.url, ["lead.created"])
        await create_webhook(client, tenant, updated_rx.url, ["lead.updated"])
        await create_webhook(client, tenant, audit_rx.url, ["audit.log.event"])
        await create_webhook(client, other, foreign_rx.url, ["lead.created", "audit.log.event"])
        baseline = len(await audit_rx.wait_for(1))  # its own webhook.created
        lead_event = await record_event(db, tenant.id, "lead.created")
        org_event = await record_event(db, tenant.id, "organization.updated")
        await created_rx.wait_for(1)
        audit_requests = await audit_rx.wait_for(baseline + 2)
        await asyncio.sleep(0.3)

    assert len(created_rx.received) == 1
    assert updated_rx.received == []
    assert len(foreign_rx.received) == 1  # only its own webhook.created entry
    assert json.loads(foreign_rx.received[0].body)["data"]["action"] == "webhook.created"
    bodies = [json.loads(r.body) for r in audit_requests[baseline:]]
    assert [b["type"] for b in bodies] == ["audit.log.event", "audit.log.event"]
    assert [b["data"]["id"] for b in bodies] == [str(lead_event.id), str(org_event.id)]
    assert bodies[0]["data"]["action"] == "lead.created"
    assert bodies[1]["data"]["action"] == "organization.updated"
    # The audit-stream event is another event than lead.created: its own stable id.
    assert bodies[0]["id"] == f"evt_{uuid.uuid5(lead_event.id, 'audit.log.event').hex}"
    assert json.loads(created_rx.received[0].body)["id"] == f"evt_{lead_event.id.hex}"


async def test_rolled_back_transaction_produces_no_delivery(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Rollback")
    async with Receiver() as receiver, running_worker(settings, db):
        hook = await create_webhook(client, tenant, receiver.url, ["lead.created"])
        rolled_back: list[uuid.UUID] = []
        with pytest.raises(RuntimeError):
            async with tenant_tx(db, tenant.id) as tx:
                event = await events.record(tx, Action.LEAD_CREATED, {}, data={"n": 1})
                rolled_back.append(event.id)
                raise RuntimeError("the change failed after recording")
        committed = await record_event(db, tenant.id, "lead.created", {"n": 2})
        (request,) = await receiver.wait_for(1)
        await asyncio.sleep(0.5)

    assert len(receiver.received) == 1
    assert json.loads(request.body)["data"] == {"n": 2}
    assert [d.event_id for d in await deliveries_of(db, hook["id"])] == [committed.id]
    async with db.system_transaction() as conn:
        orphans = await conn.scalar(
            text("SELECT count(*) FROM webhook_deliveries WHERE event_id = :e"),
            {"e": rolled_back[0]},
        )
    assert orphans == 0


def test_signing_secrets_follow_the_rotation_window() -> None:
    now = datetime(2026, 4, 27, 12, 0, tzinfo=UTC)
    expires = now + timedelta(hours=24)
    assert valid_secrets("new", "old", expires, now) == ["new", "old"]
    assert valid_secrets("new", "old", expires, expires - timedelta(seconds=1)) == ["new", "old"]
    assert valid_secrets("new", "old", expires, expires) == ["new"]
    assert valid_secrets("new", "old", expires, now + timedelta(hours=25)) == ["new"]
    assert valid_secrets("new", None, None, now) == ["new"]


async def test_rotation_overlap_signs_with_both_secrets_then_only_the_new(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Rotation")
    clock = ManualClock()  # the sender's clock decides which secrets are still valid
    async with Receiver() as receiver, running_worker(settings, db, clock=clock):
        hook = await create_webhook(client, tenant, receiver.url, ["lead.updated"])
        old = hook["signing_secret"]
        rotated = await client.post(
            f"{WEBHOOKS}/{hook['id']}/rotate-secret", headers=tenant.headers
        )
        new = rotated.json()["signing_secret"]
        await record_event(db, tenant.id, "lead.updated")
        (during,) = await receiver.wait_for(1)

        # A day later: the old secret no longer signs.
        clock.advance(timedelta(hours=24, seconds=1))
        await record_event(db, tenant.id, "lead.updated")
        after = (await receiver.wait_for(2))[1]

    assert during.headers["x-eal-signature"].count("v1=") == 2
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        verify(secret, during.headers, during.body)
        standard_verify(secret, during)

    assert after.headers["x-eal-signature"].count("v1=") == 1
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    verify(new, after.headers, after.body)
    standard_verify(new, after)
    with pytest.raises(WebhookVerificationError):
        verify(old, after.headers, after.body)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standard_verify(old, after)


async def test_send_time_check_refuses_private_targets_without_the_dev_flag(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Refused")
    strict = settings.model_copy(
        update={"allow_private_webhook_urls": False, "webhook_retry_schedule": (60,)}
    )
    async with Receiver() as receiver:
        hook = await create_webhook(client, tenant, receiver.url)
        async with running_worker(strict, db):
            await record_event(db, tenant.id)
            (attempt,) = await wait_for_rows(
                db,
                "SELECT * FROM webhook_attempts WHERE endpoint_id = :e",
                {"e": uuid.UUID(hook["id"])},
                lambda rows: len(rows) == 1,
            )
    assert receiver.received == []
    assert attempt.status == "retrying" and attempt.response_status is None
    assert attempt.error.startswith("refused: host resolves to a private or reserved address")


async def test_notify_wakes_an_idle_worker_at_once(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Deliver Notify")
    async with Receiver() as receiver, running_worker(settings, db, poll_interval=60):
        await create_webhook(client, tenant, receiver.url)
        latencies = []
        for n in range(5):
            await asyncio.sleep(0.2)  # the queue is empty and the worker idle
            await record_event(db, tenant.id)
            committed = time.time()
            request = (await receiver.wait_for(n + 1, within=5))[n]
            latencies.append(request.at - committed)
    # Polling every 60 s could never do this; NOTIFY on commit does. The bound on
    # the slowest leaves room for a pause of the test process itself (a full
    # garbage collection late in a long run); the typical wake is immediate.
    assert max(latencies) < 10, latencies
    assert sorted(latencies)[len(latencies) // 2] < 0.5, latencies
    assert sorted(latencies)[2] < 0.1, latencies


async def test_readme_receiver_accepts_real_deliveries(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    """The receiver shown in the README and in verify()'s docstring, run as written."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    tenant = await factory.tenant("Deliver README")
    accepted: list[str] = []
    secret_holder: list[str] = []

    class Receiver_(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                verify(secret_holder[0], dict(self.headers.items()), body)
            except WebhookVerificationError:
                return self.send_error(400)
            accepted.append(self.headers["X-EAL-Delivery"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver_)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        async with running_worker(settings, db):
            hook = await create_webhook(client, tenant, url)
            secret_holder.append(hook["signing_secret"])
            await record_event(db, tenant.id)
            await wait_until(lambda: len(accepted) == 1, 10, "the README receiver")
            rows = await wait_for_rows(
                db,
                "SELECT status, response_status FROM webhook_deliveries WHERE endpoint_id = :e",
                {"e": uuid.UUID(hook["id"])},
                lambda rows: rows[0].status == "delivered",
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert rows[0].response_status == 204
