"""Events: recording every change (audit row + outbox rows) and the catalog of what can happen.

Domains call `record(tx, Action.X, payload, data=...)` inside their
transaction. This package owns the audit append, the outbox rows webhook
subscribers receive, the event catalog, the delivery bodies and which event
types have subscribers. The webhooks domain only sends the rows written here;
nothing here imports a domain.
"""

from eal.events.bodies import (
    RecordedEvent,
    audit_stream_event_id,
    delivery_bodies,
    dumps,
    event_body,
    public_event_id,
)
from eal.events.catalog import AUDIT_STREAM, CONFIG_CHANGING, EVENT_TYPES, Action, EventType
from eal.events.recorder import OUTBOX_CHANNEL, Change, diff, record

__all__ = [
    "AUDIT_STREAM",
    "CONFIG_CHANGING",
    "EVENT_TYPES",
    "OUTBOX_CHANNEL",
    "Action",
    "Change",
    "EventType",
    "RecordedEvent",
    "audit_stream_event_id",
    "delivery_bodies",
    "diff",
    "dumps",
    "event_body",
    "public_event_id",
    "record",
]
