"""Helpers every test folder shares: error envelopes, audit entries, table snapshots, transactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text

from eal import events
from eal.db.engine import Database
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.identity import Actor, Source

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


@asynccontextmanager
async def tenant_tx(
    db: Database, organization_id: uuid.UUID, *, source: Source = Source.SYSTEM
) -> AsyncIterator[Tx]:
    """A committed runtime-role transaction of the tenant, acting as `source`."""
    async with db.tenant_transaction(organization_id) as conn:
        yield Tx(conn, actor=Actor(organization_id=organization_id, source=source))


async def record_event(
    db: Database,
    organization_id: uuid.UUID,
    action: Action = Action.LEAD_CREATED,
    data: Any = None,
    payload: dict[str, Any] | None = None,
) -> events.RecordedEvent:
    """Record one audit entry (and its deliveries) in a committed tenant transaction."""
    async with tenant_tx(db, organization_id) as tx:
        return await events.record(
            tx,
            action,
            payload if payload is not None else {"lead_id": str(uuid.uuid4())},
            data=data if data is not None else {"id": str(uuid.uuid4()), "name": "Dana"},
        )
