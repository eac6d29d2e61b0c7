"""Quiet hours and state rules for marketing SMS, on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from eal.config import Settings
from eal.db.engine import Database
from tests.factories import Factory, Tenant
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.outreach.support import (
    OUTREACH,
    Clocked,
    clocked_app,
    create_lead,
    outreach_tenant,
    outreach_worker,
    release_jobs,
    twilio_account,
    wait_for_status,
    wait_until,
)

ACCOUNT = twilio_account()
# Tuesday 2026-11-24, 22:00 in New York: inside the default quiet hours (21:00-08:00).
TUESDAY_NIGHT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WEDNESDAY_8AM_NEW_YORK = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
GEORGIA = "+17705550120"
CALIFORNIA = "+14155550121"
FLORIDA = "+13055550122"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[Clocked]:
    async with clocked_app(settings, TUESDAY_NIGHT) as app:
        yield app


async def send(client: httpx.AsyncClient, tenant: Tenant, to: str, purpose: str) -> dict[str, Any]:
    r = await client.post(
        f"{OUTREACH}/send",
        json={"channel": "sms", "to": to, "body": "Storm season special", "purpose": purpose},
        headers=tenant.headers,
    )
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def test_marketing_sms_waits_for_morning_and_transactional_goes_now(
    clocked: Clocked, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(
        client, factory, "Quiet Hours Co", twilio=twilio, account=ACCOUNT
    )
    marketing = await send(client, tenant, GEORGIA, "marketing")
    assert at(marketing["scheduled_for"]) == WEDNESDAY_8AM_NEW_YORK
    transactional = await send(client, tenant, GEORGIA, "transactional")
    assert transactional["scheduled_for"] is None

    async with outreach_worker(clocked.runtime):
        await wait_for_status(client, tenant, transactional["message_id"], "sent")
        assert len(twilio.messages) == 1
        # Running the held job before its time sends nothing: it is held again.
        await release_jobs(db, tenant.id)
        held = await wait_for_status(client, tenant, marketing["message_id"], "queued")
        assert at(held["scheduled_for"]) == WEDNESDAY_8AM_NEW_YORK

        clocked.clock.set(WEDNESDAY_8AM_NEW_YORK)
        await release_jobs(db, tenant.id)
        sent = await wait_for_status(client, tenant, marketing["message_id"], "sent")
    assert at(sent["sent_at"]) == WEDNESDAY_8AM_NEW_YORK
    assert len(twilio.messages) == 2


async def test_the_recipients_time_zone_decides(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio
) -> None:
    client = clocked.client
    # 20:30 in California, 23:30 in New York.
    clocked.clock.set(datetime(2026, 11, 25, 4, 30, tzinfo=UTC))
    tenant = await outreach_tenant(client, factory, "Zones Co", twilio=twilio, account=ACCOUNT)
    assert (await send(client, tenant, CALIFORNIA, "marketing"))["scheduled_for"] is None
    held = await send(client, tenant, GEORGIA, "marketing")
    assert at(held["scheduled_for"]) == WEDNESDAY_8AM_NEW_YORK


async def test_florida_allows_8_to_20_and_three_messages_a_day(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(client, factory, "Florida Co", twilio=twilio, account=ACCOUNT)
    # 20:30 in Miami: allowed federally (before 21:00), not in Florida.
    clocked.clock.set(datetime(2026, 11, 25, 1, 30, tzinfo=UTC))
    evening = await send(client, tenant, FLORIDA, "marketing")
    assert at(evening["scheduled_for"]) == WEDNESDAY_8AM_NEW_YORK

    # Noon the next day: the held one goes at 8:00, two more fit, the fourth waits 24 hours.
    noon = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    clocked.clock.set(noon)
    for _ in range(2):
        assert (await send(client, tenant, FLORIDA, "marketing"))["scheduled_for"] is None
    fourth = await send(client, tenant, FLORIDA, "marketing")
    assert at(fourth["scheduled_for"]) == WEDNESDAY_8AM_NEW_YORK + timedelta(days=1)
    # Transactional messages are not marketing: no window, no cap.
    assert (await send(client, tenant, FLORIDA, "transactional"))["scheduled_for"] is None


async def test_custom_quiet_hours_narrow_the_window(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(
        client,
        factory,
        "Custom Quiet Co",
        twilio=twilio,
        account=ACCOUNT,
        outreach={"sms_quiet_hours": {"start": "18:00", "end": "10:00"}},
    )
    clocked.clock.set(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))  # 09:00 in New York
    held = await send(client, tenant, GEORGIA, "marketing")
    assert at(held["scheduled_for"]) == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


async def test_a_sequence_sms_step_respects_quiet_hours(
    clocked: Clocked, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    client = clocked.client
    tenant = await outreach_tenant(
        client, factory, "Quiet Sequence Co", twilio=twilio, account=ACCOUNT
    )
    lead = await create_lead(client, tenant, name="Ana Ruiz", company="Ruiz PM", phone=GEORGIA)
    r = await client.post(
        f"{OUTREACH}/sequences",
        json={
            "name": "SMS follow-up",
            "channel": "sms",
            "steps": [{"delay": "0m", "body": "Hi {{ first_name }}, need a hand after the storm?"}],
            "sending_window": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00",
                "end": "24:00",
            },
        },
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    sequence_id = r.json()["id"]
    enrolled = await client.post(
        f"{OUTREACH}/sequences/{sequence_id}/enrollments",
        json={"lead_ids": [lead["id"]]},
        headers=tenant.headers,
    )
    assert enrolled.status_code == 201, enrolled.text

    async def step_message() -> dict[str, Any] | None:
        listed = (await client.get(f"{OUTREACH}/messages", headers=tenant.headers)).json()["data"]
        return listed[0] if listed else None

    async with outreach_worker(clocked.runtime):
        message = await wait_until(step_message, what="the step's message")
        assert message["status"] == "queued" and message["step"] == 0
        assert at(message["scheduled_for"]) == WEDNESDAY_8AM_NEW_YORK
        clocked.clock.set(WEDNESDAY_8AM_NEW_YORK)
        await release_jobs(db, tenant.id)
        await wait_for_status(client, tenant, message["id"], "sent")
    (sent,) = twilio.messages
    assert sent["body"] == "Hi Ana, need a hand after the storm?"
