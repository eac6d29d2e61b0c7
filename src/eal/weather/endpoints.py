"""Weather-events endpoints: record (write) and list (read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from eal.api.deps import DbConn
from eal.api.routing import api_router
from eal.auth.deps import ReadAuth, WriteAuth
from eal.kit.cursor import DEFAULT_LIMIT, check_limit, decode_cursor
from eal.leads.scoring import WeatherEventType
from eal.weather import service
from eal.weather.schemas import WeatherEventCreate, WeatherEventOut, WeatherEventPage

router = api_router(tags=["weather-events"])


@router.post("/weather-events", status_code=201, response_model=WeatherEventOut)
async def record_weather_event(
    body: WeatherEventCreate, auth: WriteAuth, conn: DbConn
) -> dict[str, Any]:
    """Record a severe weather event; leads from its area score higher for 7 days."""
    return await service.record_event(conn, auth.actor, body)


@router.get("/weather-events", response_model=WeatherEventPage)
async def list_weather_events(
    auth: ReadAuth,
    conn: DbConn,
    event_type: WeatherEventType | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(description="Page size, 1-200.")] = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Recorded weather events, most recently recorded first."""
    data, next_cursor = await service.list_events(
        conn,
        auth.organization_id,
        decode_cursor(cursor),
        check_limit(limit),
        event_type=event_type.value if event_type else None,
    )
    return {"data": data, "next_cursor": next_cursor}
