"""Writing audit entries directly, for tests that need exact timestamps or many rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.db.engine import Database
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.identity import Actor, Source

_INSERT_AT = text(
    "INSERT INTO platform_events (organization_id, action, source, payload, created_at, "
    "seq, prev_hash, hash) VALUES (:org, :action, :source, CAST(:payload AS jsonb), "
    "now() - CAST(CAST(:age AS text) AS interval), 0, ''::bytea, ''::bytea) RETURNING id, seq"
)


_INSERT_NOW = text(
    "INSERT INTO platform_events (organization_id, action, source, correlation_id, payload, "
    "seq, prev_hash, hash) VALUES (:org, :action, :source, 'corr_test', CAST(:payload AS jsonb), "
    "0, ''::bytea, ''::bytea) RETURNING id"
)


_INSERT_EXACT = text(
    "INSERT INTO platform_events (organization_id, action, source, correlation_id, payload, "
    "created_at, seq, prev_hash, hash) VALUES (:org, :action, :source, :correlation_id, "
    "CAST(:payload AS jsonb), coalesce(CAST(:created_at AS timestamptz), now()), "
    "0, ''::bytea, ''::bytea) RETURNING id"
)


async def insert_entry(
    db: Database,
    organization_id: uuid.UUID,
    *,
    action: str = "test.exact",
    source: str = "system",
    correlation_id: str | None = None,
    payload: str = "{}",
    created_at: datetime | None = None,
) -> uuid.UUID:
    """Insert one entry with exactly these cells; `payload` is JSON text, parsed by PostgreSQL.

    Runs as the schema owner; the chain trigger still assigns seq and hashes.
    """
    async with db.system_transaction() as conn:
        entry_id: uuid.UUID = (
            await conn.execute(
                _INSERT_EXACT,
                {
                    "org": organization_id,
                    "action": action,
                    "source": source,
                    "correlation_id": correlation_id,
                    "payload": payload,
                    "created_at": created_at,
                },
            )
        ).scalar_one()
    return entry_id


async def record_in_one_transaction(
    db: Database,
    organization_id: uuid.UUID,
    count: int,
    *,
    action: str = Action.LEAD_SCORED,
    source: str = "worker",
) -> list[uuid.UUID]:
    """Record `count` entries in ONE tenant transaction (they all share its instant).

    A catalogued action goes through `events.record`; any other name (filters
    are tested with made-up actions too) is inserted as the runtime role would,
    through the same chain trigger.
    """
    actor = Actor(
        organization_id=organization_id, source=Source(source), correlation_id="corr_test"
    )
    ids = []
    async with db.tenant_transaction(organization_id) as conn:
        tx = Tx(conn, actor=actor)
        for n in range(count):
            if action in Action._value2member_map_:
                event = await events.record(tx, Action(action), {"n": n})
                ids.append(event.id)
            else:
                ids.append(
                    await conn.scalar(
                        _INSERT_NOW,
                        {
                            "org": organization_id,
                            "action": action,
                            "source": source,
                            "payload": orjson.dumps({"n": n, "key_id": None}).decode(),
                        },
                    )
                )
    return ids


async def insert_aged_entry(
    db: Database,
    organization_id: uuid.UUID,
    age: str,
    *,
    action: str = "test.aged",
    source: str = "system",
    payload: dict[str, Any] | None = None,
) -> tuple[uuid.UUID, int]:
    """Insert one entry whose created_at is `age` (a PostgreSQL interval) in the past.

    Runs as the schema owner; the chain trigger still assigns seq and hashes.
    """
    async with db.system_transaction() as conn:
        row = (
            await conn.execute(
                _INSERT_AT,
                {
                    "org": organization_id,
                    "action": action,
                    "source": source,
                    "payload": orjson.dumps(payload or {}).decode(),
                    "age": age,
                },
            )
        ).one()
    return row.id, row.seq


async def bare_organization(db: Database, name: str = "Chain Test Co") -> uuid.UUID:
    """An organization row with no audit entry at all (its chain has no head yet)."""
    org_id = uuid.uuid4()
    async with db.system_transaction() as conn:
        await conn.execute(
            text("INSERT INTO organizations (id, name) VALUES (:id, :name)"),
            {"id": org_id, "name": name},
        )
    return org_id


async def chain_rows(db: Database, organization_id: uuid.UUID) -> list[Any]:
    """The organization's entries in chain order: seq, id, prev_hash, hash, payload."""
    async with db.system_transaction() as conn:
        result = await conn.execute(
            text(
                "SELECT seq, id, prev_hash, hash, payload, created_at FROM platform_events "
                "WHERE organization_id = :org ORDER BY seq"
            ),
            {"org": organization_id},
        )
        return list(result.all())


@asynccontextmanager
async def tampering(db: Database) -> AsyncIterator[AsyncConnection]:
    """A superuser transaction with the audit log's protective triggers switched off.

    Stands in for someone with direct database access editing the log.
    """
    triggers = ("platform_events_immutable", "platform_events_chain")
    async with db.system_transaction() as conn:
        for trigger in triggers:
            await conn.execute(text(f"ALTER TABLE platform_events DISABLE TRIGGER {trigger}"))
        yield conn
        for trigger in triggers:
            await conn.execute(text(f"ALTER TABLE platform_events ENABLE TRIGGER {trigger}"))
