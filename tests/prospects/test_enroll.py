"""Qualified prospects enter outreach sequences through the one sending path; outreach_status
follows the enrollment (active, replied, opted out, completed) and engagement is scored apart."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from eal.config import Settings
from eal.db.engine import Database
from tests.factories import Factory, Tenant
from tests.outreach.support import (
    OUTREACH,
    Clocked,
    SmtpSink,
    clocked_app,
    outreach_tenant,
    outreach_worker,
    smtp_sink,
    sweep_now,
    wait_until,
)
from tests.prospects.support import (
    PROSPECTS,
    SANDY_SPRINGS,
    create_prospect,
    qualify,
    set_service_area,
)
from tests.support import assert_error, audit_entries

# A Wednesday, 10:00 in New York.
WEDNESDAY = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
STEPS = [
    {
        "delay": "0m",
        "subject": "Water damage at {{ company }}?",
        "body": "Hi {{ first_name }},\n\n{{ sender_name }} handles water, fire and mold clean-up.",
    },
    {"delay": "2d", "subject": "Following up", "body": "Hi {{ first_name }}, any questions?"},
]


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_sink() as sink:
        yield sink


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[Clocked]:
    async with clocked_app(settings, WEDNESDAY) as app:
        yield app


async def _sequence(client: httpx.AsyncClient, tenant: Tenant, name: str) -> str:
    body = {"name": name, "channel": "email", "steps": STEPS}
    r = await client.post(f"{OUTREACH}/sequences", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _enroll(
    client: httpx.AsyncClient, tenant: Tenant, prospect_id: str, sequence_id: str
) -> httpx.Response:
    return await client.post(
        f"{PROSPECTS}/{prospect_id}/enroll",
        json={"sequence_id": sequence_id},
        headers=tenant.headers,
    )


async def _shown(client: httpx.AsyncClient, tenant: Tenant, prospect_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (
        await client.get(f"{PROSPECTS}/{prospect_id}", headers=tenant.headers)
    ).json()
    return body


async def test_a_qualified_prospect_is_enrolled_sent_to_and_its_reply_followed(
    clocked: Clocked, factory: Factory, db: Database, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Prospect Outreach Co", smtp=smtp)
    await set_service_area(client, tenant)
    secret = (await client.post(f"{OUTREACH}/inbound-secret", headers=tenant.headers)).json()[
        "secret"
    ]
    prospect = await create_prospect(client, tenant, **SANDY_SPRINGS)
    sequence_id = await _sequence(client, tenant, "Property managers")

    # Not qualified yet: refused, nothing enrolled.
    early = await _enroll(client, tenant, prospect["id"], sequence_id)
    assert assert_error(early, 409, "conflict")["details"] == {"qualification_status": "pending"}
    assert (await qualify(client, tenant, prospect["id"]))["engagement_score"] is None

    r = await _enroll(client, tenant, prospect["id"], sequence_id)
    assert r.status_code == 201, r.text
    enrolled = r.json()
    assert enrolled["result"] == "enrolled" and enrolled["outreach_status"] == "sequence_active"
    assert enrolled["enrollment_id"].startswith("enr_")
    listed = await client.get(
        f"{OUTREACH}/sequences/{sequence_id}/enrollments", headers=tenant.headers
    )
    (enrollment,) = listed.json()["data"]
    assert enrollment["prospect_id"] == prospect["id"] and enrollment["lead_id"] is None
    again = await _enroll(client, tenant, prospect["id"], sequence_id)
    assert again.status_code == 200 and again.json()["result"] == "already_enrolled"
    assert again.json()["enrollment_id"] == enrolled["enrollment_id"]
    active = await client.get(
        PROSPECTS, params={"outreach_status": "sequence_active"}, headers=tenant.headers
    )
    assert [p["id"] for p in active.json()["data"]] == [prospect["id"]]

    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
    mail = smtp.received[0].message
    assert mail["To"] == "dpark@example.com"
    assert mail["Subject"] == "Water damage at Sandy Springs Property Group?"
    assert mail.get_body(("plain",)).get_content().startswith("Hi Daniel,")
    # Sent, not answered yet: engagement is scored (0), fit is unchanged.
    after_send = await qualify(client, tenant, prospect["id"])
    assert after_send["engagement_score"] == 0

    sent_id = mail["Message-ID"]
    reply = await client.post(
        f"/api/v1/integrations/email/{tenant.id}/inbound",
        json={
            "from": "Daniel Park <dpark@example.com>",
            "to": "help@puroclean-westcobb.example",
            "subject": "Re: Water damage at Sandy Springs Property Group?",
            "text": "Yes, we had a leak at our Roswell Road building. Can you call me?",
            "headers": {"In-Reply-To": sent_id, "References": sent_id},
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert reply.status_code == 200, reply.text
    assert (await _shown(client, tenant, prospect["id"]))["outreach_status"] == "replied"
    engaged = await qualify(client, tenant, prospect["id"])
    assert engaged["engagement_score"] is not None and engaged["engagement_score"] >= 50
    assert engaged["fit_score"] == after_send["fit_score"]  # two scores, never blended
    assert len(await audit_entries(db, tenant.id, "prospect.enrolled")) == 1


async def test_an_unsubscribe_makes_the_prospect_opted_out(
    clocked: Clocked, factory: Factory, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Prospect Opt Out Co", smtp=smtp)
    await set_service_area(client, tenant)
    prospect = await create_prospect(client, tenant, **SANDY_SPRINGS)
    await qualify(client, tenant, prospect["id"])
    sequence_id = await _sequence(client, tenant, "Opt out")
    assert (await _enroll(client, tenant, prospect["id"], sequence_id)).status_code == 201
    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
    mail = smtp.received[0].message
    url = re.findall(r"<([^>]+)>", mail["List-Unsubscribe"])[1].removeprefix("http://testserver")
    assert (await client.post(url, data={"List-Unsubscribe": "One-Click"})).status_code == 200
    assert (await _shown(client, tenant, prospect["id"]))["outreach_status"] == "opted_out"
    # Suppressed now: a second sequence refuses it, saying why.
    other = await _sequence(client, tenant, "Second try")
    r = await _enroll(client, tenant, prospect["id"], other)
    assert assert_error(r, 409, "conflict")["details"] == {"result": "suppressed"}


async def test_who_cannot_be_enrolled_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Prospect Refusals Co")
    await set_service_area(client, tenant)
    phone_only = await create_prospect(
        client,
        tenant,
        **{**SANDY_SPRINGS, "contact_email": None, "contact_phone": "+14045550142"},
    )
    verdict = await qualify(client, tenant, phone_only["id"])
    assert verdict["qualification_status"] == "qualified"
    sequence_id = await _sequence(client, tenant, "Email only")
    r = await _enroll(client, tenant, phone_only["id"], sequence_id)
    assert assert_error(r, 409, "conflict")["details"] == {"result": "missing_address"}
    assert (await _shown(client, tenant, phone_only["id"]))["outreach_status"] == "none"
    unknown = await _enroll(client, tenant, phone_only["id"], "seq_" + "0" * 32)
    assert_error(unknown, 404, "not_found")
    other = await factory.tenant("Prospect Refusals Other Co")
    theirs = await _enroll(client, other, phone_only["id"], sequence_id)
    assert_error(theirs, 404, "not_found")


async def test_completing_or_leaving_a_sequence_moves_the_status(
    clocked: Clocked, factory: Factory, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Prospect Complete Co", smtp=smtp)
    await set_service_area(client, tenant)
    finisher = await create_prospect(client, tenant, **SANDY_SPRINGS)
    leaver = await create_prospect(
        client,
        tenant,
        **{**SANDY_SPRINGS, "company_name": "Leaver Homes", "contact_email": "leaver@example.com"},
    )
    sequence_id = await _sequence(client, tenant, "Two steps")
    enrollment_ids = {}
    for prospect in (finisher, leaver):
        await qualify(client, tenant, prospect["id"])
        r = await _enroll(client, tenant, prospect["id"], sequence_id)
        enrollment_ids[prospect["id"]] = r.json()["enrollment_id"]
    gone = await client.delete(
        f"{OUTREACH}/sequences/{sequence_id}/enrollments/{enrollment_ids[leaver['id']]}",
        headers=tenant.headers,
    )
    assert gone.status_code == 200, gone.text
    assert (await _shown(client, tenant, leaver["id"]))["outreach_status"] == "none"
    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
        clocked.clock.advance(timedelta(days=2, minutes=1))
        await sweep_now(clocked.runtime)
        await wait_until(lambda: _received(smtp, 2), what="the second step")

        async def completed() -> bool:
            shown = await _shown(client, tenant, finisher["id"])
            return bool(shown["outreach_status"] == "completed")

        await wait_until(completed, what="completion")


async def _received(smtp: SmtpSink, count: int) -> bool:
    return len(smtp.received) >= count
