"""Helpers shared by the leads tests: API calls and direct database reads."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from eal.db.engine import Database
from tests.factories import Tenant
from tests.support import audit_entries

__all__ = ["audit_entries"]

LEADS = "/api/v1/leads"


async def create_lead(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """POST /leads (an email-only lead unless fields say otherwise); asserts 201."""
    body = fields or {"email": f"lead-{uuid.uuid4().hex[:8]}@example.com"}
    response = await client.post(LEADS, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def count_leads(db: Database, organization_id: uuid.UUID) -> int:
    """Leads stored for an organization (read as the schema owner, RLS aside)."""
    async with db.system_transaction() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM leads WHERE organization_id = :org"),
            {"org": organization_id},
        )
    return int(count or 0)


async def config_revision(db: Database, organization_id: uuid.UUID) -> int:
    """The organization's config revision (raised by settings, weather and webhook changes)."""
    async with db.system_transaction() as conn:
        value = await conn.scalar(
            text("SELECT config_revision FROM organizations WHERE id = :id"),
            {"id": organization_id},
        )
    return int(value)


def error_fields(response: httpx.Response) -> list[str]:
    """The field names a 422 envelope reports."""
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_failed"
    return [f["field"] for f in body["details"]["fields"]]
