"""Content items: lists and filters, reads, edits with revisions, tenancy and bad input."""

from __future__ import annotations

import uuid

import httpx

from eal.db.engine import Database
from tests.content.support import CONTENT, content_tenant, insert_blog, review_response
from tests.factories import Factory
from tests.support import assert_error, audit_entries, error_fields


async def test_the_list_has_the_spec_shape_filters_and_pages(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "List Co")
    blogs = [await insert_blog(db, tenant) for _ in range(3)]
    reply = await review_response(client, tenant)
    r = await client.get(CONTENT, headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    assert [item["id"] for item in body["data"]] == [reply["id"], *reversed(blogs)]
    first = body["data"][1]
    assert set(first) >= {
        "id",
        "type",
        "title",
        "status",
        "channel",
        "url",
        "word_count",
        "target_keyword",
        "published_at",
    }
    assert first["type"] == "blog" and first["target_keyword"] == "water damage roswell"
    only_blogs = await client.get(CONTENT, params={"type": "blog"}, headers=tenant.headers)
    assert [i["id"] for i in only_blogs.json()["data"]] == list(reversed(blogs))
    drafts = await client.get(
        CONTENT, params={"status": "draft", "type": "review_response"}, headers=tenant.headers
    )
    assert [i["id"] for i in drafts.json()["data"]] == [reply["id"]]
    none = await client.get(CONTENT, params={"channel": "wordpress"}, headers=tenant.headers)
    assert none.json()["data"] == []
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(CONTENT, params=params, headers=tenant.headers)).json()
        seen += [i["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in body["data"]]
    bad = await client.get(CONTENT, params={"type": "podcast"}, headers=tenant.headers)
    assert "type" in error_fields(bad)


async def test_editing_a_draft_keeps_the_previous_text_as_a_revision(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Edit Co")
    item_id = await insert_blog(db, tenant)
    before = (await client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)).json()
    assert before["revision"] == 1 and before["revisions"] == 0
    new_body = before["body"] + "\n\n## More help\n\nWe answer day and night."
    r = await client.patch(
        f"{CONTENT}/{item_id}",
        json={"title": "Water Damage in Roswell: First Steps", "body": new_body},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["title"] == "Water Damage in Roswell: First Steps"
    assert after["body"] == new_body
    assert after["revision"] == 2 and after["revisions"] == 1
    assert {"level": 2, "text": "More help"} in after["outline"]
    assert after["word_count"] > before["word_count"]
    revisions = (await client.get(f"{CONTENT}/{item_id}/revisions", headers=tenant.headers)).json()
    assert [(x["revision"], x["title"], x["body"]) for x in revisions["data"]] == [
        (1, before["title"], before["body"])
    ]
    assert revisions["next_cursor"] is None
    # The same text again changes nothing and keeps no revision.
    same = await client.patch(
        f"{CONTENT}/{item_id}", json={"body": new_body}, headers=tenant.headers
    )
    assert same.json()["revisions"] == 1
    entries = await audit_entries(db, tenant.id, "content.updated")
    assert [e["payload"]["changed"] for e in entries] == [["body", "title"]]


async def test_only_drafts_can_be_edited(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "No Edit Co")
    published = await insert_blog(db, tenant, status="published")
    r = await client.patch(f"{CONTENT}/{published}", json={"title": "New"}, headers=tenant.headers)
    error = assert_error(r, 409, "conflict")
    assert error["details"]["status"] == "published"
    generating = await insert_blog(db, tenant, status="generating")
    r = await client.patch(f"{CONTENT}/{generating}", json={"title": "x"}, headers=tenant.headers)
    assert_error(r, 409, "conflict")


async def test_bad_edits_are_422_and_change_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Bad Edit Co")
    item_id = await insert_blog(db, tenant)
    for body, field in [
        ({"title": ""}, "title"),
        ({"body": "   "}, "body"),
        ({"status": "published"}, "status"),
        ({"title": "x" * 201}, "title"),
    ]:
        r = await client.patch(f"{CONTENT}/{item_id}", json=body, headers=tenant.headers)
        assert any(field in f for f in error_fields(r)), r.text
    reply = await review_response(client, tenant)
    r = await client.patch(
        f"{CONTENT}/{reply['id']}", json={"meta_description": "x"}, headers=tenant.headers
    )
    assert error_fields(r) == ["meta_description"]
    r = await client.patch(
        f"{CONTENT}/{reply['id']}", json={"body": "é" * 2100}, headers=tenant.headers
    )
    assert error_fields(r) == ["body"]
    item = (await client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)).json()
    assert item["revision"] == 1 and item["revisions"] == 0


async def test_another_tenants_item_is_not_found(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    owner = await content_tenant(client, factory, "Owner Co")
    other = await content_tenant(client, factory, "Other Co")
    item_id = await insert_blog(db, owner)
    for method, path, body in [
        ("GET", f"{CONTENT}/{item_id}", None),
        ("PATCH", f"{CONTENT}/{item_id}", {"title": "Mine now"}),
        ("GET", f"{CONTENT}/{item_id}/revisions", None),
        ("POST", f"{CONTENT}/{item_id}/publish", {"channels": ["wordpress"]}),
        ("POST", f"{CONTENT}/{item_id}/approve", None),
    ]:
        r = await client.request(method, path, json=body, headers=other.headers)
        assert_error(r, 404, "not_found")
    assert (await client.get(CONTENT, headers=other.headers)).json()["data"] == []
    unknown = f"ctnt_{uuid.uuid4().hex}"
    assert_error(await client.get(f"{CONTENT}/{unknown}", headers=owner.headers), 404, "not_found")
    assert_error(await client.get(f"{CONTENT}/nope", headers=owner.headers), 404, "not_found")


async def test_a_read_key_reads_but_cannot_write(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await content_tenant(client, factory, "Read Key Co", scopes="read")
    item_id = await insert_blog(db, tenant)
    assert (await client.get(f"{CONTENT}/{item_id}", headers=tenant.headers)).status_code == 200
    r = await client.patch(f"{CONTENT}/{item_id}", json={"title": "x"}, headers=tenant.headers)
    assert r.status_code == 403
