"""Recording and listing weather events; loading the recent ones lead scoring needs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from eal import events
from eal.auth.context import Actor
from eal.kit.cursor import Cursor, older_than, page_of
from eal.leads.service import now_ms
from eal.weather.models import weather_events
from eal.weather.schemas import WeatherEventCreate, WeatherEventOut


def event_out(row: Any) -> dict[str, Any]:
    """A weather_events row as the API returns it."""
    return {
        "id": row.id,
        "organization_id": row.organization_id,
        "event_type": row.event_type,
        "postal_codes": list(row.postal_codes),
        "occurred_at": row.occurred_at,
        "severity": row.severity,
        "description": row.description,
        "created_at": row.created_at,
    }


async def record_event(
    conn: AsyncConnection, actor: Actor, body: WeatherEventCreate
) -> dict[str, Any]:
    """Store a weather event for the actor's organization (and its audit entry)."""
    row = (
        await conn.execute(
            insert(weather_events)
            .values(
                id=uuid.uuid4(),
                organization_id=actor.organization_id,
                event_type=body.event_type.value,
                postal_codes=body.postal_codes,
                occurred_at=body.occurred_at,
                severity=body.severity,
                description=body.description,
                created_at=now_ms(),
            )
            .returning(*weather_events.c)
        )
    ).one()
    events.config_changed(conn)
    out = event_out(row)
    await events.record(
        conn,
        actor,
        "weather_event.recorded",
        {
            "weather_event_id": str(row.id),
            "event_type": row.event_type,
            "postal_codes": out["postal_codes"],
            "occurred_at": row.occurred_at.isoformat(),
        },
        data=WeatherEventOut.model_validate(out).model_dump(mode="json"),
    )
    return out


async def list_events(
    conn: AsyncConnection,
    organization_id: uuid.UUID,
    cursor: Cursor | None,
    limit: int,
    *,
    event_type: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The organization's weather events, most recently recorded first."""
    query = select(weather_events).where(weather_events.c.organization_id == organization_id)
    if event_type is not None:
        query = query.where(weather_events.c.event_type == event_type)
    if cursor is not None:
        # A row comparison is an index range condition; the equivalent OR is not.
        query = query.where(older_than(cursor, weather_events.c.created_at, weather_events.c.id))
    query = query.order_by(weather_events.c.created_at.desc(), weather_events.c.id.desc()).limit(
        limit + 1
    )
    rows = (await conn.execute(query)).all()
    page, next_cursor = page_of(rows, limit)
    return [event_out(r) for r in page], next_cursor
