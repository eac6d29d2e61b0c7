"""Weather events: recording and listing them through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import Tenant
from tests.leads.test_weather_and_scoring_signals import (
    ALPHARETTA,
    ROSWELL,
    WEATHER,
    ago,
    record_weather,
)
from tests.support import audit_entries, error_fields


async def test_record_and_list_weather_events(client, factory, db):
    t = await factory.tenant("Weather Co")
    other = await factory.tenant("Weather Other Co")
    first = await record_weather(
        client, t, postal_codes=["30075-1234", ROSWELL, ALPHARETTA], severity="severe"
    )
    assert first["postal_codes"] == [ALPHARETTA, ROSWELL]  # normalised, de-duplicated, sorted
    assert first["organization_id"] == str(t.id) and first["severity"] == "severe"
    second = await record_weather(client, t, event_type="freeze", description="Hard freeze")

    page = await client.get(WEATHER, headers=t.headers, params={"limit": 1})
    assert page.status_code == 200
    assert [e["id"] for e in page.json()["data"]] == [second["id"]]
    rest = await client.get(
        WEATHER, headers=t.headers, params={"cursor": page.json()["next_cursor"]}
    )
    assert [e["id"] for e in rest.json()["data"]] == [first["id"]]
    storms = await client.get(WEATHER, headers=t.headers, params={"event_type": "storm"})
    assert [e["id"] for e in storms.json()["data"]] == [first["id"]]
    assert (await client.get(WEATHER, headers=other.headers)).json()["data"] == []
    recorded = await audit_entries(db, t.id, "weather_event.recorded")
    assert [e["payload"]["weather_event_id"] for e in recorded] == [first["id"], second["id"]]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"event_type": "drizzle"}, ["event_type"]),
        ({"postal_codes": []}, ["postal_codes"]),
        ({"postal_codes": ["3007"]}, ["postal_codes"]),
        ({"postal_codes": "30075"}, ["postal_codes"]),
        ({"occurred_at": "2026-04-27T06:00:00"}, ["occurred_at"]),
        ({"occurred_at": "not a date"}, ["occurred_at"]),
        ({"severity": "apocalyptic"}, ["severity"]),
        ({"description": "d" * 10_001}, ["description"]),
        ({"radius": 5}, ["radius"]),
    ],
)
async def test_weather_event_bad_input(client, factory, db, body, fields):
    t = await factory.tenant("Weather Bad Co")
    full = {"event_type": "storm", "postal_codes": [ROSWELL], "occurred_at": ago(hours=2)}
    full.update(body)
    assert error_fields(await client.post(WEATHER, headers=t.headers, json=full)) == fields
    assert await audit_entries(db, t.id, "weather_event.recorded") == []


async def test_weather_event_in_the_future_is_refused(client, factory):
    t = await factory.tenant("Weather Future Co")
    future = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    body = {"event_type": "flood", "postal_codes": [ROSWELL], "occurred_at": future}
    assert error_fields(await client.post(WEATHER, headers=t.headers, json=body)) == ["occurred_at"]


async def test_read_key_cannot_record_weather(client, factory):
    admin = await factory.tenant("Weather Read Co")
    key = await factory.key(admin.id, "read")
    reader = Tenant(id=admin.id, key=key["key"], key_id=key["id"], org=admin.org)
    body = {"event_type": "storm", "postal_codes": [ROSWELL], "occurred_at": ago(hours=1)}
    assert (await client.post(WEATHER, headers=reader.headers, json=body)).status_code == 403
    assert (await client.get(WEATHER, headers=reader.headers)).status_code == 200
