"""Weather-events endpoints: record (write) and list (read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from eal.api.deps import TxDep
from eal.api.paging import PageParams
from eal.api.routing import api_router
from eal.auth.context import AuthContext
from eal.auth.deps import require
from eal.auth.scopes import Scope
from eal.kit.paging import Page
from eal.weather import service
from eal.weather.schemas import (
    WeatherEventCreate,
    WeatherEventOut,
    WeatherEventPage,
    WeatherEventType,
)

WeatherRead = Annotated[AuthContext, Depends(require(Scope.READ))]
WeatherWrite = Annotated[AuthContext, Depends(require(Scope.WRITE))]

router = api_router(tags=["weather-events"])


@router.post("/weather-events", status_code=201, response_model=WeatherEventOut)
async def record_weather_event(
    body: WeatherEventCreate, auth: WeatherWrite, tx: TxDep
) -> WeatherEventOut:
    """Record a severe weather event; leads from its area score higher for 7 days."""
    return await service.record_event(tx, body)


@router.get("/weather-events", response_model=WeatherEventPage)
async def list_weather_events(
    auth: WeatherRead, tx: TxDep, page: PageParams, event_type: WeatherEventType | None = None
) -> Page[WeatherEventOut]:
    """Recorded weather events, most recently recorded first."""
    return await service.list_events(tx, page, event_type=event_type.value if event_type else None)
