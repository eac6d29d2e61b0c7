"""What subscribers receive: event ids and the JSON body of every delivery.

A delivery body is `{"id", "type", "created_at", "organization_id", "data"}`,
fixed when the event is recorded so every retry sends identical bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from eal.events.catalog import AUDIT_STREAM, Action
from eal.kit.clock import isoformat

EVENT_ID_PREFIX = "evt_"


@dataclass(frozen=True)
class RecordedEvent:
    """An audit entry as written."""

    id: uuid.UUID
    organization_id: uuid.UUID
    action: Action
    source: str
    correlation_id: str | None
    payload: dict[str, Any]
    created_at: datetime

    def as_api(self) -> dict[str, Any]:
        """The entry as the audit-log endpoints return it (JSON values)."""
        return {
            "id": str(self.id),
            "organization_id": str(self.organization_id),
            "action": self.action.value,
            "source": self.source,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
            "created_at": isoformat(self.created_at),
        }


def audit_stream_event_id(entry_id: uuid.UUID) -> uuid.UUID:
    """The id of the `audit.log.event` event for one audit entry.

    The entry may also be, say, a `lead.created` event with the entry's own id;
    the audit-stream event is another event and gets its own stable id, so a
    receiver that de-duplicates on the body's `id` keeps both.
    """
    return uuid.uuid5(entry_id, AUDIT_STREAM.value)


def public_event_id(event_id: uuid.UUID) -> str:
    """The `id` of a delivery body: `evt_` + the event's id as 32 hex digits."""
    return EVENT_ID_PREFIX + event_id.hex


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
    data: Any,
    subscribed: frozenset[str] | None = None,
) -> tuple[str | None, str | None, str | None]:
    """The fan-out of one audit entry: (event type, its body, the audit-stream body).

    The entry's action is a webhook event when `Action.event_type` says so;
    its body's `data` is `data` (the resource as the API returns it), or the
    audit payload when the caller gave none; otherwise type and body are None.
    `audit.log.event` subscribers get the audit entry itself as `data`.
    `subscribed`, when known, names the event types that have subscribers;
    bodies nobody subscribes to are not built (None).
    """
    event_type = event.action.event_type
    is_event = event_type is not None and (subscribed is None or event_type in subscribed)

    def body(kind: str, payload: Any) -> str:
        return event_body(
            event_id=audit_stream_event_id(event.id) if kind == AUDIT_STREAM else event.id,
            event_type=kind,
            created_at=event.created_at,
            organization_id=event.organization_id,
            data=payload,
        )

    audit_body = (
        body(AUDIT_STREAM.value, event.as_api())
        if subscribed is None or AUDIT_STREAM in subscribed
        else None
    )
    if not is_event or event_type is None:
        return None, None, audit_body
    return (
        event_type.value,
        body(event_type.value, data if data is not None else event.payload),
        audit_body,
    )
