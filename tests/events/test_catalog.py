"""The event catalog, the fan-out bodies, and what a config-changing entry does to its transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from eal.db.tx import Tx
from eal.events import (
    AUDIT_STREAM,
    CONFIG_CHANGING,
    EVENT_TYPES,
    Action,
    EventType,
    RecordedEvent,
    audit_stream_event_id,
    delivery_bodies,
)
from eal.kit.identity import Actor

# The API reference's "Valid event names" of POST /webhooks, in its order.
SPEC_EVENTS = (
    "call.received, call.classified, call.qualified, lead.created, lead.updated, "
    "outreach.email.sent, outreach.email.replied, claim.scope.ready, review.requested, "
    "review.received, audit.log.event"
)


def test_every_event_type_of_the_spec_is_in_the_catalog() -> None:
    assert list(EVENT_TYPES) == SPEC_EVENTS.split(", ")
    assert AUDIT_STREAM is EventType.AUDIT_LOG_EVENT


def test_actions_that_are_events_map_to_their_type() -> None:
    assert Action.LEAD_CREATED.event_type is EventType.LEAD_CREATED
    assert Action.LEAD_SCORED.event_type is None
    # Every webhook event but the audit stream is, or will be, some action's type.
    assert {a.event_type for a in Action} - {None} <= set(EventType)


def _event(action: Action) -> RecordedEvent:
    return RecordedEvent(
        id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        action=action,
        source="api",
        correlation_id="corr_1",
        payload={"lead_id": "x"},
        created_at=datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC),
    )


def test_bodies_are_built_only_for_event_types_someone_subscribes_to() -> None:
    event = _event(Action.LEAD_CREATED)
    kind, body, audit = delivery_bodies(event, {"id": "lead"}, None)
    assert kind == "lead.created" and body is not None and audit is not None
    sent = orjson.loads(body)
    assert sent == {
        "id": "evt_" + event.id.hex,
        "type": "lead.created",
        "created_at": "2026-12-01T12:00:00.123Z",
        "organization_id": str(event.organization_id),
        "data": {"id": "lead"},
    }
    stream = orjson.loads(audit)
    assert stream["id"] == "evt_" + audit_stream_event_id(event.id).hex != sent["id"]
    assert stream["data"]["action"] == "lead.created"

    assert delivery_bodies(event, {"id": "lead"}, frozenset()) == (None, None, None)
    only_stream = delivery_bodies(event, {"id": "lead"}, frozenset({"audit.log.event"}))
    assert only_stream[:2] == (None, None) and only_stream[2] is not None
    not_an_event = delivery_bodies(_event(Action.LEAD_SCORED), None, None)
    assert not_an_event[:2] == (None, None)


def test_a_transaction_trusts_its_cached_revision_until_it_changes_the_config() -> None:
    org = uuid.uuid4()
    tx = Tx(None, actor=Actor(organization_id=org), config_revision=7)  # type: ignore[arg-type]
    assert tx.cached_revision(org) == 7
    assert tx.cached_revision(uuid.uuid4()) is None  # another organization's data
    tx.config_changed()
    assert tx.cached_revision(org) is None
    assert {Action.ORGANIZATION_UPDATED, Action.WEBHOOK_CREATED} <= CONFIG_CHANGING
    assert Action.LEAD_CREATED not in CONFIG_CHANGING


def test_entries_of_one_transaction_share_its_instant() -> None:
    tx = Tx(None, actor=Actor(organization_id=uuid.uuid4()))  # type: ignore[arg-type]
    first = tx.entry_time()
    assert tx.entry_time() is first
    assert Tx(None).entry_time() >= first  # type: ignore[arg-type]
