"""Leads in the console: the board, moving a card (managers only), a lead's page."""

from __future__ import annotations

from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory, Tenant
from tests.support import audit_entries


async def make_lead(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/leads",
        json={"name": "Dana Reed", "email": "dana.reed@example.com", **body},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    lead: dict[str, Any] = r.json()
    return lead


async def test_a_manager_moves_a_card_and_a_staff_member_cannot(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Leads Co")
    lead = await make_lead(client, tenant, message="Water in the basement after the storm")
    manager = await add_user(db, tenant.id, "manager@example.com", "manager")
    staff = await add_user(db, tenant.id, "staff@example.com", "staff")
    async with browser(app) as m:
        await sign_in(m, manager)
        board = await m.get("/console/leads")
        assert board.status_code == 200 and "Dana Reed" in board.text
        assert f'action="/console/leads/{lead["id"]}/stage"' in board.text
        moved = await m.post(
            f"/console/leads/{lead['id']}/stage",
            data={"csrf_token": form_token(board), "stage": "qualified", "back": "/console/leads"},
        )
        assert moved.status_code == 303 and moved.headers["location"] == "/console/leads"
        column = await m.get("/console/leads?stage=qualified")
        assert "Dana Reed" in column.text and "The whole board" in column.text
        shown = await m.get(f"/console/leads/{lead['id']}")
        assert "Qualified" in shown.text and "Not pushed to a CRM yet" in shown.text
        pushed = await m.post(
            f"/console/leads/{lead['id']}/push", data={"csrf_token": form_token(shown)}
        )
        # No CRM configured: the page says why, nothing is pushed.
        assert pushed.status_code == 409 and "The CRM push failed" in pushed.text
    async with browser(app) as s:
        await sign_in(s, staff)
        board = await s.get("/console/leads")
        assert "Dana Reed" in board.text and "/stage" not in board.text  # no control shown
        refused = await s.post(
            f"/console/leads/{lead['id']}/stage",
            data={"csrf_token": form_token(board), "stage": "lost"},
        )
        assert refused.status_code == 403 and "A staff cannot do this" in refused.text
    (entry,) = await audit_entries(db, tenant.id, "lead.updated")
    assert entry["payload"]["diff"]["pipeline_stage"] == {"from": "new", "to": "qualified"}
    api = await client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers)
    assert api.json()["pipeline_stage"] == "qualified"


async def test_unknown_stage_and_lead_are_refused_as_pages(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Leads Edge Co")
    other = await factory.tenant("Console Leads Other Co")
    lead = await make_lead(client, other)
    link = await add_user(db, tenant.id, "owner@example.com", "owner")
    async with browser(app) as o:
        await sign_in(o, link)
        board = await o.get("/console/leads")
        assert "No leads." in board.text
        csrf = form_token(board)
        assert (await o.get(f"/console/leads/{lead['id']}")).status_code == 404
        assert (await o.get("/console/leads/not-a-uuid")).status_code == 404
        moved = await o.post(
            f"/console/leads/{lead['id']}/stage", data={"csrf_token": csrf, "stage": "won"}
        )
        assert moved.status_code == 404
        bad = await o.post(
            f"/console/leads/{lead['id']}/stage", data={"csrf_token": csrf, "stage": "closed"}
        )
        assert bad.status_code == 404
    api = await client.get(f"/api/v1/leads/{lead['id']}", headers=other.headers)
    assert api.json()["pipeline_stage"] == "new"


async def test_search_finds_leads_by_name_company_email_or_phone(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Leads Search Co")
    other = await factory.tenant("Console Leads Search Other")
    await make_lead(
        client, tenant, name="Maria O'Neil", company="Roswell Rentals", email="mo@rentals.example"
    )
    await make_lead(
        client, tenant, name="Sam Lee", company="50%_Off Roofing", email="sam@roof.example"
    )
    await make_lead(
        client, other, name="Maria Other", company="Elsewhere", email="maria@other.example"
    )
    link = await add_user(db, tenant.id, "searcher@example.com", "staff")
    async with browser(app) as s:
        await sign_in(s, link)
        by_name = await s.get("/console/leads", params={"q": "maria"})
        assert "Maria O&#39;Neil" in by_name.text and "Maria Other" not in by_name.text
        assert "1 lead match" in by_name.text
        by_company = await s.get("/console/leads", params={"q": "rentals"})
        assert "Maria O&#39;Neil" in by_company.text
        # Wildcards are searched for as written.
        literal = await s.get("/console/leads", params={"q": "50%_"})
        assert "Sam Lee" in literal.text and "Maria" not in literal.text
        assert (
            "No lead matches" in (await s.get("/console/leads", params={"q": "nobody-here"})).text
        )
