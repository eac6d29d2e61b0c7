"""POST /content/blog: 202 `generating`, the job's draft, the LLM path and its fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import eal.content.tasks  # noqa: F401  (registers the content tasks)
from eal.ai.blog import compose_blog, sentence_key
from eal.ai.content_checks import sentences_of
from eal.config import Settings
from eal.content.generation import ComposeBlog, blog_request_of, compose
from eal.content.service import BLOG_TASK, parse_content_id
from eal.content.settings import ContentConfig
from eal.db.engine import Database
from eal.jobs.registry import TASKS
from eal.runtime import Runtime
from tests.content.support import CONTENT, PHONE, content_tenant, job_context
from tests.factories import Factory, Tenant
from tests.integrations.fake_llm import FakeLlm, run_fake_llm
from tests.jobs.support import job_worker
from tests.outreach.support import clocked_app, wait_until
from tests.support import audit_entries, error_fields

BLOG = {
    "target_keyword": "water damage roswell",
    "service_area": {"city": "Roswell", "region": "GA", "postal_code": "30075"},
    "service_type": "water_damage",
    "word_count_target": 1200,
}
PROFILE = {"phone": PHONE, "website": "https://example.com"}
START = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


async def start_blog(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    r = await client.post(f"{CONTENT}/blog", json={**BLOG, **fields}, headers=tenant.headers)
    assert r.status_code == 202, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_a_blog_draft_is_composed_by_the_job_and_passes_its_checks(
    client: httpx.AsyncClient, factory: Factory, db: Database, runtime: Runtime
) -> None:
    tenant = await content_tenant(client, factory, "Blog Co", profile=PROFILE)
    created = await start_blog(client, tenant)
    assert created["status"] == "generating" and created["type"] == "blog"
    assert created["title"] is None and created["target_keyword"] == "water damage roswell"

    async def drafted() -> dict[str, Any] | None:
        r = await client.get(f"{CONTENT}/{created['id']}", headers=tenant.headers)
        item: dict[str, Any] = r.json()
        return item if item["status"] != "generating" else None

    async with job_worker(runtime, [TASKS[BLOG_TASK]]):
        item = await wait_until(drafted, within=30, what="the blog draft")
    assert item["status"] == "draft", item
    assert item["provider"] == "embedded"
    assert "water damage roswell" in item["title"].lower() and len(item["title"]) <= 70
    assert len(item["meta_description"]) <= 160
    assert abs(item["word_count"] - 1200) <= 120
    assert item["estimated_read_time_min"] == -(-item["word_count"] // 238)
    assert item["seo_checks"] and all(c["passed"] for c in item["seo_checks"]), item["seo_checks"]
    assert any(o["level"] == 2 for o in item["outline"])
    assert PHONE[-4:] in item["body"] and "Blog Co" in item["body"]
    assert [
        e["payload"]["provider"]
        for e in await audit_entries(db, tenant.id)
        if e["action"] == "content.generated"
    ] == ["embedded"]
    # Editing the draft checks it again against the same request.
    r = await client.patch(
        f"{CONTENT}/{item['id']}", json={"title": "Our Services"}, headers=tenant.headers
    )
    checks = {c["name"]: c["passed"] for c in r.json()["seo_checks"]}
    assert checks["title_keyword"] is False


async def test_an_organizations_posts_for_two_cities_share_at_most_one_sentence(
    client: httpx.AsyncClient, factory: Factory, runtime: Runtime
) -> None:
    tenant = await content_tenant(client, factory, "Two Cities Co", profile=PROFILE)
    asked = {"target_keyword": "water damage help", "word_count_target": 2000}
    places = [
        {"city": "Roswell", "region": "GA", "postal_code": "30075"},
        {"city": "Marietta", "region": "GA", "postal_code": "30060"},
    ]
    bodies = []
    for area in places:
        created = await start_blog(client, tenant, service_area=area, **asked)

        async def drafted(item_id: str = created["id"]) -> dict[str, Any] | None:
            r = await client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)
            item: dict[str, Any] = r.json()
            return item if item["status"] != "generating" else None

        async with job_worker(runtime, [TASKS[BLOG_TASK]]):
            item = await wait_until(drafted, within=30, what="the blog draft")
        assert all(c["passed"] for c in item["seo_checks"]), item["seo_checks"]
        bodies.append({sentence_key(s) for s in sentences_of(item["body"])})
    assert len(bodies[0] & bodies[1]) <= 1, sorted(bodies[0] & bodies[1])


async def test_bad_blog_requests_are_422_and_store_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Bad Blog Co")
    for fields, field in [
        ({"word_count_target": 299}, "word_count_target"),
        ({"word_count_target": 4001}, "word_count_target"),
        ({"service_type": "plumbing"}, "service_type"),
        ({"service_area": {"city": "Roswell", "region": "Georgia"}}, "region"),
        ({"service_area": {"city": "Roswell", "region": "GA", "postal_code": "3007"}}, "postal"),
        ({"target_keyword": ""}, "target_keyword"),
    ]:
        r = await client.post(f"{CONTENT}/blog", json={**BLOG, **fields}, headers=tenant.headers)
        assert any(field in f for f in error_fields(r)), (fields, r.text)
    assert (await client.get(CONTENT, headers=tenant.headers)).json()["data"] == []
    assert await audit_entries(db, tenant.id, "content.created") == []


# --- the LLM path ---------------------------------------------------------------------


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    with run_fake_llm(content="{}") as fake:
        yield fake


def llm_settings(settings: Settings, llm: FakeLlm) -> Settings:
    return settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_model": "test-model", "llm_timeout_seconds": 5.0}
    )


def good_answer(name: str) -> str:
    """What a capable LLM writes: a post that passes every check (its own meta description)."""
    request = blog_request_of(
        BLOG, name=name, config=ContentConfig.from_settings({"profile": PROFILE})
    )
    draft = compose_blog(request)
    return json.dumps(
        {
            "title": draft.title,
            "meta_description": "Fast water damage roswell help from a local crew.",
            "body_markdown": draft.body_markdown,
        }
    )


async def run_compose(app: Any, tenant: Tenant, item_id: str) -> dict[str, Any]:
    ctx = job_context(app.runtime, tenant, BLOG_TASK)
    await compose(ctx, ComposeBlog(content_id=parse_content_id(item_id)))
    r = await app.client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)
    item: dict[str, Any] = r.json()
    return item


async def test_the_llm_writes_the_post_when_its_answer_passes_every_check(
    settings: Settings, factory: Factory, llm: FakeLlm
) -> None:
    async with clocked_app(llm_settings(settings, llm), START) as app:
        tenant = await content_tenant(app.client, factory, "LLM Blog Co", profile=PROFILE)
        llm.set_content(good_answer("LLM Blog Co"))
        created = await start_blog(app.client, tenant)
        item = await run_compose(app, tenant, created["id"])
    assert item["provider"] == "llm:test-model"
    assert item["meta_description"] == "Fast water damage roswell help from a local crew."
    assert all(c["passed"] for c in item["seo_checks"])
    (chat,) = [c for c in llm.chats if "water damage roswell" in c.content_of("user")]
    assert "Roswell, GA" in chat.content_of("user") and PHONE in chat.content_of("user")


@pytest.mark.parametrize("failure", ["status", "not_json", "fails_checks"])
async def test_the_embedded_composer_writes_when_the_llm_fails(
    settings: Settings, factory: Factory, llm: FakeLlm, failure: str
) -> None:
    async with clocked_app(llm_settings(settings, llm), START) as app:
        tenant = await content_tenant(app.client, factory, f"Fallback {failure}", profile=PROFILE)
        if failure == "status":
            llm.fail_next(1, 500)
        elif failure == "not_json":
            llm.set_content("Here is your post: water is bad.")
        else:
            llm.set_content(
                json.dumps({"title": "Mold", "meta_description": "x", "body_markdown": "Short."})
            )
        created = await start_blog(app.client, tenant)
        item = await run_compose(app, tenant, created["id"])
    assert item["status"] == "draft"
    assert item["provider"] == "embedded"
    assert all(c["passed"] for c in item["seo_checks"])


async def test_an_organization_can_keep_its_posts_off_the_llm(
    settings: Settings, factory: Factory, llm: FakeLlm
) -> None:
    async with clocked_app(llm_settings(settings, llm), START) as app:
        tenant = await content_tenant(
            app.client, factory, "No LLM Co", profile=PROFILE, ai={"llm_enabled": False}
        )
        created = await start_blog(app.client, tenant)
        item = await run_compose(app, tenant, created["id"])
    assert item["provider"] == "embedded"
    assert not [c for c in llm.chats if "No LLM Co" in c.content_of("user")]
