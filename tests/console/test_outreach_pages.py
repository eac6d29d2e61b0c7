"""Outreach in the console: sequences with stats, the suppression list, recent messages."""

from __future__ import annotations

import re
from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, form_token, sign_in
from tests.factories import Factory
from tests.support import audit_entries


async def test_sequences_messages_and_the_suppression_list(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Outreach Co", environment="test")
    lead = await client.post(
        "/api/v1/leads", json={"email": "pat@example.com"}, headers=tenant.headers
    )
    sequence = await client.post(
        "/api/v1/outreach/sequences",
        json={
            "name": "After the storm",
            "channel": "email",
            "steps": [{"delay": "1d", "subject": "Checking in", "body": "Hi {{ first_name }}"}],
        },
        headers=tenant.headers,
    )
    enrolled = await client.post(
        f"/api/v1/outreach/sequences/{sequence.json()['id']}/enrollments",
        json={"lead_ids": [lead.json()["id"]]},
        headers=tenant.headers,
    )
    sent = await client.post(
        "/api/v1/outreach/send",
        json={"channel": "sms", "to": "+17705550142", "body": "Crew at 9"},
        headers=tenant.headers,
    )
    assert enrolled.status_code == 201 and sent.status_code == 202
    manager = await add_user(db, tenant.id, "manager@outreach.example", "manager")
    owner = await add_user(db, tenant.id, "owner@outreach.example", "owner")
    async with browser(app) as m:
        await sign_in(m, manager)
        shown = await m.get("/console/outreach")
        assert shown.status_code == 200
        assert "After the storm" in shown.text and "+17705550142" in shown.text
        assert "The list is empty." in shown.text and "Remove" not in shown.text
        seq = await m.get(f"/console/outreach/sequences/{sequence.json()['id']}")
        assert "pat@example.com" in seq.text and "Checking in" in seq.text
        added = await m.post(
            "/console/outreach/suppressions",
            data={
                "csrf_token": form_token(shown),
                "channel": "email",
                "address": "Gone@Example.com",
            },
        )
        assert added.status_code == 303
        bad = await m.post(
            "/console/outreach/suppressions",
            data={"csrf_token": form_token(shown), "channel": "sms", "address": "not a number"},
        )
        assert bad.status_code == 422 and 'role="alert"' in bad.text and "not a number" in bad.text
        after = await m.get("/console/outreach")
        assert "gone@example.com" in after.text.lower()
        entry = re.search(r"/console/outreach/suppressions/(sup_[A-Za-z0-9]+)/remove", after.text)
        assert entry is None  # a manager sees no Remove
    async with browser(app) as o:
        await sign_in(o, owner)
        page = await o.get("/console/outreach")
        entry = re.search(r"/console/outreach/suppressions/([^/\"]+)/remove", page.text)
        assert entry is not None
        removed = await o.post(entry.group(0), data={"csrf_token": form_token(page)})
        assert removed.status_code == 303
        assert "The list is empty." in (await o.get("/console/outreach")).text
    assert len(await audit_entries(db, tenant.id, "outreach.suppression.removed")) == 1
    listed = await client.get("/api/v1/outreach/suppressions", headers=tenant.headers)
    assert listed.json()["data"] == []
