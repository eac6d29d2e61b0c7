"""POST /reviews/request (won leads only, through outreach) and POST /reviews (idempotent)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from eal.config import Settings
from eal.db.engine import Database
from tests.factories import Factory, Tenant
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.outreach.support import (
    OUTREACH,
    clocked_app,
    configure,
    create_lead,
    message_rows,
    twilio_account,
)
from tests.support import assert_error, audit_entries, error_fields

REVIEWS = "/api/v1/reviews"
REVIEW_URL = "https://g.page/r/CbX2example/review"
ACCOUNT = twilio_account()
# Tuesday 2026-11-24, 22:00 in New York: inside the default SMS quiet hours.
TUESDAY_NIGHT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


async def won_lead(client: httpx.AsyncClient, tenant: Tenant, stage: str = "won") -> dict[str, Any]:
    lead = await create_lead(
        client, tenant, name="Dana Whitfield", email="dana@example.com", phone="+14045550173"
    )
    r = await client.patch(
        f"/api/v1/leads/{lead['id']}", json={"pipeline_stage": stage}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    return lead


async def ask(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post(f"{REVIEWS}/request", json=body, headers=tenant.headers)


async def test_a_won_customer_is_asked_through_outreach_and_review_requested_fires(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await factory.tenant("Ask Co")
    await configure(client, tenant, twilio=twilio, account=ACCOUNT)
    lead = await won_lead(client, tenant)
    r = await ask(client, tenant, lead_id=lead["id"], channel="sms", review_url=REVIEW_URL)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["message_id"].startswith("msg_") and body["lead_id"] == lead["id"]
    assert body["channel"] == "sms" and body["status"] == "queued"
    (message,) = await message_rows(db, tenant.id)
    assert message["to_address"] == "+14045550173" and message["purpose"] == "marketing"
    assert REVIEW_URL in message["body"] and "Hi Dana," in message["body"]
    assert "STOP" in message["body"]
    (entry,) = await audit_entries(db, tenant.id, "review.requested")
    assert entry["payload"]["lead_id"] == lead["id"]


@pytest.mark.parametrize("stage", ["new", "contacted", "proposal", "lost"])
async def test_a_lead_whose_job_is_not_won_is_a_conflict(
    client: httpx.AsyncClient, factory: Factory, db: Database, stage: str
) -> None:
    tenant = await factory.tenant(f"Not Won {stage}", environment="test")
    lead = await won_lead(client, tenant, stage)
    r = await ask(client, tenant, lead_id=lead["id"], channel="email", review_url=REVIEW_URL)
    error = assert_error(r, 409, "conflict")
    assert error["details"]["pipeline_stage"] == stage
    assert await message_rows(db, tenant.id) == []
    assert await audit_entries(db, tenant.id, "review.requested") == []


async def test_a_suppressed_customer_is_not_asked(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Suppressed Co", environment="test")
    lead = await won_lead(client, tenant)
    r = await client.post(
        f"{OUTREACH}/suppressions",
        json={"channel": "email", "address": "dana@example.com", "reason": "manual_owner_request"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    r = await ask(client, tenant, lead_id=lead["id"], channel="email", review_url=REVIEW_URL)
    assert_error(r, 422, "suppressed")
    assert await message_rows(db, tenant.id) == []
    assert await audit_entries(db, tenant.id, "review.requested") == []


async def test_quiet_hours_hold_the_text_until_morning(
    settings: Settings, factory: Factory, twilio: FakeTwilio
) -> None:
    async with clocked_app(settings, TUESDAY_NIGHT) as app:
        tenant = await factory.tenant("Night Co")
        await configure(app.client, tenant, twilio=twilio, account=ACCOUNT)
        lead = await won_lead(app.client, tenant)
        r = await ask(app.client, tenant, lead_id=lead["id"], channel="sms", review_url=REVIEW_URL)
    assert r.status_code == 202, r.text
    assert r.json()["scheduled_for"] == "2026-11-25T13:00:00.000Z"  # 08:00 in New York


async def test_bad_requests_are_clear_errors(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Bad Ask Co", environment="test")
    lead = await won_lead(client, tenant)
    for body, field in [
        ({"lead_id": lead["id"], "channel": "fax", "review_url": REVIEW_URL}, "channel"),
        ({"lead_id": lead["id"], "channel": "sms", "review_url": "ftp://x"}, "review_url"),
        ({"lead_id": "nope", "channel": "sms", "review_url": REVIEW_URL}, "lead_id"),
        (
            {"lead_id": lead["id"], "channel": "sms", "review_url": REVIEW_URL, "min_rating": 4},
            "min_rating",
        ),
    ]:
        assert any(field in f for f in error_fields(await ask(client, tenant, **body)))
    r = await ask(client, tenant, lead_id=str(uuid.uuid4()), channel="sms", review_url=REVIEW_URL)
    assert error_fields(r) == ["lead_id"]


# --- recording reviews ----------------------------------------------------------------


def review(**fields: Any) -> dict[str, Any]:
    return {
        "platform": "google",
        "review_id": f"g_{uuid.uuid4().hex[:10]}",
        "rating": 2,
        "text": "Nice people, but the basement was still wet a week later.",
        "author": "Sarah Kim",
        "url": "https://maps.google.com/review/1",
        "created_at": "2026-04-27T18:02:00.000Z",
        **fields,
    }


async def test_a_review_is_recorded_once_and_its_reply_drafted(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Recorded Co")
    body = review()
    first = await client.post(REVIEWS, json=body, headers=tenant.headers)
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["id"].startswith("rev_") and stored["review_id"] == body["review_id"]
    assert stored["sentiment"] == "negative"
    assert stored["created_at"] == "2026-04-27T18:02:00.000Z"
    reply = stored["reply"]
    assert reply["status"] == "pending_owner_approval" and "Sarah" in reply["response_text"]
    (entry,) = await audit_entries(db, tenant.id, "review.received")
    assert entry["payload"]["id"] == stored["id"]
    again = await client.post(REVIEWS, json={**body, "rating": 5}, headers=tenant.headers)
    assert again.status_code == 200, again.text
    assert again.json() == stored
    assert len(await audit_entries(db, tenant.id, "review.received")) == 1
    items = (await client.get("/api/v1/content", headers=tenant.headers)).json()["data"]
    assert [i["id"] for i in items] == [reply["content_id"]]
    # The same id on another platform is another review.
    other = await client.post(REVIEWS, json={**body, "platform": "yelp"}, headers=tenant.headers)
    assert other.status_code == 201


async def test_a_positive_review_gets_a_draft_reply(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Happy Review Co")
    r = await client.post(
        REVIEWS,
        json=review(rating=5, text="Fast, friendly and thorough. Thank you!"),
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["sentiment"] == "positive" and r.json()["reply"]["status"] == "draft"


async def test_bad_reviews_are_422_and_store_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Bad Review Co")
    for fields, field in [
        ({"rating": 0}, "rating"),
        ({"platform": ""}, "platform"),
        ({"created_at": "2026-04-27T18:02:00"}, "created_at"),
        ({"url": "javascript:alert(1)"}, "url"),
    ]:
        r = await client.post(REVIEWS, json=review(**fields), headers=tenant.headers)
        assert any(field in f for f in error_fields(r)), (fields, r.text)
    assert await audit_entries(db, tenant.id, "review.received") == []


async def test_subscribers_get_review_received_and_review_requested(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    from sqlalchemy import text

    tenant = await factory.tenant("Webhook Review Co", environment="test")
    r = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://127.0.0.1:9/hook", "events": ["review.received", "review.requested"]},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    recorded = await client.post(REVIEWS, json=review(text=None, rating=4), headers=tenant.headers)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["reply"]["response_text"]  # stars alone still get a reply
    lead = await won_lead(client, tenant)
    asked = await ask(client, tenant, lead_id=lead["id"], channel="email", review_url=REVIEW_URL)
    assert asked.status_code == 202, asked.text
    async with db.system_transaction() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_type, body FROM webhook_deliveries WHERE organization_id = :org "
                "ORDER BY created_at"
            ),
            {"org": tenant.id},
        )
        deliveries = [(row.event_type, row.body) for row in rows]
    assert [event for event, _ in deliveries] == ["review.received", "review.requested"]
    received = json.loads(deliveries[0][1])
    assert received["data"]["review_id"] == recorded.json()["review_id"]
    assert received["data"]["reply_content_id"] == recorded.json()["reply"]["content_id"]


async def test_reviews_and_leads_of_another_tenant_are_out_of_reach(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    owner = await factory.tenant("Review Owner Co", environment="test")
    other = await factory.tenant("Review Other Co", environment="test")
    body = review()
    assert (await client.post(REVIEWS, json=body, headers=owner.headers)).status_code == 201
    # The same review id is a new review for another organization, with its own reply.
    theirs = await client.post(REVIEWS, json=body, headers=other.headers)
    assert theirs.status_code == 201
    listed = (await client.get("/api/v1/content", headers=other.headers)).json()["data"]
    assert [i["id"] for i in listed] == [theirs.json()["reply"]["content_id"]]
    lead = await won_lead(client, owner)
    r = await ask(client, other, lead_id=lead["id"], channel="sms", review_url=REVIEW_URL)
    assert error_fields(r) == ["lead_id"]
    assert await message_rows(db, other.id) == []
