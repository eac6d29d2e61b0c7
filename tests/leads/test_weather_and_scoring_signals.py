"""Weather events endpoints, and the organization-level scoring signals seen through the API."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from eal.leads import scoring_weights as w
from tests.factories import Tenant
from tests.leads.support import LEADS, audit_entries, create_lead, error_fields

WEATHER = "/api/v1/weather-events"
# Roswell, GA and a code a few miles away; Austin, TX is far from both.
ROSWELL, ALPHARETTA, AUSTIN = "30075", "30009", "78756"


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def record_weather(client: httpx.AsyncClient, tenant: Tenant, **fields: object) -> dict:
    body = {"event_type": "storm", "postal_codes": [ROSWELL], "occurred_at": ago(days=1)}
    body.update(fields)
    response = await client.post(WEATHER, headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def settings(client: httpx.AsyncClient, tenant: Tenant, **values: object) -> None:
    response = await client.patch(
        f"/api/v1/organizations/{tenant.id}", headers=tenant.headers, json={"settings": values}
    )
    assert response.status_code == 200, response.text


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


def reasons(lead: dict) -> str:
    """The reasoning in lower case (its first letter is capitalised)."""
    return str(lead["ai_reasoning"]).lower()


def lead_body(postal_code: str, **extra: str) -> dict[str, str]:
    return {
        "email": "storm.lead@example.com",
        "message": "Roof leak after the storm",
        "postal_code": postal_code,
        **extra,
    }


async def test_recent_weather_in_the_area_raises_the_score(client, factory):
    t = await factory.tenant("Storm Co")
    other = await factory.tenant("Storm Elsewhere Co")
    before = await create_lead(client, t, **lead_body(ROSWELL))
    assert "storm event" not in reasons(before)

    await record_weather(client, t, occurred_at=ago(days=2))
    await record_weather(client, other, event_type="flood", postal_codes=[AUSTIN])
    near = await create_lead(client, t, **lead_body(ALPHARETTA))
    inside = await create_lead(client, t, **lead_body(ROSWELL))
    far = await create_lead(client, t, **lead_body(AUSTIN))
    boost = round(100 * w.WEATHER_EVENT_WEIGHTS["storm"])
    assert inside["lead_score"] == before["lead_score"] + boost
    assert f"recent storm event in service radius (+{w.WEATHER_EVENT_WEIGHTS['storm']:.2f})" in (
        reasons(inside)
    )
    assert near["lead_score"] > far["lead_score"]  # within the nearby radius
    # Another organization's flood does not reach this organization's leads.
    assert "flood" not in reasons(far) and "storm event" not in reasons(far)

    # Re-scoring judges a lead by the weather of its arrival: the one created
    # before the storm was recorded now gets the storm too (it occurred before).
    rescored = (await client.post(f"{LEADS}/{before['id']}/score", headers=t.headers)).json()
    assert rescored["lead_score"] == inside["lead_score"]


async def test_weather_older_than_the_window_does_not_count(client, factory):
    t = await factory.tenant("Old Storm Co")
    baseline = await create_lead(client, t, **lead_body(ROSWELL))
    await record_weather(client, t, occurred_at=ago(days=w.WEATHER_RECENT_DAYS, hours=1))
    later = await create_lead(client, t, **lead_body(ROSWELL))
    assert later["lead_score"] == baseline["lead_score"]
    assert reasons(later) == reasons(baseline)


async def test_service_area_moves_the_score_both_ways(client, factory):
    t = await factory.tenant("Area Co")
    unknown = await create_lead(client, t, **lead_body(ROSWELL))
    await settings(client, t, service_area={"center_postal_code": ROSWELL, "radius_miles": 25})
    inside = await create_lead(client, t, **lead_body(ALPHARETTA))
    outside = await create_lead(client, t, **lead_body(AUSTIN))
    assert outside["lead_score"] < unknown["lead_score"] < inside["lead_score"]
    assert "in service area" in reasons(inside)
    assert "outside service area" in reasons(outside)

    await settings(client, t, service_area={"postal_codes": [AUSTIN]})
    listed = await create_lead(client, t, **lead_body(AUSTIN))
    assert listed["lead_score"] == inside["lead_score"]


async def test_organization_source_weights_override_defaults(client, factory):
    t = await factory.tenant("Source Co")
    body = lead_body(ROSWELL, source="Facebook Ads")
    default = await create_lead(client, t, **body)
    assert "lead source facebook_ads (+0.03)" in reasons(default)
    await settings(client, t, lead_scoring={"source_weights": {"facebook_ads": 0.2}})
    tuned = await create_lead(client, t, **body)
    assert tuned["lead_score"] == default["lead_score"] + 17
    assert "lead source facebook_ads, organization weight (+0.20)" in reasons(tuned)
    await settings(client, t, lead_scoring={"source_weights": {"facebook_ads": -0.2}})
    penalised = await create_lead(client, t, **body)
    assert penalised["lead_score"] < default["lead_score"]


async def test_reasoning_lists_every_contribution_that_moved_the_score(client, factory):
    t = await factory.tenant("Explain Co")
    started = datetime.now(UTC) - timedelta(minutes=5)
    lead = await create_lead(
        client,
        t,
        name="Commercial Contact",
        email="facilities@example.com",
        phone="+14045550123",
        industry="commercial",
        source="referral",
        postal_code=ROSWELL,
        message="Sewage backup in the warehouse, urgent",
        form_started_at=started.isoformat(),
        form_submitted_at=(started + timedelta(seconds=1)).isoformat(),
    )
    scored = (await client.post(f"{LEADS}/{lead['id']}/score", headers=t.headers)).json()
    contributions = scored["contributions"]
    signals = {c["signal"] for c in contributions}
    assert {"loss_type", "urgency", "phone", "email", "company", "source", "form_speed"} <= signals
    parts = reasons(scored).split("; ")
    assert len(parts) == len(contributions)
    for part, contribution in zip(parts, contributions, strict=True):
        assert part.lower().endswith(f"({contribution['value']:+.2f})")
    total = w.BASE_SCORE + sum(c["value"] for c in contributions)
    assert scored["lead_score"] == max(0, min(100, math.floor(round(100 * total, 6) + 0.5)))
    # A bot-speed form submission counts against the lead.
    assert any(c["signal"] == "form_speed" and c["value"] < 0 for c in contributions)
    assert any(c["signal"] == "company" and c["value"] < 0 for c in contributions)
