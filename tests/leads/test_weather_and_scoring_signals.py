"""The organization-level scoring signals (weather, service area, source weights) seen through the API."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import httpx

from eal.leads import scoring_weights as w
from tests.factories import Tenant
from tests.leads.support import LEADS, create_lead

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
