"""Recording what happened: one audit row (and its webhook deliveries) per change.

Every service that changes state calls `record(...)` inside its caller's
transaction, so the change, its audit entry and its outbound deliveries
commit or roll back together.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.auth.context import Actor
from eal.db.engine import driver_connection
from eal.kit.clock import isoformat, utcnow
from eal.webhooks.events import AUDIT_STREAM, delivery_bodies
from eal.webhooks.subscriptions import subscribed_types


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
        return {
            "id": str(self.id),
            "organization_id": str(self.organization_id),
            "action": self.action,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
            "created_at": isoformat(self.created_at),
        }


# One statement appends the entry and queues its webhook deliveries: a delivery
# for every enabled endpoint of the organization subscribed to the entry's
# action ($8, body $9), and one for every subscriber of the audit stream ($10,
# body $11). One round trip instead of two also shortens the time the chain
# head row lock (taken by the append trigger, held until commit) is held.
# The entry's id and created_at come from here so the delivery bodies, which
# carry both, exist before the statement runs. The deliveries' insert trigger
# sends the NOTIFY (at commit), and the chain triggers fill seq and hashes.
_RECORD = (
    "WITH entry AS ("
    " INSERT INTO platform_events (id, organization_id, action, source, correlation_id,"
    " payload, created_at, seq, prev_hash, hash)"
    " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, 0, ''::bytea, ''::bytea)"
    ") "
    "INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id, event_type, body) "
    "SELECT e.organization_id, e.id, $1, t.event_type, t.body "
    "FROM webhook_endpoints e "
    "JOIN (VALUES ($8::text, $9::text), ($10::text, $11::text)) AS t(event_type, body) "
    "ON t.event_type = ANY(e.events) "
    "WHERE e.organization_id = $2 AND e.enabled AND e.deleted_at IS NULL"
)


_RECORD_ARGS = 11
_PARAMETER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Change:
    """The change itself, written by the entry's own statement (one round trip).

    `sql` is one INSERT, UPDATE or DELETE without RETURNING whose parameters
    are $1..$n = `args`. It runs as a data-modifying WITH query of the
    statement that appends the entry, so it sees the same snapshot and fails
    or succeeds with it.
    """

    sql: str
    args: tuple[Any, ...]


@lru_cache(maxsize=64)
def _record_with(change_sql: str) -> str:
    """`_RECORD` preceded by `change_sql`, whose parameters follow the entry's."""
    renumbered = _PARAMETER.sub(lambda m: f"${int(m.group(1)) + _RECORD_ARGS}", change_sql)
    return f"WITH change AS ({renumbered}), {_RECORD.removeprefix('WITH ')}"


_ENTRY_TIME = "eal.entry_time"


def _entry_time(conn: AsyncConnection) -> datetime:
    """The instant of this transaction's entries (the first entry's time).

    Like now() in SQL, every entry a transaction appends carries the same
    created_at. It is remembered on the connection with the transaction it
    belongs to, so the next transaction starts a new instant.
    """
    sync = conn.sync_connection
    transaction = sync.get_transaction() if sync is not None else None
    remembered = sync.info.get(_ENTRY_TIME) if sync is not None else None
    if remembered is not None and transaction is not None and remembered[0] is transaction:
        instant: datetime = remembered[1]
        return instant
    instant = utcnow()
    if sync is not None and transaction is not None:
        sync.info[_ENTRY_TIME] = (transaction, instant)
    return instant


_CONFIG_CHANGED = "eal.config_changed"


def config_changed(conn: AsyncConnection) -> None:
    """Note that this transaction changed an organization's settings, weather or webhooks.

    The config revision its API key read is then out of date for the rest of
    the transaction, so what is cached under it is no longer used here.
    """
    sync = conn.sync_connection
    if sync is not None:
        sync.info[_CONFIG_CHANGED] = sync.get_transaction()


def cached_config_revision(
    conn: AsyncConnection, actor: Actor, organization_id: uuid.UUID
) -> int | None:
    """The config revision under which cached data serves this transaction, if any.

    That is the actor's (read with its API key) when the work is for the
    actor's own organization and this transaction has not changed its config.
    """
    if actor.config_revision is None or organization_id != actor.organization_id:
        return None
    sync = conn.sync_connection
    if sync is None:
        return None
    changed = sync.info.get(_CONFIG_CHANGED)
    if changed is not None and changed is sync.get_transaction():
        return None
    return actor.config_revision


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
    change: Change | None = None,
) -> RecordedEvent:
    """Append an audit entry for `action` (and queue its webhook deliveries).

    `payload` describes the change (ids, a per-field `diff`); the acting key id
    is added. `data` is the affected resource as the API returns it, sent as
    the webhook event's `data`. The tenant is the actor's unless
    `organization_id` says otherwise (the transaction's tenant must match).
    `change`, when given, is written by the same statement as the entry.
    """
    body = dict(payload or {})
    body.setdefault("key_id", str(actor.key_id) if actor.key_id else None)
    driver = await driver_connection(conn)
    event = RecordedEvent(
        id=uuid.uuid4(),
        organization_id=organization_id or actor.organization_id,
        action=action,
        source=actor.source,
        correlation_id=actor.correlation_id,
        payload=body,
        created_at=_entry_time(conn),
    )
    # Bodies nobody subscribes to are neither built nor sent.
    revision = cached_config_revision(conn, actor, event.organization_id)
    subscribed = (
        None
        if revision is None
        else await subscribed_types(driver, event.organization_id, revision)
    )
    action_type, action_body, audit_body = delivery_bodies(event, data, subscribed)
    await driver.execute(
        _RECORD if change is None else _record_with(change.sql),
        event.id,
        event.organization_id,
        action,
        event.source,
        event.correlation_id,
        orjson.dumps(body).decode(),
        event.created_at,
        action_type,
        action_body,
        None if audit_body is None else AUDIT_STREAM,
        audit_body,
        *(change.args if change is not None else ()),
    )
    return event
