"""Leads CRUD through the API: create (scored), read, list, update, re-score, bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.leads.support import LEADS, audit_entries, count_leads, create_lead, error_fields

FULL_RECORD_FIELDS = {
    "id",
    "organization_id",
    "name",
    "company",
    "email",
    "phone",
    "phone_valid",
    "source",
    "lead_score",
    "pipeline_stage",
    "industry",
    "company_size",
    "pain_points",
    "timeline",
    "budget_range",
    "ai_reasoning",
    "qualification_completed_at",
    "scored_at",
    "postal_code",
    "address",
    "message",
    "form_started_at",
    "form_submitted_at",
    "crm_sync",
    "created_at",
    "updated_at",
}
LIST_ITEM_FIELDS = {
    "id",
    "organization_id",
    "name",
    "company",
    "email",
    "source",
    "lead_score",
    "pipeline_stage",
    "industry",
    "company_size",
    "created_at",
    "updated_at",
}


async def test_create_scores_normalises_and_audits(client, factory, db):
    t = await factory.tenant("Create Co", scopes="read,write")
    started = datetime(2026, 4, 27, 13, 20, tzinfo=UTC)
    lead = await create_lead(
        client,
        t,
        name="Sarah Mitchell",
        email="Sarah.Mitchell@EXAMPLE.com",
        phone="(678) 212-3434",
        source="website",
        industry="residential",
        postal_code="30075-1234",
        address="1 Main St, Roswell GA",
        message="Pipe burst, water everywhere in the basement. Please come today!",
        form_started_at=started.isoformat(),
        form_submitted_at=(started + timedelta(seconds=95)).isoformat(),
    )
    assert set(lead) == FULL_RECORD_FIELDS
    assert lead["organization_id"] == str(t.id)
    assert lead["phone"] == "+16782123434"
    assert lead["email"] == "Sarah.Mitchell@example.com"  # domain normalised only
    assert lead["postal_code"] == "30075"
    assert lead["pipeline_stage"] == "new"
    assert 0 < lead["lead_score"] <= 100
    assert lead["qualification_completed_at"] == lead["scored_at"] == lead["created_at"]
    reasoning = lead["ai_reasoning"]
    for expected in (
        "water damage (+0.16)",
        "urgent wording in message (+0.12)",
        "phone validated (+0.10)",
        "email validated (+0.05)",
        "fast form completion (+0.08)",
        "lead source website (+0.05)",
    ):
        assert expected in reasoning, reasoning
    assert lead["timeline"] == "immediate"
    assert lead["pain_points"] == "Water damage"
    assert lead["crm_sync"] is None

    fetched = await client.get(f"{LEADS}/{lead['id']}", headers=t.headers)
    assert fetched.status_code == 200
    assert fetched.json() == lead

    created = await audit_entries(db, t.id, "lead.created")
    assert len(created) == 1
    assert created[0]["payload"]["lead_id"] == lead["id"]
    assert created[0]["payload"]["lead_score"] == lead["lead_score"]


async def test_create_with_name_and_company_only(client, factory):
    t = await factory.tenant("Company Co", scopes="read,write")
    lead = await create_lead(client, t, name="Dan Park", company="Sandy Springs Property Group")
    assert lead["email"] is None and lead["company"] == "Sandy Springs Property Group"


async def test_blank_optional_fields_mean_absent(client, factory):
    t = await factory.tenant("Blank Co", scopes="read,write")
    lead = await create_lead(client, t, email="blank@example.com", phone="", name="  ")
    assert lead["phone"] is None and lead["name"] is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["email", "name", "company"]),
        ({"name": "Only A Name"}, ["email", "company"]),
        ({"company": "Only A Company"}, ["email", "name"]),
        ({"email": "not-an-email"}, ["email"]),
        ({"email": "a@example.com", "phone": "x" * 65}, ["phone"]),
        ({"email": "a@example.com", "pipeline_stage": "negotiating"}, ["pipeline_stage"]),
        ({"email": "a@example.com", "lead_score": 50}, ["lead_score"]),
        ({"email": "a@example.com", "organization_id": str(uuid.uuid4())}, ["organization_id"]),
        ({"email": "a@example.com", "message": "x" * 10_001}, ["message"]),
        ({"email": "a@example.com", "name": "x" * 10_001}, ["name"]),
        (
            {
                "email": "a@example.com",
                "form_started_at": "2026-11-28T18:00:00Z",
                "form_submitted_at": "2026-11-28T17:00:00Z",
            },
            ["form_submitted_at"],
        ),
        ({"email": "a@example.com", "address": "x" * 10_001}, ["address"]),
        ({"email": "a@example.com", "form_started_at": "2026-04-27T13:00:00"}, ["form_started_at"]),
    ],
)
async def test_create_rejects_bad_input_and_writes_nothing(client, factory, db, body, fields):
    t = await factory.tenant("Bad Input Co", scopes="read,write")
    response = await client.post(LEADS, headers=t.headers, json=body)
    assert error_fields(response) == fields
    assert await count_leads(db, t.id) == 0
    assert [e["action"] for e in await audit_entries(db, t.id)] == [
        "organization.created",
        "api_key.created",
    ]


async def test_create_without_body_is_422(client, factory, db):
    t = await factory.tenant("No Body Co", scopes="read,write")
    response = await client.post(LEADS, headers=t.headers)
    assert response.status_code == 422
    assert await count_leads(db, t.id) == 0


async def test_read_key_cannot_write(client, factory, db):
    t = await factory.tenant("Read Only Co", scopes="read")
    response = await client.post(LEADS, headers=t.headers, json={"email": "r@example.com"})
    assert response.status_code == 403
    assert await count_leads(db, t.id) == 0


async def test_list_is_newest_first_keyset_paginated(client, factory):
    t = await factory.tenant("List Co", scopes="read,write")
    ids = [(await create_lead(client, t))["id"] for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await client.get(LEADS, headers=t.headers, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert all(set(item) == LIST_ITEM_FIELDS for item in body["data"])
        seen += [item["id"] for item in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    default = (await client.get(LEADS, headers=t.headers)).json()
    assert len(default["data"]) == 7 and default["next_cursor"] is None


async def test_list_default_page_is_50_and_limit_is_bounded(client, factory):
    t = await factory.tenant("Big List Co", scopes="read,write")
    for _ in range(51):
        await create_lead(client, t)
    page = (await client.get(LEADS, headers=t.headers)).json()
    assert len(page["data"]) == 50 and page["next_cursor"] is not None
    assert (
        len((await client.get(LEADS, headers=t.headers, params={"limit": 200})).json()["data"])
        == 51
    )
    assert error_fields(await client.get(LEADS, headers=t.headers, params={"limit": 201})) == [
        "limit"
    ]
    assert error_fields(await client.get(LEADS, headers=t.headers, params={"limit": 0})) == [
        "limit"
    ]
    bad_cursor = await client.get(LEADS, headers=t.headers, params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 400


async def test_list_filters(client, factory):
    t = await factory.tenant("Filter Co", scopes="read,write")
    first = await create_lead(client, t, email="a@example.com", source="referral")
    second = await create_lead(
        client, t, email="b@example.com", source="website", pipeline_stage="qualified"
    )
    third = await create_lead(client, t, email="c@example.com", source="website")

    async def ids(**params: str) -> list[str]:
        response = await client.get(LEADS, headers=t.headers, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    assert await ids(source="website") == [third["id"], second["id"]]
    assert await ids(pipeline_stage="qualified") == [second["id"]]
    assert await ids(pipeline_stage="new", source="website") == [third["id"]]
    assert await ids(start_at=second["created_at"]) == [third["id"], second["id"]]
    assert await ids(end_at=second["created_at"]) == [second["id"], first["id"]]
    assert await ids(start_at=second["created_at"], end_at=second["created_at"]) == [second["id"]]
    assert await ids(source="google_ads") == []

    async def bad(**params: str) -> list[str]:
        return error_fields(await client.get(LEADS, headers=t.headers, params=params))

    assert await bad(pipeline_stage="negotiating") == ["pipeline_stage"]
    assert await bad(start_at="2026-04-27T00:00:00") == ["start_at"]
    assert await bad(start_at="2026-04-28T00:00:00Z", end_at="2026-04-27T00:00:00Z") == ["start_at"]
    assert await bad(end_at="yesterday") == ["end_at"]


async def test_patch_records_only_real_changes(client, factory, db):
    t = await factory.tenant("Patch Co", scopes="read,write")
    lead = await create_lead(client, t, name="Sarah Mitchell", email="s@example.com")
    url = f"{LEADS}/{lead['id']}"

    response = await client.patch(
        url,
        headers=t.headers,
        json={"pipeline_stage": "won", "lead_score": 92, "name": "Sarah Mitchell"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pipeline_stage"] == "won" and body["lead_score"] == 92
    assert body["updated_at"] > lead["updated_at"]
    updates = await audit_entries(db, t.id, "lead.updated")
    assert len(updates) == 1
    assert updates[0]["payload"]["lead_id"] == lead["id"]
    assert updates[0]["payload"]["diff"] == {
        "pipeline_stage": {"from": "new", "to": "won"},
        "lead_score": {"from": lead["lead_score"], "to": 92},
    }

    # Sending the values it already has changes nothing and writes nothing.
    same = await client.patch(
        url, headers=t.headers, json={"pipeline_stage": "won", "lead_score": 92}
    )
    assert same.status_code == 200
    assert same.json()["updated_at"] == body["updated_at"]
    assert len(await audit_entries(db, t.id, "lead.updated")) == 1
    empty = await client.patch(url, headers=t.headers, json={})
    assert empty.status_code == 200
    assert len(await audit_entries(db, t.id, "lead.updated")) == 1

    cleared = await client.patch(
        url,
        headers=t.headers,
        json={"company": "Mitchell Holdings", "email": None, "pain_points": "Basement moisture"},
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["email"] is None
    assert (await audit_entries(db, t.id, "lead.updated"))[-1]["payload"]["diff"] == {
        "company": {"from": None, "to": "Mitchell Holdings"},
        "email": {"from": "s@example.com", "to": None},
        "pain_points": {"from": lead["pain_points"], "to": "Basement moisture"},
    }
    assert (await client.get(url, headers=t.headers)).json()["pain_points"] == "Basement moisture"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"lead_score": 101}, ["lead_score"]),
        ({"lead_score": -1}, ["lead_score"]),
        ({"lead_score": "90"}, ["lead_score"]),
        ({"lead_score": None}, ["lead_score"]),
        ({"pipeline_stage": "negotiating"}, ["pipeline_stage"]),
        ({"pipeline_stage": None}, ["pipeline_stage"]),
        ({"phone": "+16782123434"}, ["phone"]),
        ({"organization_id": str(uuid.uuid4())}, ["organization_id"]),
        ({"crm_status": "ok"}, ["crm_status"]),
        ({"email": "nope"}, ["email"]),
        ({"email": None}, ["email", "company"]),
        ({"ai_reasoning": "y" * 10_001}, ["ai_reasoning"]),
        ({"lead_score": 50, "made_up": 1}, ["made_up"]),
    ],
)
async def test_patch_rejects_bad_input_and_writes_nothing(client, factory, db, body, fields):
    t = await factory.tenant("Patch Bad Co", scopes="read,write")
    lead = await create_lead(client, t, name="Solo Name", email="solo@example.com")
    response = await client.patch(f"{LEADS}/{lead['id']}", headers=t.headers, json=body)
    assert error_fields(response) == fields
    assert (await client.get(f"{LEADS}/{lead['id']}", headers=t.headers)).json() == lead
    assert await audit_entries(db, t.id, "lead.updated") == []


async def test_rescore_returns_score_and_audits(client, factory, db):
    t = await factory.tenant("Rescore Co", scopes="read,write")
    lead = await create_lead(
        client,
        t,
        name="Pat Doe",
        email="pat@example.com",
        phone="+14045550123",
        message="Small mold spot in the bathroom, no rush",
    )
    response = await client.post(f"{LEADS}/{lead['id']}/score", headers=t.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # Same inputs, same score: re-scoring an unchanged lead agrees with creation.
    assert body["lead_score"] == lead["lead_score"]
    assert body["ai_reasoning"] == lead["ai_reasoning"]
    assert body["scored_at"] > lead["scored_at"]
    assert body["contributions"][0]["signal"] == "loss_type"
    entries = await audit_entries(db, t.id, "lead.scored")
    assert len(entries) == 1 and entries[0]["payload"]["lead_id"] == lead["id"]

    # A person's pain points are kept, and the new text is a new signal.
    await client.patch(
        f"{LEADS}/{lead['id']}",
        headers=t.headers,
        json={"pain_points": "Sewage backup in basement", "lead_score": 5},
    )
    again = (await client.post(f"{LEADS}/{lead['id']}/score", headers=t.headers)).json()
    assert again["lead_score"] > lead["lead_score"]
    assert "sewage/biohazard" in again["ai_reasoning"]
    fetched = (await client.get(f"{LEADS}/{lead['id']}", headers=t.headers)).json()
    assert fetched["pain_points"] == "Sewage backup in basement"
    assert fetched["lead_score"] == again["lead_score"]
    assert (await audit_entries(db, t.id, "lead.scored"))[-1]["payload"]["diff"]["lead_score"] == {
        "from": 5,
        "to": again["lead_score"],
    }
    # A score that changed is also a lead.updated event (webhooks), with the same diff;
    # the first re-score changed nothing and wrote none.
    updates = await audit_entries(db, t.id, "lead.updated")
    assert [u["payload"]["diff"].get("lead_score") for u in updates] == [
        {"from": lead["lead_score"], "to": 5},
        {"from": 5, "to": again["lead_score"]},
    ]


async def test_unknown_lead_is_404(client, factory):
    t = await factory.tenant("Missing Co", scopes="read,write")
    missing = f"{LEADS}/{uuid.uuid4()}"
    assert (await client.get(missing, headers=t.headers)).status_code == 404
    assert (
        await client.patch(missing, headers=t.headers, json={"lead_score": 1})
    ).status_code == 404
    assert (await client.post(f"{missing}/score", headers=t.headers)).status_code == 404
    assert (await client.post(f"{missing}/push-to-crm", headers=t.headers)).status_code == 404
    assert (await client.get(f"{LEADS}/not-a-uuid", headers=t.headers)).status_code == 422


async def test_source_is_normalised_and_filterable_in_any_spelling(client, factory):
    t = await factory.tenant("Source Spelling Co", scopes="read,write")
    lead = await create_lead(client, t, email="g@example.com", source="Google Ads", company_size=50)
    assert lead["source"] == "google_ads" and lead["company_size"] == "50"
    for spelling in ("google_ads", "Google Ads", "google-ads"):
        page = await client.get(LEADS, headers=t.headers, params={"source": spelling})
        assert [item["id"] for item in page.json()["data"]] == [lead["id"]]
    assert error_fields(await client.get(LEADS, headers=t.headers, params={"source": "!!"})) == [
        "source"
    ]
    patched = await client.patch(
        f"{LEADS}/{lead['id']}", headers=t.headers, json={"source": "Referral"}
    )
    assert patched.json()["source"] == "referral"


async def test_idempotency_key_replays_the_created_lead(client, factory, db):
    t = await factory.tenant("Idempotent Co", scopes="read,write")
    headers = {**t.headers, "Idempotency-Key": "form-submission-8812"}
    body = {"email": "retry@example.com", "message": "Water in the basement"}
    first = await client.post(LEADS, headers=headers, json=body)
    again = await client.post(LEADS, headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await count_leads(db, t.id) == 1
    assert len(await audit_entries(db, t.id, "lead.created")) == 1
