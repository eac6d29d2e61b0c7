"""Helpers shared by the API tests: envelope checks and database snapshots."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from eal.db.engine import Database

# Every table the core writes; a snapshot of their row counts shows that a
# rejected request changed nothing.
CORE_TABLES = (
    "organizations",
    "api_keys",
    "org_grants",
    "org_invites",
    "platform_events",
    "idempotency_keys",
)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the error envelope with `status` and `code`; returns the `error` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def error_fields(response: httpx.Response) -> list[str]:
    """The field names a 422 envelope names."""
    error = assert_error(response, 422, "validation_failed")
    return [f["field"] for f in error["details"]["fields"]]


async def table_counts(db: Database) -> dict[str, int]:
    """Row counts of every core table (as the schema owner, across tenants)."""
    async with db.system_transaction() as conn:
        return {
            table: int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in CORE_TABLES
        }


async def org_row(db: Database, organization_id: uuid.UUID) -> dict[str, Any]:
    """The raw organizations row."""
    async with db.system_transaction() as conn:
        row = (
            await conn.execute(
                text("SELECT * FROM organizations WHERE id = :id"), {"id": organization_id}
            )
        ).one()
        return dict(row._mapping)


async def audit_entries(
    db: Database, organization_id: uuid.UUID, action: str | None = None
) -> list[dict[str, Any]]:
    """The organization's platform_events rows, oldest first (optionally one action)."""
    query = "SELECT * FROM platform_events WHERE organization_id = :org"
    params: dict[str, Any] = {"org": organization_id}
    if action is not None:
        query += " AND action = :action"
        params["action"] = action
    async with db.system_transaction() as conn:
        rows = await conn.execute(text(query + " ORDER BY seq"), params)
        return [dict(r._mapping) for r in rows]
