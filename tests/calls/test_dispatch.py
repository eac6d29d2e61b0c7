"""A call, end to end with the worker: classified, decided, and dispatched once.

Against a local Twilio and a local JobNimbus, on a clock the test holds still (Wednesday
10:00 in New York, business hours).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from eal.config import Settings
from eal.db.engine import Database
from tests.calls.support import (
    JOBNIMBUS_KEY,
    PITCH,
    call_row,
    calls_tenant,
    calls_worker,
    post_call,
    wait_for_call,
)
from tests.factories import Factory
from tests.integrations.fake_jobnimbus import FakeJobNimbus, run_fake_jobnimbus
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.outreach.support import Clocked, clocked_app, twilio_account
from tests.support import audit_entries

START = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)
ACCOUNT = twilio_account()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


@pytest.fixture
def jobnimbus() -> Iterator[FakeJobNimbus]:
    with run_fake_jobnimbus(JOBNIMBUS_KEY) as fake:
        yield fake


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[Clocked]:
    async with clocked_app(settings, START) as app:
        yield app


async def test_a_qualified_call_in_business_hours_is_dispatched_once(
    clocked: Clocked, factory: Factory, db: Database, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Dispatch Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START)
        assert call["status"] == "received"
        assert call["id"].startswith("call_")
        done = await wait_for_call(client, tenant, call["id"], "dispatched", "dispatch_failed")
    assert done["status"] == "dispatched", done
    classification = done["classification"]
    assert classification["intent"] == "water"
    assert classification["qualified"] is True
    assert classification["provider"] == "embedded"
    assert classification["reason"]
    decision = done["dispatch_decision"]
    assert decision["action"] == "auto_dispatch"
    assert decision["reason"] == "in_service_radius + qualified + business_hours"
    assert decision["sms_callback_sent"] is True
    assert decision["simulated"] is False
    assert decision["error"] is None
    # One text back to the caller, one JobNimbus contact and one job holding the call id.
    assert [m["to"] for m in twilio.messages] == ["+14045550173"]
    assert "Dana" in twilio.messages[0]["body"]
    assert len(jobnimbus.contacts) == 1
    [job] = jobnimbus.jobs
    assert decision["job_created_in_jobnimbus"] == job["jnid"]
    assert job["cf_string_2"] == call["id"]
    assert job["primary"]["id"] == jobnimbus.contacts[0]["jnid"]
    # A lead for the caller, made from the call.
    lead = await client.get(f"/api/v1/leads/{decision['lead_id']}", headers=tenant.headers)
    assert lead.status_code == 200
    assert lead.json()["source"] == "phone_call"
    assert lead.json()["phone"] == "+14045550173"
    actions = [e["action"] for e in await audit_entries(db, tenant.id)]
    for action in (
        "call.received",
        "call.classified",
        "call.qualified",
        "call.dispatch_decided",
        "lead.created",
        "call.dispatched",
    ):
        assert action in actions
    assert actions.index("call.received") < actions.index("call.classified")


async def test_a_second_call_from_the_same_caller_links_the_same_lead(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Repeat Caller Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    async with calls_worker(clocked.runtime):
        first = await post_call(client, tenant, START)
        first = await wait_for_call(client, tenant, first["id"], "dispatched", "dispatch_failed")
        second = await post_call(client, tenant, START + timedelta(minutes=5))
        second = await wait_for_call(client, tenant, second["id"], "dispatched", "dispatch_failed")
    assert first["dispatch_decision"]["lead_id"] == second["dispatch_decision"]["lead_id"]
    assert len(jobnimbus.contacts) == 1  # the lead's contact is pushed once
    assert len(jobnimbus.jobs) == 2  # one job per call


async def test_a_vendor_outage_is_retried_and_nothing_is_done_twice(
    clocked: Clocked, factory: Factory, db: Database, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Outage Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    twilio.fail_next(1, 503)
    jobnimbus.fail_next(2, 503)
    async with calls_worker(clocked.runtime), calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START)
        done = await wait_for_call(client, tenant, call["id"], "dispatched", "dispatch_failed")
    assert done["status"] == "dispatched", done
    assert done["dispatch_decision"]["error"] is None
    assert len(twilio.messages) == 1
    assert len(jobnimbus.contacts) == 1
    assert len(jobnimbus.jobs) == 1
    assert len(await audit_entries(db, tenant.id, "call.dispatched")) == 1


async def test_a_crm_that_refuses_the_job_fails_the_dispatch_visibly(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Refused Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    jobnimbus.fail_next(50, 400, '{"message": "record_type_name Residential does not exist"}')
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START)
        done = await wait_for_call(client, tenant, call["id"], "dispatched", "dispatch_failed")
    assert done["status"] == "dispatch_failed"
    decision = done["dispatch_decision"]
    assert "CRM" in decision["error"]
    assert decision["sms_callback_sent"] is True  # the caller still got the text
    assert decision["job_created_in_jobnimbus"] is None


async def test_a_crm_down_for_every_retry_ends_as_dispatch_failed(
    clocked: Clocked, factory: Factory, db: Database, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Down Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    jobnimbus.fail_next(1000, 503)
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START)
        done = await wait_for_call(
            client, tenant, call["id"], "dispatched", "dispatch_failed", within=60
        )
    assert done["status"] == "dispatch_failed"
    assert (
        "503" in done["dispatch_decision"]["error"] or "CRM" in done["dispatch_decision"]["error"]
    )
    row = await call_row(db, done["id"])
    assert row["dispatch_error"]


async def test_test_keys_simulate_every_side_effect(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client,
        factory,
        "Simulated Calls Co",
        environment="test",
        twilio=twilio,
        account=ACCOUNT,
        jobnimbus=jobnimbus,
    )
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START)
        done = await wait_for_call(client, tenant, call["id"], "dispatched", "dispatch_failed")
    decision = done["dispatch_decision"]
    assert done["status"] == "dispatched"
    assert decision["simulated"] is True
    assert decision["sms_callback_sent"] is True
    assert decision["job_created_in_jobnimbus"].startswith("sim_")
    assert twilio.requests == []
    assert jobnimbus.requests == []


async def test_a_sales_pitch_is_ignored_and_nothing_is_sent(
    clocked: Clocked, factory: Factory, db: Database, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Pitched Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START, transcript=PITCH)
        done = await wait_for_call(client, tenant, call["id"], "classified")
        await asyncio.sleep(0.3)
    assert done["classification"]["intent"] == "sales_pitch"
    assert done["classification"]["qualified"] is False
    assert done["dispatch_decision"]["action"] == "ignore"
    assert done["dispatch_decision"]["reason"] == "junk:sales_pitch"
    assert twilio.requests == [] and jobnimbus.requests == []
    assert await audit_entries(db, tenant.id, "call.qualified") == []


async def test_a_call_without_a_transcript_goes_to_the_owner(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio
) -> None:
    client = clocked.client
    tenant = await calls_tenant(client, factory, "Silent Co", twilio=twilio, account=ACCOUNT)
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START, transcript=None, voicemail=True)
        done = await wait_for_call(client, tenant, call["id"], "classified")
    assert done["classification"]["confidence"] < 0.6
    assert "no transcript" in done["classification"]["reason"]
    assert done["dispatch_decision"]["action"] == "owner_review"
    assert done["dispatch_decision"]["reason"] == "low_confidence"
    assert twilio.requests == []


async def test_a_caller_who_opted_out_gets_no_text_but_the_job_is_made(
    clocked: Clocked, factory: Factory, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    client = clocked.client
    tenant = await calls_tenant(
        client, factory, "Opted Out Co", twilio=twilio, account=ACCOUNT, jobnimbus=jobnimbus
    )
    r = await client.post(
        "/api/v1/outreach/suppressions",
        json={"channel": "sms", "address": "+14045550173"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    async with calls_worker(clocked.runtime):
        call = await post_call(client, tenant, START)
        done = await wait_for_call(client, tenant, call["id"], "dispatched", "dispatch_failed")
    assert done["status"] == "dispatched"
    assert done["dispatch_decision"]["sms_callback_sent"] is False
    assert twilio.requests == []
    assert len(jobnimbus.jobs) == 1


async def test_after_hours_urgent_calls_text_the_on_call_phone(
    settings: Settings, factory: Factory, twilio: FakeTwilio, jobnimbus: FakeJobNimbus
) -> None:
    night = datetime(2026, 6, 4, 3, 0, tzinfo=UTC)  # 23:00 Wednesday in New York
    async with clocked_app(settings, night) as clocked:
        client = clocked.client
        tenant = await calls_tenant(
            client,
            factory,
            "Night Co",
            twilio=twilio,
            account=ACCOUNT,
            jobnimbus=jobnimbus,
            business_hours={"mon": [["08:00", "18:00"]]},
            dispatch={
                "auto_dispatch": True,
                "after_hours_dispatch": True,
                "on_call_phone": "+14045550111",
            },
        )
        async with calls_worker(clocked.runtime):
            call = await post_call(client, tenant, night)
            done = await wait_for_call(client, tenant, call["id"], "dispatched", "dispatch_failed")
    assert done["dispatch_decision"]["reason"].endswith("after_hours + urgency_high")
    assert sorted(m["to"] for m in twilio.messages) == ["+14045550111", "+14045550173"]


async def test_an_unknown_call_id_is_a_404(clocked: Clocked, factory: Factory) -> None:
    tenant = await factory.tenant("No Such Call Co")
    for call_id in (f"call_{uuid.uuid4().hex}", "call_nothex", "lead_123"):
        r = await clocked.client.get(f"/api/v1/calls/{call_id}", headers=tenant.headers)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
