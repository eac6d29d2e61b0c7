"""The audit log in the console: filters and the CSV export, this organization only."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from eal.db.engine import Database
from tests.console.support import add_user, browser, sign_in
from tests.factories import Factory


async def test_the_audit_log_filters_and_exports(
    app: Any, client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Console Audit Co")
    other = await factory.tenant("Console Audit Other")
    for who, email in (
        (tenant, "a@example.com"),
        (tenant, "b@example.com"),
        (other, "c@example.com"),
    ):
        r = await client.post("/api/v1/leads", json={"email": email}, headers=who.headers)
        assert r.status_code == 201
    link = await add_user(db, tenant.id, "auditor@example.com", "staff")
    async with browser(app) as staff:
        await sign_in(staff, link)
        everything = await staff.get("/console/audit-log")
        assert everything.status_code == 200 and "lead.created" in everything.text
        created = await staff.get("/console/audit-log?action=lead.created&source=api")
        assert created.text.count("<code>lead.created</code>") == 2
        assert "c@example.com" not in created.text
        none = await staff.get("/console/audit-log?action=nothing.here")
        assert "No entries match these filters" in none.text
        bad = await staff.get("/console/audit-log?start=2026-13-01")
        assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
        exported = await staff.get("/console/audit-log/export.csv?action=lead.created")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == ["id", "organization_id", "created_at"]
        assert len(rows) == 3 and {r[1] for r in rows[1:]} == {str(tenant.id)}
    async with browser(app) as anonymous:
        assert (await anonymous.get("/console/audit-log/export.csv")).status_code == 303
