"""Statements of the weather domain, and its row mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from eal.kit.paging import PageQuery
from eal.weather.models import weather_events
from eal.weather.schemas import WeatherEventCreate, WeatherEventOut


def event_of(row: Any) -> WeatherEventOut:
    """A weather_events row as the API shows it."""
    return WeatherEventOut(
        id=row.id,
        organization_id=row.organization_id,
        event_type=row.event_type,
        postal_codes=list(row.postal_codes),
        occurred_at=row.occurred_at,
        severity=row.severity,
        description=row.description,
        created_at=row.created_at,
    )


async def insert(
    conn: AsyncConnection, organization_id: uuid.UUID, body: WeatherEventCreate, now: datetime
) -> Row[Any]:
    """Store one event; returns its row."""
    return (
        await conn.execute(
            sa.insert(weather_events)
            .values(
                id=uuid.uuid4(),
                organization_id=organization_id,
                event_type=body.event_type.value,
                postal_codes=body.postal_codes,
                occurred_at=body.occurred_at,
                severity=body.severity,
                description=body.description,
                created_at=now,
            )
            .returning(*weather_events.c)
        )
    ).one()


async def page(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    page: PageQuery,
    *,
    event_type: str | None = None,
) -> list[Row[Any]]:
    """The organization's events, most recently recorded first (one row over the page)."""
    query = select(weather_events).where(weather_events.c.organization_id == organization_id)
    if event_type is not None:
        query = query.where(weather_events.c.event_type == event_type)
    query = page.apply(query, weather_events.c.created_at, weather_events.c.id)
    return list((await conn.execute(query)).all())
