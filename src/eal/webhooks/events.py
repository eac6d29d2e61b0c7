"""Webhook event names, public ids, delivery bodies, and the fan-out of one audit entry.

`events.record` queues an entry's deliveries (built by :func:`delivery_bodies`) in
the statement that appends the entry, so deliveries commit (and are announced to
workers) exactly when the change does.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from eal.kit.clock import isoformat

if TYPE_CHECKING:
    from eal.events import RecordedEvent

AUDIT_STREAM = "audit.log.event"
"""Subscribers of this event receive every audit entry of their organization."""

EVENT_TYPES: tuple[str, ...] = (
    "call.received",
    "call.classified",
    "call.qualified",
    "lead.created",
    "lead.updated",
    "outreach.email.sent",
    "outreach.email.replied",
    "claim.scope.ready",
    "review.requested",
    "review.received",
    AUDIT_STREAM,
)
"""The event names a webhook may subscribe to (API reference, "Webhook events")."""

NOTIFY_CHANNEL = "eal_webhooks"
"""LISTEN/NOTIFY channel: an empty payload means "deliveries are due"; `cancel:<id>`
means the endpoint was deleted or disabled and its in-flight sends should stop."""

EVENT_ID_PREFIX = "evt_"
DELIVERY_ID_PREFIX = "whd_"


def audit_stream_event_id(entry_id: uuid.UUID) -> uuid.UUID:
    """The id of the `audit.log.event` event for one audit entry.

    The entry may also be, say, a `lead.created` event with the entry's own id;
    the audit-stream event is another event and gets its own stable id, so a
    receiver that de-duplicates on the body's `id` keeps both.
    """
    return uuid.uuid5(entry_id, AUDIT_STREAM)


def public_event_id(event_id: uuid.UUID) -> str:
    """The `id` of a delivery body: `evt_` + the audit entry's id as 32 hex digits."""
    return EVENT_ID_PREFIX + event_id.hex


def public_delivery_id(delivery_id: uuid.UUID) -> str:
    """A delivery's public id (`X-EAL-Delivery`, `webhook-id`): `whd_` + 32 hex digits."""
    return DELIVERY_ID_PREFIX + delivery_id.hex


def parse_delivery_id(value: str) -> uuid.UUID | None:
    """The uuid behind a public delivery id, or None when `value` is not one."""
    if not value.startswith(DELIVERY_ID_PREFIX):
        return None
    digits = value[len(DELIVERY_ID_PREFIX) :]
    if len(digits) != 32:
        return None
    try:
        return uuid.UUID(hex=digits)
    except ValueError:
        return None


def _json_default(value: Any) -> Any:
    # Datetimes are rendered exactly as the API renders them (ms, UTC, "Z").
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """JSON text of `value` with API-style timestamps (used for delivery bodies)."""
    return orjson.dumps(
        value, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME
    ).decode("utf-8")


def event_body(
    *,
    event_id: uuid.UUID,
    event_type: str,
    created_at: datetime,
    organization_id: uuid.UUID,
    data: Any,
) -> str:
    """The JSON body of a delivery: `{"id", "type", "created_at", "organization_id", "data"}`."""
    return dumps(
        {
            "id": public_event_id(event_id),
            "type": event_type,
            "created_at": isoformat(created_at),
            "organization_id": str(organization_id),
            "data": data,
        }
    )


def delivery_bodies(
    event: RecordedEvent,
    data: dict[str, Any] | None,
    subscribed: frozenset[str] | None = None,
) -> tuple[str | None, str | None, str | None]:
    """The fan-out of one audit entry: (event type, its body, the audit-stream body).

    The entry's action is a webhook event when it is one of :data:`EVENT_TYPES`;
    its body's `data` is `data` (the resource as the API returns it), or the
    audit payload when the caller gave none; otherwise type and body are None.
    `audit.log.event` subscribers get the audit entry itself as `data`.
    `subscribed`, when known, names the event types that have subscribers;
    bodies nobody subscribes to are not built (None).
    `events.record` inserts one delivery per subscribed endpoint in the
    statement that appends the entry.
    """
    is_event = (
        event.action in EVENT_TYPES
        and event.action != AUDIT_STREAM
        and (subscribed is None or event.action in subscribed)
    )

    def body(event_type: str, payload: Any) -> str:
        return event_body(
            event_id=audit_stream_event_id(event.id) if event_type == AUDIT_STREAM else event.id,
            event_type=event_type,
            created_at=event.created_at,
            organization_id=event.organization_id,
            data=payload,
        )

    audit_body = (
        body(AUDIT_STREAM, event.as_api())
        if subscribed is None or AUDIT_STREAM in subscribed
        else None
    )
    if not is_event:
        return None, None, audit_body
    return (
        event.action,
        body(event.action, data if data is not None else event.payload),
        audit_body,
    )
