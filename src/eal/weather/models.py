"""Tables of the weather domain (the schema itself is migration 0002_leads)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Index, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY

from eal.db.base import metadata, organization_id, timestamptz, uuid_pk

# Severe weather an organization's operator (or feed) recorded for its area.
weather_events = Table(
    "weather_events",
    metadata,
    uuid_pk(),
    organization_id(),
    Column("event_type", Text, nullable=False),
    Column("postal_codes", ARRAY(Text), nullable=False),
    timestamptz("occurred_at"),
    Column("severity", Text),
    Column("description", Text),
    timestamptz("created_at", default_now=True),
    CheckConstraint(
        "event_type IN ('storm', 'freeze', 'flood', 'hail', 'hurricane', 'tornado', 'wildfire')",
        name="weather_events_event_type_check",
    ),
    CheckConstraint("cardinality(postal_codes) > 0", name="weather_events_postal_codes_check"),
    CheckConstraint(
        "severity IN ('minor', 'moderate', 'severe', 'extreme')",
        name="weather_events_severity_check",
    ),
)
# Scoring reads the events of a 7-day window; the list pages by creation.
Index(
    "weather_events_occurred_idx",
    weather_events.c.organization_id,
    weather_events.c.occurred_at.desc(),
)
Index(
    "weather_events_page_idx",
    weather_events.c.organization_id,
    weather_events.c.created_at.desc(),
    weather_events.c.id.desc(),
)
