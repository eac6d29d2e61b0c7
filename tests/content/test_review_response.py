"""POST /content/review-response: sentiment, owner routing, approval, auto-publishing to Google."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from eal.db.engine import Database
from tests.content.support import CONTENT, content_tenant, review_response
from tests.factories import Factory
from tests.integrations.fake_google_business import (
    ACCOUNT_ID,
    LOCATION_ID,
    REVIEW_IDS,
    FakeGoogleBusiness,
    run_fake_google_business,
)
from tests.support import assert_error, audit_entries, error_fields

POLITE_TWO_STARS = (
    "Everyone was very polite and friendly, thank you. Unfortunately the basement was "
    "still damp a week later and nobody called us back."
)
MIXED = (
    "The technicians were friendly and professional, but they left a mess in the garage "
    "and were two days late."
)


@pytest.fixture
def google() -> Iterator[FakeGoogleBusiness]:
    with run_fake_google_business() as fake:
        yield fake


async def test_a_positive_review_gets_a_publishable_reply_in_the_spec_shape(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Reply Co")
    reply = await review_response(client, tenant, tone="warm-professional")
    assert set(reply) >= {"id", "response_text", "sentiment", "auto_publish_recommended"}
    assert reply["id"].startswith("ctnt_")
    assert reply["sentiment"] == "positive"
    assert reply["auto_publish_recommended"] is True
    assert reply["status"] == "draft"
    assert reply["provider"] == "embedded"
    assert "Sarah" in reply["response_text"] and "Kim" not in reply["response_text"]
    assert reply["publication"] is None  # auto-publishing is off by default
    # No owner routing, so no review.received for a happy review through this endpoint.
    assert await audit_entries(db, tenant.id, "review.received") == []
    item = (await client.get(f"{CONTENT}/{reply['id']}", headers=tenant.headers)).json()
    assert item["type"] == "review_response"
    assert item["body"] == reply["response_text"]
    assert item["review"]["sentiment"] == "positive"
    assert item["review"]["rating"] == 5


@pytest.mark.parametrize(
    ("rating", "text", "sentiment"),
    [
        (2, POLITE_TWO_STARS, "negative"),
        (4, MIXED, "mixed"),
        (1, "Terrible. Never again.", "negative"),
    ],
)
async def test_unhappy_reviews_wait_for_the_owner_and_fire_review_received(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    rating: int,
    text: str,
    sentiment: str,
) -> None:
    tenant = await content_tenant(client, factory, f"Owner Routing {rating}")
    reply = await review_response(client, tenant, rating=rating, review_text=text)
    assert reply["sentiment"] == sentiment
    assert reply["auto_publish_recommended"] is False
    assert reply["status"] == "pending_owner_approval"
    entries = await audit_entries(db, tenant.id, "review.received")
    assert len(entries) == 1 and entries[0]["payload"]["content_id"] == reply["id"]
    lowered = reply["response_text"].lower()
    assert "insurance" not in lowered and "refund" not in lowered


async def test_a_pending_reply_is_published_only_after_an_admin_approves_it(
    client: httpx.AsyncClient, factory: Factory, db: Database, google: FakeGoogleBusiness
) -> None:
    admin = await content_tenant(client, factory, "Approval Co", google=google)
    writer_key = await factory.key(admin.id, "write")
    writer = type(admin)(id=admin.id, key=writer_key["key"], key_id=writer_key["id"], org=admin.org)
    reply = await review_response(
        client, writer, rating=2, review_text=POLITE_TWO_STARS, review_id=REVIEW_IDS[0]
    )
    publish = {"channels": ["google_business"]}
    url = f"{CONTENT}/{reply['id']}/publish"
    refused = await client.post(url, json=publish, headers=writer.headers)
    error = assert_error(refused, 409, "conflict")
    assert error["details"]["reason"] == "pending_owner_approval"
    assert google.replies == {}
    forbidden = await client.post(f"{CONTENT}/{reply['id']}/approve", headers=writer.headers)
    assert forbidden.status_code == 403
    approved = await client.post(f"{CONTENT}/{reply['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "draft" and approved.json()["approved_at"]
    assert len(await audit_entries(db, admin.id, "content.approved")) == 1
    again = await client.post(f"{CONTENT}/{reply['id']}/approve", headers=admin.headers)
    assert again.status_code == 200
    assert len(await audit_entries(db, admin.id, "content.approved")) == 1
    published = await client.post(url, json=publish, headers=writer.headers)
    assert published.status_code == 200, published.text
    assert published.json()["results"] == [
        {
            "channel": "google_business",
            "status": "published",
            "url": None,
            "scheduled_for": None,
            "published_at": published.json()["results"][0]["published_at"],
            "error": None,
        }
    ]
    stored = google.replies[(ACCOUNT_ID, LOCATION_ID, REVIEW_IDS[0])]
    assert stored.comment == reply["response_text"]


async def test_approving_a_draft_that_never_waited_is_a_conflict(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await content_tenant(client, factory, "Approve Draft Co")
    reply = await review_response(client, tenant)
    r = await client.post(f"{CONTENT}/{reply['id']}/approve", headers=tenant.headers)
    assert_error(r, 409, "conflict")


async def test_positive_replies_auto_publish_to_google_when_the_owner_allows_it(
    client: httpx.AsyncClient, factory: Factory, google: FakeGoogleBusiness
) -> None:
    tenant = await content_tenant(
        client, factory, "Auto Publish Co", google=google, reviews={"auto_publish_positive": True}
    )
    reply = await review_response(client, tenant, review_id=REVIEW_IDS[1])
    assert reply["status"] == "published"
    assert reply["publication"]["status"] == "published"
    assert (
        google.replies[(ACCOUNT_ID, LOCATION_ID, REVIEW_IDS[1])].comment == reply["response_text"]
    )
    unhappy = await review_response(client, tenant, rating=1, review_text="Awful, still wet.")
    assert unhappy["status"] == "pending_owner_approval" and unhappy["publication"] is None
    assert len(google.replies) == 1


async def test_a_reply_to_a_long_review_fits_googles_limit(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await content_tenant(client, factory, "Long Review Co")
    text = " ".join(
        ["The crew extracted the water, set up the dehumidifiers and dried the hardwood."] * 60
    )
    reply = await review_response(client, tenant, review_text=text[:5000])
    assert len(reply["response_text"].encode("utf-8")) <= 4096


async def test_bad_input_is_a_clear_422_and_stores_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Bad Review Input Co")
    url = f"{CONTENT}/review-response"
    cases = [
        ({"platform": "google", "review_id": "x", "rating": 6, "review_text": "ok"}, "rating"),
        ({"platform": "google", "review_id": "x", "review_text": "ok", "tone": "angry"}, "tone"),
        ({"platform": "google", "review_id": "x", "review_text": "  "}, "review_text"),
        ({"platform": "google", "review_id": "x", "review_text": "ok", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = await client.post(url, json=body, headers=tenant.headers)
        assert any(field in f for f in error_fields(r)), (body, r.text)
    listed = await client.get(CONTENT, headers=tenant.headers)
    assert listed.json()["data"] == []
    assert await audit_entries(db, tenant.id, "content.created") == []
