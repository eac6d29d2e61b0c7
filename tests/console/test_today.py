"""Today: the figures count this organization's work only, under its row-level security."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from eal.db.engine import Database
from tests.console.support import add_user, browser, sign_in
from tests.factories import Factory, Tenant


async def _activity(client: Any, db: Database, tenant: Tenant) -> None:
    """Two leads, a call for owner review, a claim to review, a reply to approve,
    a failing webhook endpoint."""
    h = tenant.headers
    for email in ("a@example.com", "b@example.com"):
        assert (
            await client.post("/api/v1/leads", json={"email": email}, headers=h)
        ).status_code == 201
    call = await client.post(
        "/api/v1/calls",
        json={
            "tracking_number": "+17705550199",
            "caller_number": "+14045550173",
            "received_at": "2026-12-03T06:00:00Z",
        },
        headers=h,
    )
    claim = await client.post("/api/v1/claims", json={"loss_type": "mold"}, headers=h)
    reply = await client.post(
        "/api/v1/content/review-response",
        json={
            "platform": "google",
            "review_id": "r_today",
            "rating": 1,
            "review_text": "Nobody called back and the crew left a mess.",
        },
        headers=h,
    )
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},
        headers=h,
    )
    assert call.status_code == 201 and claim.status_code == 202 and hook.status_code == 201
    assert reply.json()["status"] == "pending_owner_approval", reply.text
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE calls SET dispatch_action = 'owner_review', received_at = now() "
                "WHERE organization_id = :org"
            ),
            {"org": tenant.id},
        )
        await conn.execute(
            text("UPDATE claims SET status = 'ready_for_review' WHERE organization_id = :org"),
            {"org": tenant.id},
        )
        await conn.execute(
            text("UPDATE webhook_endpoints SET failing_since = now() WHERE organization_id = :org"),
            {"org": tenant.id},
        )


def _figure(html: str, label: str) -> int:
    marker = f"</span> {label}"
    before = html[: html.index(marker)]
    return int(before.rsplit('<span class="figure">', 1)[1])


async def test_today_counts_this_organization_only(
    app: Any, client: Any, factory: Factory, db: Database
) -> None:
    busy = await factory.tenant("Today Busy Co")
    quiet = await factory.tenant("Today Quiet Co")
    await _activity(client, db, busy)
    link = await add_user(db, quiet.id, "quiet@example.com", "staff")
    async with browser(app) as reader:
        await sign_in(reader, link)
        page = (await reader.get("/console")).text
        assert _figure(page, "new leads") == 0 and _figure(page, "calls") == 0
        assert "Nothing is waiting" in page
    link = await add_user(db, busy.id, "busy@example.com", "staff")
    async with browser(app) as reader:
        await sign_in(reader, link)
        page = (await reader.get("/console")).text
    assert _figure(page, "new leads") == 2
    assert _figure(page, "calls") == 1
    assert _figure(page, "calls for owner review (last 7 days)") == 1
    assert _figure(page, "claims to review") == 1
    assert _figure(page, "review replies to approve") == 1
    assert _figure(page, "webhook endpoints failing") == 1
