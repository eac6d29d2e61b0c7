"""POST /content/{id}/publish: WordPress and Google Business Profile, not_configured, schedules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from eal.config import Settings
from eal.content.publishing import PublishContent, publish_scheduled
from eal.content.schemas import Channel
from eal.content.service import PUBLISH_TASK, parse_content_id
from eal.db.engine import Database
from tests.content.support import (
    CONTENT,
    content_tenant,
    insert_blog,
    job_context,
    review_response,
)
from tests.factories import Factory
from tests.integrations.fake_google_business import REVIEW_IDS, run_fake_google_business
from tests.integrations.fake_wordpress import FakeWordPress, run_fake_wordpress
from tests.outreach.support import clocked_app
from tests.support import assert_error, audit_entries, error_fields


@pytest.fixture
def wordpress() -> Iterator[FakeWordPress]:
    with run_fake_wordpress() as fake:
        yield fake


async def publish(
    client: httpx.AsyncClient, headers: dict[str, str], item_id: str, **body: object
) -> httpx.Response:
    return await client.post(f"{CONTENT}/{item_id}/publish", json=body, headers=headers)


async def test_a_blog_post_goes_to_wordpress_and_comes_back_with_its_url(
    client: httpx.AsyncClient, factory: Factory, db: Database, wordpress: FakeWordPress
) -> None:
    tenant = await content_tenant(client, factory, "WP Co", wordpress=wordpress)
    item_id = await insert_blog(db, tenant, slug="water-damage-roswell-first-day")
    r = await publish(client, tenant.headers, item_id, channels=["wordpress", "instagram"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == item_id and body["status"] == "published"
    wp, insta = body["results"]
    post = wordpress.posts[0]
    assert wp["channel"] == "wordpress" and wp["status"] == "published"
    assert (
        wp["url"] == wordpress.link(post) == f"{wordpress.site_url}/water-damage-roswell-first-day/"
    )
    assert insta == {
        "channel": "instagram",
        "status": "not_configured",
        "url": None,
        "scheduled_for": None,
        "published_at": None,
        "error": None,
    }
    assert post.status == "publish" and post.author == "dana.editor"
    assert "<h2>What to do first</h2>" in post.content and "<strong>" in post.content
    item = (await client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)).json()
    assert item["status"] == "published" and item["channel"] == "wordpress"
    assert item["url"] == wp["url"] and item["published_at"]
    # Publishing again answers the stored result: no second post.
    again = await publish(client, tenant.headers, item_id, channels=["wordpress"])
    assert again.json()["results"][0]["url"] == wp["url"]
    assert len(wordpress.posts) == 1
    listed = await client.get(CONTENT, params={"channel": "wordpress"}, headers=tenant.headers)
    assert [i["id"] for i in listed.json()["data"]] == [item_id]
    assert len(await audit_entries(db, tenant.id, "content.published")) == 1


async def test_channels_without_a_connector_are_not_configured_never_published(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "No Connector Co")
    item_id = await insert_blog(db, tenant)
    r = await publish(client, tenant.headers, item_id, channels=["wordpress", "facebook"])
    assert [(x["channel"], x["status"]) for x in r.json()["results"]] == [
        ("wordpress", "not_configured"),
        ("facebook", "not_configured"),
    ]
    assert r.json()["status"] == "draft"


async def test_a_wordpress_refusal_is_that_channels_failure(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    with run_fake_wordpress(can_publish=False) as wordpress:
        tenant = await content_tenant(client, factory, "WP Refused Co", wordpress=wordpress)
        item_id = await insert_blog(db, tenant)
        r = await publish(client, tenant.headers, item_id, channels=["wordpress"])
    result = r.json()["results"][0]
    assert result["status"] == "failed" and "Author role" in result["error"]
    assert "Xk4t" not in result["error"]
    assert r.json()["status"] == "draft"
    assert len(await audit_entries(db, tenant.id, "content.publish_failed")) == 1


async def test_a_test_key_simulates_every_publish(
    client: httpx.AsyncClient, factory: Factory, db: Database, wordpress: FakeWordPress
) -> None:
    tenant = await content_tenant(
        client, factory, "Sandbox Co", environment="test", wordpress=wordpress
    )
    item_id = await insert_blog(db, tenant)
    r = await publish(client, tenant.headers, item_id, channels=["wordpress"])
    assert r.json()["results"][0]["status"] == "simulated"
    assert wordpress.posts == [] and wordpress.requests == []


async def test_channels_that_cannot_take_the_item_and_bad_bodies_are_422(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Wrong Channel Co")
    item_id = await insert_blog(db, tenant)
    for body, field in [
        ({"channels": []}, "channels"),
        ({"channels": ["myspace"]}, "channels"),
        ({"channels": ["wordpress", "wordpress"]}, "channels"),
        ({"channels": ["wordpress"], "scheduled_for": "2030-01-01T10:00:00"}, "scheduled_for"),
    ]:
        r = await client.post(f"{CONTENT}/{item_id}/publish", json=body, headers=tenant.headers)
        assert any(field in f for f in error_fields(r)), r.text
    wrong = await publish(client, tenant.headers, item_id, channels=["google_business"])
    assert assert_error(wrong, 409, "conflict")["details"] == {
        "channel": "google_business",
        "type": "blog",
    }
    reply = await review_response(client, tenant)
    r = await publish(client, tenant.headers, reply["id"], channels=["wordpress"])
    assert_error(r, 409, "conflict")
    yelp = await review_response(client, tenant, platform="yelp")
    r = await publish(client, tenant.headers, yelp["id"], channels=["google_business"])
    assert assert_error(r, 409, "conflict")["details"]["platform"] == "yelp"
    generating = await insert_blog(db, tenant, status="generating")
    assert_error(
        await publish(client, tenant.headers, generating, channels=["wordpress"]), 409, "conflict"
    )


async def test_a_google_review_reply_is_published_through_the_business_profile_api(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    with run_fake_google_business() as google:
        tenant = await content_tenant(client, factory, "GBP Co", google=google)
        reply = await review_response(client, tenant, review_id=REVIEW_IDS[0])
        r = await publish(client, tenant.headers, reply["id"], channels=["google_business"])
        assert r.json()["results"][0]["status"] == "published"
        (stored,) = google.replies.values()
        assert stored.comment == reply["response_text"]
        google.fail_next(1, 404)
        other = await review_response(client, tenant, review_id="gone")
        r = await publish(client, tenant.headers, other["id"], channels=["google_business"])
        assert r.json()["results"][0]["status"] == "failed"


START = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


async def test_a_scheduled_post_is_published_by_the_job_at_its_time(
    settings: Settings, factory: Factory, db: Database, wordpress: FakeWordPress
) -> None:
    async with clocked_app(settings, START) as app:
        tenant = await content_tenant(app.client, factory, "Scheduled Co", wordpress=wordpress)
        item_id = await insert_blog(db, tenant)
        at = START + timedelta(hours=3)
        r = await publish(
            app.client,
            tenant.headers,
            item_id,
            channels=["wordpress"],
            scheduled_for=at.isoformat(),
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "scheduled"
        assert r.json()["results"][0]["status"] == "scheduled"
        assert r.json()["results"][0]["scheduled_for"] == "2026-05-04T17:00:00.000Z"
        payload = PublishContent(content_id=parse_content_id(item_id), channel=Channel.WORDPRESS)
        ctx = job_context(app.runtime, tenant, PUBLISH_TASK)
        app.clock.advance(timedelta(hours=2))
        await publish_scheduled(ctx, payload)  # early: nothing happens yet
        assert wordpress.posts == []
        item = (await app.client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)).json()
        assert item["status"] == "scheduled" and item["channel"] == "wordpress"
        app.clock.advance(timedelta(hours=1, seconds=1))
        await publish_scheduled(ctx, payload)
        assert len(wordpress.posts) == 1
        await publish_scheduled(ctx, payload)  # a second run publishes nothing more
        assert len(wordpress.posts) == 1
        item = (await app.client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)).json()
        assert item["status"] == "published"
        assert item["publications"][0]["status"] == "published"
        assert item["url"] == wordpress.link(wordpress.posts[0])
        assert item["published_at"] == "2026-05-04T17:00:01.000Z"
        # A time in the past publishes at once.
        now_item = await insert_blog(db, tenant)
        past = (START - timedelta(days=1)).isoformat()
        r = await publish(
            app.client, tenant.headers, now_item, channels=["wordpress"], scheduled_for=past
        )
        assert r.json()["results"][0]["status"] == "published"
