"""Inbound SMS through Twilio's signed webhook: STOP / START / HELP, replies, forged requests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from xml.etree import ElementTree

import httpx
import pytest

from eal.db.engine import Database
from tests.factories import Factory, Tenant
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.outreach.support import (
    FROM_NUMBER,
    OUTREACH,
    create_lead,
    message_rows,
    outreach_tenant,
    twilio_account,
)
from tests.support import assert_error, audit_entries

ACCOUNT = twilio_account()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


def inbound_url(tenant: Tenant) -> str:
    return f"http://testserver/api/v1/integrations/twilio/{tenant.id}/sms"


async def text_in(
    client: httpx.AsyncClient, twilio: FakeTwilio, tenant: Tenant, sender: str, body: str
) -> str | None:
    """Post an inbound SMS as Twilio would; the reply our TwiML carries (None: no reply)."""
    r = await twilio.send_inbound_sms(
        inbound_url(tenant), from_number=sender, to_number=FROM_NUMBER, body=body, client=client
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(r.text)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


async def suppressions(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, object]]:
    r = await client.get(f"{OUTREACH}/suppressions", headers=tenant.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, object]] = r.json()["data"]
    return data


async def test_stop_start_help_cycle(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(client, factory, "Keyword Co", twilio=twilio, account=ACCOUNT)
    number = "+17705550190"

    confirmation = await text_in(client, twilio, tenant, number, "Stop")
    assert confirmation is not None and "unsubscribed" in confirmation.lower()
    (entry,) = await suppressions(client, tenant)
    assert entry["address"] == number and entry["reason"] == "user_opt_out"
    assert entry["source"] == "sms_keyword"

    # Exactly one confirmation, never a second, whatever keyword comes next.
    assert await text_in(client, twilio, tenant, number, "STOP") is None
    assert await text_in(client, twilio, tenant, number, "unsubscribe") is None
    assert len(await suppressions(client, tenant)) == 1

    r = await client.post(
        f"{OUTREACH}/send",
        json={"channel": "sms", "to": number, "body": "hi"},
        headers=tenant.headers,
    )
    assert_error(r, 422, "suppressed")

    help_reply = await text_in(client, twilio, tenant, number, "HELP")
    assert help_reply is not None and "Keyword Co" in help_reply and "STOP" in help_reply

    back = await text_in(client, twilio, tenant, number, "start")
    assert back is not None and "STOP" in back
    assert await suppressions(client, tenant) == []
    r = await client.post(
        f"{OUTREACH}/send",
        json={"channel": "sms", "to": number, "body": "hi"},
        headers=tenant.headers,
    )
    assert r.status_code == 202, r.text

    # Every inbound message is kept.
    inbound = [m for m in await message_rows(db, tenant.id) if m["direction"] == "inbound"]
    assert [m["body"] for m in inbound] == ["Stop", "STOP", "unsubscribe", "HELP", "start"]
    assert len(await audit_entries(db, tenant.id, "outreach.suppression.added")) == 1
    assert len(await audit_entries(db, tenant.id, "outreach.suppression.removed")) == 1


@pytest.mark.parametrize(
    "body",
    [
        "STOPALL",
        "cancel",
        " End ",
        "QUIT",
        "revoke",
        "OptOut",
        "stop texting me",
        "Please remove me",
    ],
)
async def test_every_opt_out_keyword_and_a_plain_request_suppress(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio, body: str
) -> None:
    tenant = await outreach_tenant(
        client, factory, "Opt Out Words Co", twilio=twilio, account=ACCOUNT
    )
    assert await text_in(client, twilio, tenant, "+17705550191", body) is not None
    (entry,) = await suppressions(client, tenant)
    assert entry["reason"] == "user_opt_out"


@pytest.mark.parametrize(
    "body", ["Stop by at 3?", "Can you start at 9 instead", "yes please come tomorrow"]
)
async def test_ordinary_replies_are_not_keywords(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio, body: str
) -> None:
    tenant = await outreach_tenant(
        client, factory, "Not A Keyword Co", twilio=twilio, account=ACCOUNT
    )
    assert await text_in(client, twilio, tenant, "+17705550192", body) is None
    assert await suppressions(client, tenant) == []
    (row,) = await message_rows(db, tenant.id)
    assert row["direction"] == "inbound" and row["body"] == body
    assert row["classification"] is not None


async def test_stop_from_a_number_we_never_wrote_to_is_kept(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(
        client, factory, "Unknown Number Co", twilio=twilio, account=ACCOUNT
    )
    assert await text_in(client, twilio, tenant, "+14155550111", "STOP") is not None
    (entry,) = await suppressions(client, tenant)
    assert entry["address"] == "+14155550111"


async def test_a_bad_signature_is_403_and_records_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(client, factory, "Forged SMS Co", twilio=twilio, account=ACCOUNT)
    url = inbound_url(tenant)
    params = {
        "From": "+17705550193",
        "To": FROM_NUMBER,
        "Body": "STOP",
        "MessageSid": "SM" + "a" * 32,
    }
    headers, body = twilio.signed(url, params)

    tampered = body.replace(b"%2B17705550193", b"%2B17705550194")
    assert_error(await client.post(url, content=tampered, headers=headers), 403, "forbidden")
    unsigned = {k: v for k, v in headers.items() if k != "X-Twilio-Signature"}
    assert_error(await client.post(url, content=body, headers=unsigned), 403, "forbidden")
    # Signed for another organization's URL.
    other = await outreach_tenant(client, factory, "Other SMS Co", twilio=twilio, account=ACCOUNT)
    headers_other, body_other = twilio.signed(inbound_url(other), params)
    assert_error(
        await client.post(url, content=body_other, headers=headers_other), 403, "forbidden"
    )
    # Signed with another auth token.
    stranger = twilio_account()
    with run_fake_twilio(dict([stranger])) as elsewhere:
        h, b = elsewhere.signed(url, params)
        assert_error(await client.post(url, content=b, headers=h), 403, "forbidden")

    assert await message_rows(db, tenant.id) == []
    assert await suppressions(client, tenant) == []


async def test_an_organization_without_twilio_refuses_inbound(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio
) -> None:
    tenant = await factory.tenant("No Twilio Co")
    r = await twilio.send_inbound_sms(
        inbound_url(tenant),
        from_number="+17705550195",
        to_number=FROM_NUMBER,
        body="STOP",
        client=client,
    )
    assert_error(r, 403, "forbidden")


async def test_an_unknown_organization_is_404(
    client: httpx.AsyncClient, twilio: FakeTwilio
) -> None:
    url = "http://testserver/api/v1/integrations/twilio/9f1c8a32-4d65-4e2b-8a91-3c0e7d4b2f18/sms"
    r = await twilio.send_inbound_sms(
        url, from_number="+17705550196", to_number=FROM_NUMBER, body="STOP", client=client
    )
    assert_error(r, 404, "not_found")


async def test_a_custom_help_reply_is_used(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(
        client,
        factory,
        "Help Reply Co",
        twilio=twilio,
        account=ACCOUNT,
        outreach={"sms_help_reply": "Help Reply Co: call 770-555-0100. Reply STOP to opt out."},
    )
    assert await text_in(client, twilio, tenant, "+17705550197", "info") == (
        "Help Reply Co: call 770-555-0100. Reply STOP to opt out."
    )


async def test_an_sms_reply_stops_the_senders_sequence_and_an_opt_out_counts(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(client, factory, "SMS Reply Co", twilio=twilio, account=ACCOUNT)
    replier = await create_lead(
        client, tenant, name="Ana Ruiz", company="Ruiz PM", phone="(770) 555-0181"
    )
    quitter = await create_lead(
        client, tenant, name="Bo Lee", company="Lee PM", phone="+17705550182"
    )
    r = await client.post(
        f"{OUTREACH}/sequences",
        json={
            "name": "SMS",
            "channel": "sms",
            "steps": [{"delay": "1d", "body": "Hi {{ first_name }}"}],
        },
        headers=tenant.headers,
    )
    sequence_id = r.json()["id"]
    r = await client.post(
        f"{OUTREACH}/sequences/{sequence_id}/enrollments",
        json={"lead_ids": [replier["id"], quitter["id"]]},
        headers=tenant.headers,
    )
    assert r.json()["enrolled"] == 2

    assert (
        await text_in(client, twilio, tenant, "+17705550181", "Yes, can you come Thursday?") is None
    )
    assert await text_in(client, twilio, tenant, "+17705550182", "stop texting me") is not None
    listed = (
        await client.get(f"{OUTREACH}/sequences/{sequence_id}/enrollments", headers=tenant.headers)
    ).json()["data"]
    reasons = {e["lead_id"]: (e["status"], e["stop_reason"]) for e in listed}
    assert reasons == {
        replier["id"]: ("stopped", "replied"),
        quitter["id"]: ("stopped", "opted_out"),
    }
    inbound = [m for m in await message_rows(db, tenant.id) if m["direction"] == "inbound"]
    assert {m["lead_id"] for m in inbound} == {uuid.UUID(replier["id"]), uuid.UUID(quitter["id"])}
    stats = (await client.get(f"{OUTREACH}/sequences", headers=tenant.headers)).json()["data"][0][
        "stats"
    ]
    assert (stats["enrolled"], stats["replied"], stats["opted_out"]) == (2, 1, 1)
