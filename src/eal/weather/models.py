"""Tables of the weather domain (the schema itself is migration 0002_leads)."""

from __future__ import annotations

from sqlalchemy import Column, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from eal.db.base import metadata, timestamptz, uuid_pk

weather_events = Table(
    "weather_events",
    metadata,
    uuid_pk(),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("postal_codes", ARRAY(Text), nullable=False),
    timestamptz("occurred_at"),
    Column("severity", Text),
    Column("description", Text),
    timestamptz("created_at"),
)
