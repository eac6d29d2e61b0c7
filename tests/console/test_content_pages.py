"""Content in the console: the owner approves a reply; managers edit and publish."""

from __future__ import annotations

from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory, Tenant
from tests.support import audit_entries


async def negative_reply(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/content/review-response",
        json={
            "platform": "google",
            "review_id": "g_console_1",
            "rating": 2,
            "review_text": "They came fast but left mud all over the carpet and never called back.",
            "reviewer_name": "Sam",
        },
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    reply: dict[str, Any] = r.json()
    assert reply["status"] == "pending_owner_approval"
    return reply


async def test_a_reply_is_edited_by_a_manager_and_approved_by_the_owner(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Content Co", environment="test")
    reply = await negative_reply(client, tenant)
    manager = await add_user(db, tenant.id, "manager@example.com", "manager")
    owner = await add_user(db, tenant.id, "owner@example.com", "owner")
    async with browser(app) as m:
        await sign_in(m, manager)
        waiting = await m.get("/console/content?type=review_response&status=pending_owner_approval")
        assert reply["id"] in waiting.text
        shown = await m.get(f"/console/content/{reply['id']}")
        assert (
            "Only an owner can approve it." in shown.text and "Approve the reply" not in shown.text
        )
        csrf = form_token(shown)
        refused = await m.post(f"/console/content/{reply['id']}/approve", data={"csrf_token": csrf})
        assert refused.status_code == 403
        saved = await m.post(
            f"/console/content/{reply['id']}/edit",
            data={
                "csrf_token": csrf,
                "body": "Sam, we are sorry about the carpet. Our manager will call you today.",
            },
        )
        assert saved.status_code == 303
        blank = await m.post(
            f"/console/content/{reply['id']}/edit", data={"csrf_token": csrf, "body": "  "}
        )
        assert blank.status_code == 422
    async with browser(app) as o:
        await sign_in(o, owner)
        shown = await o.get(f"/console/content/{reply['id']}")
        assert "we are sorry about the carpet" in shown.text
        approved = await o.post(
            f"/console/content/{reply['id']}/approve", data={"csrf_token": form_token(shown)}
        )
        assert approved.status_code == 303
        after = await o.get(approved.headers["location"])
        assert "Approved: the reply may be published now." in after.text
        published = await o.post(
            f"/console/content/{reply['id']}/publish",
            data={"csrf_token": form_token(after), "channel_google_business": "on"},
        )
        assert published.status_code == 200, published.text
        # No Google Business Profile connector: the result says so, per channel.
        assert "not configured" in published.text
        none = await o.post(
            f"/console/content/{reply['id']}/publish", data={"csrf_token": form_token(after)}
        )
        assert none.status_code == 422 and "Choose at least one channel" in none.text
    assert len(await audit_entries(db, tenant.id, "content.approved")) == 1


async def test_a_session_opened_with_a_test_key_only_simulates(
    app: Any, client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Console Test Key Co", environment="test")
    reply = await negative_reply(client, tenant)
    async with browser(app) as o:
        login = await o.get("/console/login")
        opened = await o.post(
            "/console/key", data={"csrf_token": form_token(login), "api_key": tenant.key}
        )
        assert opened.status_code == 303
        shown = await o.get(f"/console/content/{reply['id']}")
        approved = await o.post(
            f"/console/content/{reply['id']}/approve", data={"csrf_token": form_token(shown)}
        )
        assert approved.status_code == 303
        published = await o.post(
            f"/console/content/{reply['id']}/publish",
            data={"csrf_token": form_token(shown), "channel_google_business": "on"},
        )
        assert published.status_code == 200 and "simulated" in published.text
