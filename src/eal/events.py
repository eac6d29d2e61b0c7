"""Recording what happened: one audit row (and its webhook deliveries) per change.

Every service that changes state calls `record(...)` inside its caller's
transaction, so the change, its audit entry and its outbound deliveries
commit or roll back together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.auth.context import Actor


class Source(StrEnum):
    """Where a change came from."""

    API = "api"
    CRON = "cron"
    N8N = "n8n"
    WORKER = "worker"
    SYSTEM = "system"


@dataclass(frozen=True)
class RecordedEvent:
    """An audit entry as written."""

    id: uuid.UUID
    organization_id: uuid.UUID
    action: str
    source: str
    correlation_id: str | None
    payload: dict[str, Any]
    created_at: datetime

    def as_api(self) -> dict[str, Any]:
        """The entry as the audit-log endpoints return it."""
        from eal.kit.clock import isoformat

        return {
            "id": str(self.id),
            "organization_id": str(self.organization_id),
            "action": self.action,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
            "created_at": isoformat(self.created_at),
        }


_INSERT = text(
    "INSERT INTO platform_events (organization_id, action, source, correlation_id, payload, "
    "seq, prev_hash, hash) VALUES (:org, :action, :source, :corr, CAST(:payload AS jsonb), "
    "0, ''::bytea, ''::bytea) RETURNING id, created_at"
)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-field {"from", "to"} for every key whose value really changed."""
    changes: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = {"from": old, "to": new}
    return changes


async def record(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    payload: dict[str, Any] | None = None,
    *,
    data: dict[str, Any] | None = None,
    organization_id: uuid.UUID | None = None,
) -> RecordedEvent:
    """Append an audit entry for `action` (and queue its webhook deliveries).

    `payload` describes the change (ids, a per-field `diff`); the acting key id
    is added. `data` is the affected resource as the API returns it, sent as
    the webhook event's `data`. The tenant is the actor's unless
    `organization_id` says otherwise (the transaction's tenant must match).
    """
    import orjson

    body = dict(payload or {})
    body.setdefault("key_id", str(actor.key_id) if actor.key_id else None)
    org = organization_id or actor.organization_id
    row = (
        await conn.execute(
            _INSERT,
            {
                "org": org,
                "action": action,
                "source": actor.source,
                "corr": actor.correlation_id,
                "payload": orjson.dumps(body).decode(),
            },
        )
    ).one()
    event = RecordedEvent(
        id=row.id,
        organization_id=org,
        action=action,
        source=actor.source,
        correlation_id=actor.correlation_id,
        payload=body,
        created_at=row.created_at,
    )
    # One more statement queues this entry's webhook deliveries (if any endpoint
    # subscribes) so they commit or roll back with the change itself.
    from eal.webhooks.events import enqueue_deliveries

    await enqueue_deliveries(conn, event, data)
    return event
