"""Sequences: validation, enrollments, steps sent by the worker on a moved clock, what stops them."""

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
    create_lead,
    message_rows,
    outreach_tenant,
    outreach_worker,
    release_jobs,
    smtp_sink,
    sweep_now,
    wait_until,
)
from tests.support import assert_error, audit_entries, error_fields

SEQUENCES = f"{OUTREACH}/sequences"
# A Wednesday, 10:00 in New York (the organizations' default time zone).
WEDNESDAY = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ANY_TIME = {
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "start": "00:00",
    "end": "24:00",
}
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


async def new_sequence(
    client: httpx.AsyncClient, tenant: Tenant, **overrides: Any
) -> dict[str, Any]:
    body = {"name": "Property managers Q4", "channel": "email", "steps": STEPS, **overrides}
    r = await client.post(SEQUENCES, json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def enroll(
    client: httpx.AsyncClient, tenant: Tenant, sequence_id: str, lead_ids: list[str], **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        f"{SEQUENCES}/{sequence_id}/enrollments",
        json={"lead_ids": lead_ids, **extra},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def enrollments(
    client: httpx.AsyncClient, tenant: Tenant, sequence_id: str
) -> list[dict[str, Any]]:
    r = await client.get(f"{SEQUENCES}/{sequence_id}/enrollments", headers=tenant.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def stats(client: httpx.AsyncClient, tenant: Tenant, sequence_id: str) -> dict[str, int]:
    listed = (await client.get(SEQUENCES, headers=tenant.headers)).json()["data"]
    (item,) = [s for s in listed if s["id"] == sequence_id]
    result: dict[str, int] = item["stats"]
    return result


# --- validation and CRUD -----------------------------------------------------------------


async def test_create_list_get_patch_archive(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Sequence CRUD Co")
    created = await new_sequence(client, tenant)
    assert re.fullmatch(r"seq_[0-9A-Za-z]+", created["id"])
    assert created["sending_window"] == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
    }
    assert [s["delay"] for s in created["steps"]] == ["0m", "2d"]

    listed = (await client.get(SEQUENCES, headers=tenant.headers)).json()
    assert listed["next_cursor"] is None
    (item,) = listed["data"]
    assert item == {
        "id": created["id"],
        "name": "Property managers Q4",
        "channel": "email",
        "steps": 2,
        "active": True,
        "stats": {"enrolled": 0, "sent": 0, "opened": 0, "replied": 0, "opted_out": 0},
    }

    r = await client.patch(
        f"{SEQUENCES}/{created['id']}",
        json={
            "name": "Renamed",
            "sending_window": {"days": ["Sat", "sun"], "start": "10:00", "end": "14:00"},
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed"
    assert r.json()["sending_window"]["days"] == ["sat", "sun"]
    shown = (await client.get(f"{SEQUENCES}/{created['id']}", headers=tenant.headers)).json()
    assert shown["name"] == "Renamed" and len(shown["steps"]) == 2

    r = await client.delete(f"{SEQUENCES}/{created['id']}", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["archived"] is True
    for action in (
        "outreach.sequence.created",
        "outreach.sequence.updated",
        "outreach.sequence.archived",
    ):
        assert len(await audit_entries(db, tenant.id, action)) == 1


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ([], "steps", ""),
        ([{"delay": "30s", "subject": "s", "body": "b"}], "steps.0.delay", ""),
        (
            [
                {"delay": "0m", "subject": "s", "body": "b"},
                {"delay": "0m", "subject": "s", "body": "b"},
            ],
            "steps.1.delay",
            "at least 1m",
        ),
        (
            [{"delay": "0m", "subject": "s", "body": "Hi {{ frist_name }}"}],
            "steps.0.body",
            "frist_name",
        ),
        (
            [
                {"delay": "1d", "subject": "s", "body": "b"},
                {"delay": "1d", "subject": "{{ oops", "body": "b"},
            ],
            "steps.1.subject",
            "",
        ),
        (
            [{"delay": "0m", "subject": "s", "body": "{{ first_name.__class__ }}"}],
            "steps.0.body",
            "",
        ),
        ([{"delay": "0m", "body": "b"}], "steps.0.subject", ""),
    ],
)
async def test_bad_sequences_are_refused_naming_the_step(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    steps: list[dict[str, Any]],
    field: str,
    words: str,
) -> None:
    tenant = await factory.tenant("Bad Sequence Co")
    r = await client.post(
        SEQUENCES, json={"name": "x", "channel": "email", "steps": steps}, headers=tenant.headers
    )
    error = assert_error(r, 422, "validation_failed")
    fields = {f["field"]: f["message"] for f in error["details"]["fields"]}
    assert field in fields, fields
    assert words in fields[field]
    assert (await client.get(SEQUENCES, headers=tenant.headers)).json()["data"] == []


@pytest.mark.parametrize(
    "window",
    [
        {"days": [], "start": "09:00", "end": "17:00"},
        {"days": ["someday"], "start": "09:00", "end": "17:00"},
        {"days": ["mon"], "start": "25:00", "end": "17:00"},
        {"days": ["mon"], "start": "22:00", "end": "02:00"},
    ],
)
async def test_bad_windows_are_refused(
    client: httpx.AsyncClient, factory: Factory, window: dict[str, Any]
) -> None:
    tenant = await factory.tenant("Bad Window Co")
    r = await client.post(
        SEQUENCES,
        json={"name": "x", "channel": "email", "steps": STEPS, "sending_window": window},
        headers=tenant.headers,
    )
    assert any(f.startswith("sending_window") for f in error_fields(r))


async def test_an_sms_step_takes_no_subject(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("SMS Steps Co")
    r = await client.post(
        SEQUENCES,
        json={
            "name": "x",
            "channel": "sms",
            "steps": [{"delay": "0m", "subject": "s", "body": "b"}],
        },
        headers=tenant.headers,
    )
    assert "steps.0.subject" in error_fields(r)


# --- enrollments ---------------------------------------------------------------------------


async def test_enrollment_results_per_id(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink
) -> None:
    tenant = await outreach_tenant(client, factory, "Enroll Results Co", smtp=smtp)
    ok = await create_lead(
        client, tenant, name="Sam Ortiz", company="Ortiz PM", email="sam@ortiz.example"
    )
    no_email = await create_lead(
        client, tenant, name="Jo Park", company="Park Homes", phone="+17705550150"
    )
    blocked = await create_lead(client, tenant, email="blocked@example.com")
    busy = await create_lead(client, tenant, email="busy@example.com")
    await client.post(
        f"{OUTREACH}/suppressions",
        json={"channel": "email", "address": "blocked@example.com"},
        headers=tenant.headers,
    )
    other = await new_sequence(client, tenant, name="Other", sending_window=ANY_TIME)
    assert (await enroll(client, tenant, other["id"], [busy["id"]]))["enrolled"] == 1
    sequence = await new_sequence(client, tenant)
    missing = "9f1c8a32-4d65-4e2b-8a91-3c0e7d4b2f18"

    result = await enroll(
        client,
        tenant,
        sequence["id"],
        [ok["id"], no_email["id"], blocked["id"], busy["id"], missing],
    )
    by_lead = {r["lead_id"]: r["result"] for r in result["results"]}
    assert by_lead == {
        ok["id"]: "enrolled",
        no_email["id"]: "missing_address",
        blocked["id"]: "suppressed",
        busy["id"]: "already_in_sequence",
        missing: "not_found",
    }
    assert result["enrolled"] == 1
    again = await enroll(client, tenant, sequence["id"], [ok["id"]])
    assert again["results"][0]["result"] == "already_enrolled"
    forced = await enroll(client, tenant, sequence["id"], [busy["id"]], force=True)
    assert forced["results"][0]["result"] == "enrolled"
    listed = await enrollments(client, tenant, sequence["id"])
    assert {e["status"] for e in listed} == {"active"} and len(listed) == 2
    assert (await stats(client, tenant, sequence["id"]))["enrolled"] == 2


async def test_more_than_1000_ids_are_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Too Many Co")
    sequence = await new_sequence(client, tenant)
    ids = [f"9f1c8a32-4d65-4e2b-8a91-{n:012d}" for n in range(1001)]
    r = await client.post(
        f"{SEQUENCES}/{sequence['id']}/enrollments", json={"lead_ids": ids}, headers=tenant.headers
    )
    assert "lead_ids" in error_fields(r)


# --- the worker, on a moved clock ---------------------------------------------------------------


async def test_steps_go_out_in_order_once_and_the_sequence_completes(
    clocked: Clocked, factory: Factory, db: Database, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Steps Co", smtp=smtp)
    lead = await create_lead(
        client,
        tenant,
        name="Dana Whitfield",
        company="Whitfield Props",
        email="dana@whitfield.example",
    )
    sequence = await new_sequence(client, tenant)
    await enroll(client, tenant, sequence["id"], [lead["id"]])

    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
        first = smtp.received[0].message
        assert first["Subject"] == "Water damage at Whitfield Props?"
        text = first.get_body(("plain",)).get_content()
        assert text.startswith("Hi Dana,") and "PuroClean of West Cobb handles water" in text
        (enrollment,) = await enrollments(client, tenant, sequence["id"])
        assert enrollment["next_step"] == 1
        due = datetime.fromisoformat(enrollment["next_due_at"])
        assert due == WEDNESDAY + timedelta(days=2)  # Friday 10:00 New York: inside the window

        # A day later nothing is due: the sweep starts no run.
        clocked.clock.advance(timedelta(days=1))
        await sweep_now(clocked.runtime)
        await wait_until(lambda: _no_due_jobs(db, tenant.id), what="jobs to drain")
        assert len(smtp.received) == 1

        clocked.clock.advance(timedelta(days=1, minutes=1))
        await sweep_now(clocked.runtime)
        await wait_until(lambda: _received(smtp, 2), what="the second step")
        assert smtp.received[1].message["Subject"] == "Following up"
        await wait_until(
            lambda: _enrollment_status(client, tenant, sequence["id"], "completed"),
            what="completion",
        )
    rows = [m for m in await message_rows(db, tenant.id) if m["enrollment_id"] is not None]
    assert sorted(m["step_index"] for m in rows) == [0, 1]
    assert (await stats(client, tenant, sequence["id"]))["sent"] == 2


async def test_a_step_waits_for_the_sending_window(
    clocked: Clocked, factory: Factory, db: Database, smtp: SmtpSink
) -> None:
    client = clocked.client
    clocked.clock.set(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # Saturday
    tenant = await outreach_tenant(client, factory, "Window Co", smtp=smtp)
    lead = await create_lead(client, tenant, email="window@example.com")
    sequence = await new_sequence(client, tenant)
    await enroll(client, tenant, sequence["id"], [lead["id"]])
    (enrollment,) = await enrollments(client, tenant, sequence["id"])
    # Monday 09:00 in New York.
    assert datetime.fromisoformat(enrollment["next_due_at"]) == datetime(
        2026, 11, 30, 14, 0, tzinfo=UTC
    )
    async with outreach_worker(clocked.runtime):
        # The run is queued for Monday; run early, it finds nothing due.
        assert await release_jobs(db, tenant.id) == 1
        await wait_until(lambda: _no_due_jobs(db, tenant.id), what="the early run")
        assert smtp.received == []
        clocked.clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))
        await sweep_now(clocked.runtime)
        await wait_until(lambda: _received(smtp, 1), what="the Monday send")


async def test_a_reply_stops_the_sequence_and_fires_replied(
    clocked: Clocked, factory: Factory, db: Database, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Reply Stops Co", smtp=smtp)
    secret = (await client.post(f"{OUTREACH}/inbound-secret", headers=tenant.headers)).json()[
        "secret"
    ]
    lead = await create_lead(
        client, tenant, name="Rae Kim", company="Kim Realty", email="rae@kim.example"
    )
    sequence = await new_sequence(client, tenant)
    await enroll(client, tenant, sequence["id"], [lead["id"]])
    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
    sent_id = smtp.received[0].message["Message-ID"]

    r = await client.post(
        f"/api/v1/integrations/email/{tenant.id}/inbound",
        json={
            "from": "Rae Kim <rae@kim.example>",
            "to": "help@puroclean-westcobb.example",
            "subject": "Re: Water damage at Kim Realty?",
            "text": "Yes, we have a leak in unit 4B. Can someone come out Thursday?",
            "headers": {"In-Reply-To": sent_id, "References": sent_id},
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["classification"] == "interested"
    (enrollment,) = await enrollments(client, tenant, sequence["id"])
    assert enrollment["status"] == "stopped" and enrollment["stop_reason"] == "replied"
    (replied,) = await audit_entries(db, tenant.id, "outreach.email.replied")
    assert replied["payload"]["classification"] == "interested"
    inbound = [m for m in await message_rows(db, tenant.id) if m["direction"] == "inbound"]
    assert inbound[0]["lead_id"] is not None and inbound[0]["reply_to_message_id"] is not None
    assert (await stats(client, tenant, sequence["id"]))["replied"] == 1

    # Time passes; the stopped enrollment sends nothing more.
    clocked.clock.advance(timedelta(days=3))
    async with outreach_worker(clocked.runtime):
        await sweep_now(clocked.runtime)
        await wait_until(lambda: _no_due_jobs(db, tenant.id), what="jobs to drain")
    assert len(smtp.received) == 1


async def test_an_out_of_office_reply_pauses_until_the_return_date(
    clocked: Clocked, factory: Factory, db: Database, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "OOO Co", smtp=smtp)
    secret = (await client.post(f"{OUTREACH}/inbound-secret", headers=tenant.headers)).json()[
        "secret"
    ]
    lead = await create_lead(client, tenant, email="away@example.com")
    sequence = await new_sequence(client, tenant)
    await enroll(client, tenant, sequence["id"], [lead["id"]])
    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
    sent_id = smtp.received[0].message["Message-ID"]
    r = await client.post(
        f"/api/v1/integrations/email/{tenant.id}/inbound",
        json={
            "from": "away@example.com",
            "to": "help@puroclean-westcobb.example",
            "subject": "Automatic reply: Water damage?",
            "text": "I am out of the office until December 7 with limited access to email.",
            "headers": {"In-Reply-To": sent_id, "Auto-Submitted": "auto-replied"},
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["classification"] == "out_of_office"
    (enrollment,) = await enrollments(client, tenant, sequence["id"])
    assert enrollment["status"] == "paused"
    assert datetime.fromisoformat(enrollment["paused_until"]).date().isoformat() == "2026-12-07"
    assert (await stats(client, tenant, sequence["id"]))["replied"] == 0


async def test_a_lead_marked_won_stops_its_sequences(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink
) -> None:
    tenant = await outreach_tenant(client, factory, "Won Co", smtp=smtp)
    lead = await create_lead(client, tenant, email="won@example.com")
    sequence = await new_sequence(client, tenant)
    await enroll(client, tenant, sequence["id"], [lead["id"]])
    r = await client.patch(
        f"/api/v1/leads/{lead['id']}", json={"pipeline_stage": "won"}, headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    (enrollment,) = await enrollments(client, tenant, sequence["id"])
    assert enrollment["status"] == "stopped" and enrollment["stop_reason"] == "won"


async def test_unenrolling_stops_one_enrollment(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink
) -> None:
    tenant = await outreach_tenant(client, factory, "Unenroll Co", smtp=smtp)
    lead = await create_lead(client, tenant, email="leave@example.com")
    sequence = await new_sequence(client, tenant)
    result = await enroll(client, tenant, sequence["id"], [lead["id"]])
    enrollment_id = result["results"][0]["enrollment_id"]
    r = await client.delete(
        f"{SEQUENCES}/{sequence['id']}/enrollments/{enrollment_id}", headers=tenant.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "stopped" and r.json()["stop_reason"] == "unenrolled"
    r = await client.delete(
        f"{SEQUENCES}/{sequence['id']}/enrollments/enr_nope", headers=tenant.headers
    )
    assert_error(r, 404, "not_found")


async def test_an_unsubscribe_counts_as_opted_out(
    clocked: Clocked, factory: Factory, smtp: SmtpSink
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Opted Out Stats Co", smtp=smtp)
    lead = await create_lead(client, tenant, email="bye@example.com")
    sequence = await new_sequence(client, tenant)
    await enroll(client, tenant, sequence["id"], [lead["id"]])
    async with outreach_worker(clocked.runtime):
        await wait_until(lambda: _received(smtp, 1), what="the first step")
    mail = smtp.received[0].message
    url = re.findall(r"<([^>]+)>", mail["List-Unsubscribe"])[1].removeprefix("http://testserver")
    assert (await client.post(url, data={"List-Unsubscribe": "One-Click"})).status_code == 200
    (enrollment,) = await enrollments(client, tenant, sequence["id"])
    assert enrollment["stop_reason"] == "opted_out"
    assert (await stats(client, tenant, sequence["id"]))["opted_out"] == 1


async def test_the_inbound_webhook_needs_the_secret(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Inbound Secret Co")
    created = await client.post(f"{OUTREACH}/inbound-secret", headers=tenant.headers)
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    body = {"from": "x@example.com", "to": "y@example.com", "subject": "hi", "text": "hello"}
    url = f"/api/v1/integrations/email/{tenant.id}/inbound"
    for header in (
        {},
        {"Authorization": "Bearer eis_wrong"},
        {"Authorization": created.json()["secret"]},
    ):
        assert_error(await client.post(url, json=body, headers=header), 401, "unauthenticated")
    assert await message_rows(db, tenant.id) == []


async def _received(smtp: SmtpSink, count: int) -> bool:
    return len(smtp.received) >= count


async def _no_due_jobs(db: Database, organization_id: Any) -> bool:
    from sqlalchemy import text

    async with db.system_transaction() as conn:
        due = await conn.scalar(
            text(
                "SELECT count(*) FROM pgqueuer WHERE entrypoint LIKE 'outreach.%' "
                "AND (status = 'picked' OR (status = 'queued' AND execute_after <= now())) "
                "AND convert_from(payload, 'UTF8')::jsonb ->> 'organization_id' = :org"
            ),
            {"org": str(organization_id)},
        )
    return due == 0


async def _enrollment_status(
    client: httpx.AsyncClient, tenant: Tenant, sequence_id: str, status: str
) -> bool:
    return all(e["status"] == status for e in await enrollments(client, tenant, sequence_id))
