"""Recording what happened: one audit row (and its outbox rows) per change.

Every service that changes state calls `record(...)` inside its caller's
transaction, so the change, its audit entry and its outbound deliveries
commit or roll back together.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from eal.db.tx import Tx
from eal.events.bodies import RecordedEvent, delivery_bodies
from eal.events.catalog import AUDIT_STREAM, CONFIG_CHANGING, Action
from eal.events.subscriptions import subscribed_types

# One statement appends the entry and queues its webhook deliveries: a delivery
# for every enabled endpoint of the organization subscribed to the entry's
# action ($8, body $9), and one for every subscriber of the audit stream ($10,
# body $11). Measured on the lead-create path: one round trip instead of two
# or three, which also shortens the time the chain head row lock (taken by the
# append trigger, held until commit) is held. The entry's id and created_at
# come from here so the delivery bodies, which carry both, exist before the
# statement runs. The deliveries' insert trigger sends the NOTIFY (at commit),
# and the chain triggers fill seq and hashes.
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

OUTBOX_CHANNEL = "eal_webhooks"
"""LISTEN/NOTIFY channel of the outbox. The deliveries' insert trigger sends an
empty payload ("deliveries are due") when the recording transaction commits;
`cancel:<endpoint id>` tells senders to drop in-flight sends to an endpoint
that was deleted or disabled."""
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


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-field {"from", "to"} for every key whose value really changed."""
    changes: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = {"from": old, "to": new}
    return changes


async def record(
    tx: Tx,
    action: Action,
    payload: dict[str, Any] | None = None,
    *,
    data: Any = None,
    organization_id: uuid.UUID | None = None,
    change: Change | None = None,
) -> RecordedEvent:
    """Append an audit entry for `action` (and queue its webhook deliveries).

    `payload` describes the change (ids, a per-field `diff`); the acting key id
    is added, and the console user's email when a person acted in the console. `data` is the affected resource as the API returns it (JSON
    values), sent as the webhook event's `data`. The entry belongs to the
    actor's organization unless `organization_id` says otherwise (the
    transaction's tenant must match). `change`, when given, is written by the
    same statement as the entry. An action in `CONFIG_CHANGING` marks the
    transaction's config dirty before anything is read from the caches.
    """
    action = Action(action)
    if action in CONFIG_CHANGING:
        tx.config_changed()
    actor = tx.actor
    body = dict(payload or {})
    body.setdefault("key_id", str(actor.key_id) if actor.key_id else None)
    if actor.person is not None:
        # A console user's change names them: they act without a key of their own.
        body.setdefault("console_user", actor.person)
    driver = await tx.driver()
    event = RecordedEvent(
        id=uuid.uuid4(),
        organization_id=organization_id or actor.organization_id,
        action=action,
        source=actor.source.value,
        correlation_id=actor.correlation_id,
        payload=body,
        created_at=tx.entry_time(),
    )
    # Bodies nobody subscribes to are neither built nor sent.
    revision = tx.cached_revision(event.organization_id)
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
        action.value,
        event.source,
        event.correlation_id,
        orjson.dumps(body).decode(),
        event.created_at,
        action_type,
        action_body,
        None if audit_body is None else AUDIT_STREAM.value,
        audit_body,
        *(change.args if change is not None else ()),
    )
    return event
