"""Calls in the console: filters, a call's page, and a correction (audited)."""

from __future__ import annotations

from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory, Tenant
from tests.support import audit_entries


async def make_call(client: httpx.AsyncClient, tenant: Tenant, **extra: Any) -> dict[str, Any]:
    """A stored call (not classified yet: no worker runs here)."""
    r = await client.post(
        "/api/v1/calls",
        json={
            "tracking_number": "+17705550199",
            "caller_number": "+14045550173",
            "received_at": "2026-12-02T15:30:00Z",
            "duration_seconds": 95,
            "caller_name": "Maria Lopez",
            "transcript": "Hola, my water heater burst and the basement is flooding.",
            **extra,
        },
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    call: dict[str, Any] = r.json()
    return call


async def test_a_call_is_corrected_from_its_page_and_the_list_follows(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Calls Co")
    call = await make_call(client, tenant)
    await make_call(client, tenant, received_at="2026-11-20T10:00:00Z", caller_name="Old Caller")
    link = await add_user(db, tenant.id, "office@example.com", "staff")
    async with browser(app) as office:
        await sign_in(office, link)
        listed = await office.get("/console/calls")
        assert listed.status_code == 200 and listed.text.count("Not classified yet") == 2
        dated = await office.get("/console/calls?start=2026-12-01&end=2026-12-03")
        assert dated.text.count('href="/console/calls/call_') == 1
        bad = await office.get("/console/calls?start=12/01/2026")
        assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text

        shown = await office.get(f"/console/calls/{call['id']}")
        assert shown.status_code == 200
        assert "Call from Maria Lopez" in shown.text and "water heater burst" in shown.text
        url = f"/console/calls/{call['id']}/classification"
        wrong = await office.post(url, data={"csrf_token": form_token(shown), "intent": "flood"})
        assert wrong.status_code == 422 and 'role="alert"' in wrong.text
        forged = await office.post(url, data={"csrf_token": "x", "intent": "water"})
        assert forged.status_code == 403
        saved = await office.post(
            url,
            data={
                "csrf_token": form_token(shown),
                "intent": "water",
                "urgency": "high",
                "qualified": "yes",
                "note": "Burst heater, called back",
            },
        )
        assert saved.status_code == 303
        after = await office.get(saved.headers["location"])
        assert "The correction is saved" in after.text and "corrected by a person" in after.text
        water = await office.get("/console/calls?classification=water&urgency=high")
        assert water.text.count('href="/console/calls/call_') == 1
    (entry,) = await audit_entries(db, tenant.id, "call.corrected")
    assert entry["payload"]["note"] == "Burst heater, called back" or "note" in str(
        entry["payload"]
    )
    api = await client.get(f"/api/v1/calls/{call['id']}", headers=tenant.headers)
    assert api.json()["classification"]["intent"] == "water"
    assert api.json()["classification"]["corrected"] is True


async def test_another_organizations_call_is_a_404_page(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    owner = await factory.tenant("Console Calls Owner")
    other = await factory.tenant("Console Calls Other")
    call = await make_call(client, owner)
    link = await add_user(db, other.id, "nosy@example.com", "staff")
    async with browser(app) as nosy:
        await sign_in(nosy, link)
        page = await nosy.get(f"/console/calls/{call['id']}")
        assert page.status_code == 404 and "Maria Lopez" not in page.text
        forged = await nosy.get("/console")
        csrf = form_token(forged)
        refused = await nosy.post(
            f"/console/calls/{call['id']}/classification",
            data={"csrf_token": csrf, "intent": "water", "urgency": "low", "qualified": "no"},
        )
        assert refused.status_code == 404
    api = await client.get(f"/api/v1/calls/{call['id']}", headers=owner.headers)
    assert api.json()["classification"] is None


async def test_a_manager_dispatches_a_held_call_by_hand(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    from sqlalchemy import text

    tenant = await factory.tenant("Console Dispatch Co")
    call = await make_call(client, tenant)
    async with db.system_transaction() as conn:
        await conn.execute(
            text(
                "UPDATE calls SET status = 'classified', intent = 'water', urgency = 'high', "
                "qualified = true, confidence = 0.9, dispatch_action = 'owner_review', "
                "decision = jsonb_build_object('action', 'owner_review', 'reason', "
                "'outside the service area', 'sms_callback_sent', false, "
                "'job_created_in_jobnimbus', null, 'decided_at', to_jsonb(now()), 'simulated', false, "
                "'lead_id', null, 'error', null, 'notify_on_call', false, 'transcript', true) "
                "WHERE organization_id = :org"
            ),
            {"org": tenant.id},
        )
    staff = await add_user(db, tenant.id, "staff@dispatch.example", "staff")
    manager = await add_user(db, tenant.id, "manager@dispatch.example", "manager")
    async with browser(app) as s:
        await sign_in(s, staff)
        shown = await s.get(f"/console/calls/{call['id']}")
        assert "Owner review" in shown.text and "Dispatch now" not in shown.text
        refused = await s.post(
            f"/console/calls/{call['id']}/dispatch", data={"csrf_token": form_token(shown)}
        )
        assert refused.status_code == 403
    async with browser(app) as m:
        await sign_in(m, manager)
        shown = await m.get(f"/console/calls/{call['id']}")
        done = await m.post(
            f"/console/calls/{call['id']}/dispatch", data={"csrf_token": form_token(shown)}
        )
        assert done.status_code == 303
        after = await m.get(done.headers["location"])
        assert (
            "Dispatched automatically" in after.text
            and "dispatched by hand by manager@dispatch.example" in after.text
        )
        again = await m.post(
            f"/console/calls/{call['id']}/dispatch", data={"csrf_token": form_token(shown)}
        )
        assert again.status_code == 409 and "dispatched already" in again.text
    async with db.system_transaction() as conn:
        queued = await conn.scalar(
            text(
                "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'calls.dispatch' "
                "AND convert_from(payload, 'UTF8') LIKE :org"
            ),
            {"org": f'%"organization_id":"{tenant.id}"%'},
        )
    assert queued == 1
    decided = await audit_entries(db, tenant.id, "call.dispatch_decided")
    assert decided[-1]["payload"]["by_hand"] is True
