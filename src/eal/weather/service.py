"""Recording and listing weather events (lead scoring reads them through its own query)."""

from __future__ import annotations

from eal import events
from eal.db.tx import Tx
from eal.events import Action
from eal.kit.paging import Page, PageQuery, paginate
from eal.weather import repository
from eal.weather.schemas import WeatherEventCreate, WeatherEventOut


async def record_event(tx: Tx, body: WeatherEventCreate) -> WeatherEventOut:
    """Store a weather event for the actor's organization (and its audit entry)."""
    row = await repository.insert(tx.conn, tx.actor.organization_id, body, tx.now())
    event = repository.event_of(row)
    await events.record(
        tx,
        Action.WEATHER_EVENT_RECORDED,
        {
            "weather_event_id": str(row.id),
            "event_type": row.event_type,
            "postal_codes": event.postal_codes,
            "occurred_at": row.occurred_at.isoformat(),
        },
        data=event.model_dump(mode="json"),
    )
    return event


async def list_events(
    tx: Tx, page: PageQuery, *, event_type: str | None = None
) -> Page[WeatherEventOut]:
    """The organization's weather events, most recently recorded first."""
    rows = await repository.page(tx.conn, tx.actor.organization_id, page, event_type=event_type)
    return paginate(rows, page, repository.event_of)
