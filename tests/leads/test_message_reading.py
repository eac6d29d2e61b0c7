"""Leads read with the call classifier: pitches and unrelated requests score low whatever
their keywords, a loss in Spanish or with typos counts, and a junk phone never loses a lead."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Factory, Tenant

LEADS = "/api/v1/leads"
GENUINE = "Pipe burst upstairs and water is coming through the kitchen ceiling, please come today."
PITCH = (
    "Hi, we help restoration companies get more water damage jobs. Exclusive flooded "
    "basement leads in your area, 40 per lead. Interested?"
)


async def create(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Dana Whitfield", "email": "dana@example.com", "source": "website", **fields}
    r = await client.post(LEADS, json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    lead: dict[str, Any] = r.json()
    return lead


async def test_a_pitch_full_of_loss_words_scores_far_below_a_real_loss(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Pitch Scoring Co")
    real = await create(client, tenant, message=GENUINE)
    pitch = await create(client, tenant, message=PITCH)
    assert pitch["lead_score"] < real["lead_score"] - 30
    assert "sales pitch" in pitch["ai_reasoning"]
    assert pitch["pain_points"] is None  # its loss words do not count


async def test_a_request_for_something_else_scores_low(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Carpet Request Co")
    real = await create(client, tenant, message=GENUINE)
    carpet = await create(
        client,
        tenant,
        message="Do you guys do carpet cleaning? Just want my living room carpets cleaned "
        "before the holidays.",
    )
    assert carpet["lead_score"] < real["lead_score"] - 30
    assert "other than a new loss" in carpet["ai_reasoning"]


async def test_a_loss_written_in_spanish_counts_as_the_loss_it_is(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Spanish Lead Co")
    silent = await create(client, tenant, message="Hola, buenas tardes, gracias por su atención.")
    flooded = await create(
        client,
        tenant,
        message="se me inundó la cocina anoche, el agua sigue saliendo del calentador, "
        "necesito ayuda urgente",
    )
    assert flooded["pain_points"] == "Water damage"
    assert flooded["lead_score"] > silent["lead_score"]
    mold = await create(
        client,
        tenant,
        message="hay moho negro en el cuarto del bebé y huele muy feo, necesitamos que vengan",
    )
    assert mold["pain_points"] == "Mold"


async def test_a_phone_that_does_not_parse_is_kept_and_flagged(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Junk Phone Lead Co")
    lead = await create(client, tenant, phone="call me at work 555", message=GENUINE)
    assert lead["phone"] == "call me at work 555"
    assert lead["phone_valid"] is False
    assert "phone number invalid" in lead["ai_reasoning"]
    shown = await client.get(f"{LEADS}/{lead['id']}", headers=tenant.headers)
    assert shown.json()["phone_valid"] is False
    good = await create(client, tenant, phone="(678) 555-0142")
    assert (good["phone"], good["phone_valid"]) == ("+16785550142", True)
    none = await create(client, tenant)
    assert none["phone_valid"] is None
    # An invalid email is still refused.
    r = await client.post(
        LEADS, json={"email": "not-an-email", "name": "X", "company": "Y"}, headers=tenant.headers
    )
    assert r.status_code == 422
