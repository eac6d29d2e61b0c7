"""POST /outreach/send through a real SMTP server and a local Twilio: checks, delivery, status."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from eal.db.engine import Database
from eal.runtime import Runtime
from tests.factories import Factory, Tenant
from tests.integrations.fake_twilio import FakeTwilio, run_fake_twilio
from tests.outreach.support import (
    FROM_ADDRESS,
    FROM_NUMBER,
    OUTREACH,
    SmtpSink,
    message_rows,
    outreach_tenant,
    outreach_worker,
    smtp_sink,
    twilio_account,
    wait_for_status,
)
from tests.support import assert_error, audit_entries, error_fields

SEND = f"{OUTREACH}/send"
ACCOUNT = twilio_account()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    async with smtp_sink() as sink:
        yield sink


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with run_fake_twilio(dict([ACCOUNT])) as fake:
        yield fake


@pytest.fixture
async def worker(runtime: Runtime) -> AsyncIterator[None]:
    async with outreach_worker(runtime):
        yield


async def send(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post(SEND, json=body, headers=tenant.headers)


async def test_an_email_reaches_the_smtp_server_with_unsubscribe_headers(
    client: httpx.AsyncClient, factory: Factory, db: Database, smtp: SmtpSink, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "Mail Headers Co", smtp=smtp)
    r = await send(
        client,
        tenant,
        channel="email",
        to="Sarah.Mitchell@Example.com",
        subject="Your inspection on Tuesday",
        body="Hi Sarah,\n\nOur crew arrives at 9am.\nCall us with any questions.",
    )
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "queued" and queued["channel"] == "email"
    assert re.fullmatch(r"msg_[0-9A-Za-z]+", queued["message_id"])

    sent = await wait_for_status(client, tenant, queued["message_id"], "sent")
    assert sent["to"] == "sarah.mitchell@example.com"  # normalised
    assert [h["status"] for h in sent["history"]] == ["queued", "sending", "sent"]
    assert sent["provider"] == "smtp" and sent["sent_at"] is not None

    (mail,) = smtp.to("sarah.mitchell@example.com")
    assert mail["From"].addresses[0].addr_spec == FROM_ADDRESS
    assert mail["Subject"] == "Your inspection on Tuesday"
    assert re.fullmatch(r"<[^<>@\s]+@puroclean-westcobb\.example>", mail["Message-ID"])
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", mail["List-Unsubscribe"])
    assert links[0].startswith(f"mailto:{FROM_ADDRESS}?subject=unsubscribe")
    assert re.fullmatch(r"http://testserver/u/[A-Za-z0-9_.-]+", links[1])
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Our crew arrives at 9am." in text and links[1] in text
    assert "<p>Hi Sarah,</p>" in html and "Unsubscribe</a>" in html
    # The token names the message, never the address.
    assert "sarah" not in links[1].lower()

    events = await audit_entries(db, tenant.id, "outreach.email.sent")
    assert len(events) == 1


async def test_one_click_unsubscribe_suppresses_and_later_sends_are_refused(
    client: httpx.AsyncClient, factory: Factory, db: Database, smtp: SmtpSink, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "One Click Co", smtp=smtp)
    r = await send(client, tenant, channel="email", to="lee@example.com", subject="Hi", body="Hi")
    await wait_for_status(client, tenant, r.json()["message_id"], "sent")
    (mail,) = smtp.to("lee@example.com")
    url = re.findall(r"<([^>]+)>", mail["List-Unsubscribe"])[1]
    path = url.removeprefix("http://testserver")

    # Opening the link (a mail scanner, a prefetch) shows a page and changes nothing.
    page = await client.get(path)
    assert page.status_code == 200 and "<button" in page.text
    assert (await client.get(f"{OUTREACH}/suppressions", headers=tenant.headers)).json()[
        "data"
    ] == []

    forged = await client.post(path[:-3] + "AAA", data={"List-Unsubscribe": "One-Click"})
    assert_error(forged, 403, "forbidden")

    done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    listed = (await client.get(f"{OUTREACH}/suppressions", headers=tenant.headers)).json()
    (entry,) = listed["data"]
    assert entry["address"] == "lee@example.com"
    assert entry["reason"] == "user_unsubscribe"
    assert entry["source"] == "list-unsubscribe-header"

    before = len(await message_rows(db, tenant.id))
    again = await send(
        client, tenant, channel="email", to="LEE@example.com ", subject="x", body="y"
    )
    error = assert_error(again, 422, "suppressed")
    assert error["details"]["reason"] == "user_unsubscribe"
    assert len(await message_rows(db, tenant.id)) == before


async def test_the_footer_button_unsubscribes_with_its_own_source(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "Footer Co", smtp=smtp)
    r = await send(client, tenant, channel="email", to="kim@example.com", subject="Hi", body="Hi")
    await wait_for_status(client, tenant, r.json()["message_id"], "sent")
    (mail,) = smtp.to("kim@example.com")
    footer = re.search(
        r"http://testserver(/u/[A-Za-z0-9_.-]+)", mail.get_body(("plain",)).get_content()
    )
    assert footer is not None
    page = await client.get(footer.group(1))
    action = re.search(r'action="([^"]+)"', page.text)
    assert action is not None
    assert (await client.post(action.group(1))).status_code == 200
    (entry,) = (await client.get(f"{OUTREACH}/suppressions", headers=tenant.headers)).json()["data"]
    assert entry["source"] == "footer-link"


async def test_an_sms_goes_through_twilio_and_follows_its_status_callbacks(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "SMS Status Co", twilio=twilio, account=ACCOUNT)
    r = await send(
        client,
        tenant,
        channel="sms",
        to="(770) 555-0142",
        body="Hi Sarah, confirming our crew at 9am tomorrow. Reply HELP for help, STOP to cancel.",
    )
    assert r.status_code == 202, r.text
    message_id = r.json()["message_id"]
    sent = await wait_for_status(client, tenant, message_id, "sent")
    assert sent["to"] == "+17705550142" and sent["from"] == FROM_NUMBER
    (created,) = twilio.messages
    assert created["to"] == "+17705550142" and created["from"] == FROM_NUMBER
    assert sent["provider_message_id"] == created["sid"]
    request = twilio.requests[-1]
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT[0]}/Messages.json"
    callback = f"http://testserver/api/v1/integrations/twilio/{tenant.id}/status"
    assert created["status_callback"] == callback

    assert (
        await twilio.send_status_callback(created["sid"], "sent", client=client)
    ).status_code == 204
    r = await twilio.send_status_callback(created["sid"], "delivered", client=client)
    assert r.status_code == 204
    # Out of order: a late "sent" changes nothing.
    await twilio.send_status_callback(created["sid"], "sent", client=client)
    detail = (await client.get(f"{OUTREACH}/messages/{message_id}", headers=tenant.headers)).json()
    assert detail["status"] == "delivered" and detail["delivered_at"] is not None
    assert [h["status"] for h in detail["history"]] == ["queued", "sending", "sent", "delivered"]


async def test_a_forged_status_callback_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio, worker: None
) -> None:
    tenant = await outreach_tenant(
        client, factory, "Forged Status Co", twilio=twilio, account=ACCOUNT
    )
    r = await send(client, tenant, channel="sms", to="+17705550143", body="Crew at 9")
    message_id = r.json()["message_id"]
    await wait_for_status(client, tenant, message_id, "sent")
    sid = twilio.messages[0]["sid"]
    url = f"http://testserver/api/v1/integrations/twilio/{tenant.id}/status"
    headers, body = twilio.signed(url, {"MessageSid": sid, "MessageStatus": "delivered"})
    tampered = body.replace(b"delivered", b"failed")
    r = await client.post(url, content=tampered, headers=headers)
    assert_error(r, 403, "forbidden")
    detail = (await client.get(f"{OUTREACH}/messages/{message_id}", headers=tenant.headers)).json()
    assert detail["status"] == "sent"


async def test_twilio_21610_fails_the_message_and_suppresses_the_number(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio, worker: None
) -> None:
    tenant = await outreach_tenant(
        client, factory, "Carrier Opt Out Co", twilio=twilio, account=ACCOUNT
    )
    twilio.opt_out("+17705550144")
    r = await send(client, tenant, channel="sms", to="+17705550144", body="Crew at 9")
    failed = await wait_for_status(client, tenant, r.json()["message_id"], "failed")
    assert failed["error_code"] == "21610"
    (entry,) = (await client.get(f"{OUTREACH}/suppressions", headers=tenant.headers)).json()["data"]
    assert entry["address"] == "+17705550144" and entry["reason"] == "carrier_opt_out"


async def test_a_hard_smtp_bounce_suppresses_the_address(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "Bounce Co", smtp=smtp)
    smtp.rcpt_replies["gone@example.com"] = "550 5.1.1 No such user"
    r = await send(client, tenant, channel="email", to="gone@example.com", subject="Hi", body="Hi")
    failed = await wait_for_status(client, tenant, r.json()["message_id"], "failed")
    assert failed["error_code"] == "550"
    (entry,) = (await client.get(f"{OUTREACH}/suppressions", headers=tenant.headers)).json()["data"]
    assert entry["reason"] == "hard_bounce"


async def test_a_provider_outage_is_retried_and_the_message_sent_once(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "Outage Co", twilio=twilio, account=ACCOUNT)
    twilio.fail_next(2, 503)
    r = await send(client, tenant, channel="sms", to="+17705550145", body="Crew at 9")
    sent = await wait_for_status(client, tenant, r.json()["message_id"], "sent")
    assert len(twilio.messages) == 1
    statuses = [h["status"] for h in sent["history"]]
    assert statuses == ["queued", "sending", "queued", "sending", "queued", "sending", "sent"]


async def test_test_keys_never_reach_a_provider(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink, twilio: FakeTwilio, worker: None
) -> None:
    tenant = await outreach_tenant(
        client,
        factory,
        "Test Key Co",
        smtp=smtp,
        twilio=twilio,
        account=ACCOUNT,
        environment="test",
    )
    r1 = await send(client, tenant, channel="sms", to="+17705550146", body="Crew at 9")
    r2 = await send(client, tenant, channel="email", to="t@example.com", subject="s", body="b")
    for r in (r1, r2):
        assert r.status_code == 202, r.text
        await wait_for_status(client, tenant, r.json()["message_id"], "simulated")
    assert twilio.messages == [] and smtp.received == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "sms", "to": "555-01", "body": "hi"}, "to"),
        ({"channel": "sms", "to": "not a number", "body": "hi"}, "to"),
        ({"channel": "email", "to": "nobody@", "subject": "s", "body": "hi"}, "to"),
        ({"channel": "sms", "to": "+17705550142", "body": ""}, "body"),
        ({"channel": "sms", "to": "+17705550142", "body": "x" * 1601}, "body"),
        ({"channel": "email", "to": "a@example.com", "body": "hi"}, "subject"),
        ({"channel": "sms", "to": "+17705550142", "body": "hi", "subject": "s"}, "subject"),
        ({"channel": "fax", "to": "+17705550142", "body": "hi"}, "channel"),
        ({"channel": "sms", "to": "+17705550142", "body": "hi", "purpose": "spam"}, "purpose"),
    ],
)
async def test_bad_sends_are_refused_and_queue_nothing(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    twilio: FakeTwilio,
    body: dict[str, Any],
    field: str,
) -> None:
    tenant = await outreach_tenant(client, factory, "Bad Send Co", twilio=twilio, account=ACCOUNT)
    r = await client.post(SEND, json=body, headers=tenant.headers)
    assert field in error_fields(r)
    assert await message_rows(db, tenant.id) == []


async def test_a_1600_character_sms_is_accepted(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(client, factory, "Long SMS Co", twilio=twilio, account=ACCOUNT)
    r = await send(client, tenant, channel="sms", to="+17705550147", body="x" * 1600)
    assert r.status_code == 202, r.text


async def test_a_suppressed_number_is_refused_whatever_its_formatting(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(client, factory, "Suppressed Co", twilio=twilio, account=ACCOUNT)
    r = await client.post(
        f"{OUTREACH}/suppressions",
        json={"channel": "sms", "address": "+17705559999", "reason": "manual_owner_request"},
        headers=tenant.headers,
    )
    assert r.status_code == 201, r.text
    added = r.json()
    assert re.fullmatch(r"sup_[0-9A-Za-z]+", added["id"])
    assert {"id", "channel", "address", "added_at"} <= set(added)
    for spelling in ("(770) 555-9999", "770.555.9999", "+1 770 555 9999", "17705559999"):
        refused = await send(client, tenant, channel="sms", to=spelling, body="hi")
        error = assert_error(refused, 422, "suppressed")
        assert error["details"]["suppression_id"] == added["id"]
    assert await message_rows(db, tenant.id) == []


async def test_the_daily_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(
        client,
        factory,
        "Limit Co",
        twilio=twilio,
        account=ACCOUNT,
        outreach={"daily_limits": {"sms": 2, "email": 5}},
    )
    for n in range(2):
        r = await send(client, tenant, channel="sms", to=f"+1770555010{n}", body="hi")
        assert r.status_code == 202, r.text
    r = await send(client, tenant, channel="sms", to="+17705550109", body="hi")
    error = assert_error(r, 429, "rate_limited")
    wait = error["details"]["retry_after_seconds"]
    assert 0 < wait <= 24 * 3600 + 1
    assert r.headers["Retry-After"] == str(wait)
    assert len(await message_rows(db, tenant.id)) == 2


async def test_no_provider_configured_is_a_conflict(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("No Provider Co")
    r = await send(client, tenant, channel="sms", to="+17705550142", body="hi")
    error = assert_error(r, 409, "conflict")
    assert error["details"]["reason"] == "sms_not_configured"
    assert await message_rows(db, tenant.id) == []


async def test_messages_are_listed_and_filtered(
    client: httpx.AsyncClient, factory: Factory, smtp: SmtpSink, twilio: FakeTwilio, worker: None
) -> None:
    tenant = await outreach_tenant(
        client, factory, "List Co", smtp=smtp, twilio=twilio, account=ACCOUNT
    )
    lead = (
        await client.post(
            "/api/v1/leads",
            json={"name": "Ana Ruiz", "company": "Ruiz Props", "phone": "+17705550170"},
            headers=tenant.headers,
        )
    ).json()
    ids = []
    for n in range(3):
        r = await send(
            client, tenant, channel="sms", to="+17705550170", body=f"m{n}", lead_id=lead["id"]
        )
        ids.append(r.json()["message_id"])
    r = await send(client, tenant, channel="email", to="ana@example.com", subject="s", body="b")
    ids.append(r.json()["message_id"])
    for message_id in ids:
        await wait_for_status(client, tenant, message_id, "sent")

    page = (await client.get(f"{OUTREACH}/messages?limit=2", headers=tenant.headers)).json()
    assert [m["id"] for m in page["data"]] == ids[::-1][:2]
    rest = (
        await client.get(
            f"{OUTREACH}/messages?limit=2&cursor={page['next_cursor']}", headers=tenant.headers
        )
    ).json()
    assert [m["id"] for m in rest["data"]] == ids[::-1][2:]
    sms = (await client.get(f"{OUTREACH}/messages?channel=sms", headers=tenant.headers)).json()
    assert len(sms["data"]) == 3
    by_lead = (
        await client.get(f"{OUTREACH}/messages?lead_id={lead['id']}", headers=tenant.headers)
    ).json()
    assert {m["id"] for m in by_lead["data"]} == set(ids[:3])
    r = await client.get(f"{OUTREACH}/messages?status=bogus", headers=tenant.headers)
    assert "status" in error_fields(r)
    r = await client.get(f"{OUTREACH}/messages/msg_nope", headers=tenant.headers)
    assert_error(r, 404, "not_found")


async def test_an_unknown_lead_is_refused(
    client: httpx.AsyncClient, factory: Factory, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(
        client, factory, "Unknown Lead Co", twilio=twilio, account=ACCOUNT
    )
    r = await send(
        client,
        tenant,
        channel="sms",
        to="+17705550142",
        body="hi",
        lead_id="9f1c8a32-4d65-4e2b-8a91-3c0e7d4b2f18",
    )
    assert "lead_id" in error_fields(r)


async def test_deleting_a_suppression_needs_admin_and_is_audited(
    client: httpx.AsyncClient, factory: Factory, db: Database, twilio: FakeTwilio
) -> None:
    tenant = await outreach_tenant(client, factory, "Unsuppress Co", twilio=twilio, account=ACCOUNT)
    writer = await factory.key(tenant.id, "write")
    added = (
        await client.post(
            f"{OUTREACH}/suppressions",
            json={"channel": "email", "address": "X@Example.com"},
            headers=tenant.headers,
        )
    ).json()
    assert added["address"] == "x@example.com"
    r = await client.delete(
        f"{OUTREACH}/suppressions/{added['id']}",
        headers={"Authorization": f"Bearer {writer['key']}"},
    )
    assert_error(r, 403, "forbidden")
    r = await client.delete(f"{OUTREACH}/suppressions/{added['id']}", headers=tenant.headers)
    assert r.status_code == 200 and r.json() == {"id": added["id"], "deleted": True}
    assert len(await audit_entries(db, tenant.id, "outreach.suppression.removed")) == 1
    r = await client.delete(f"{OUTREACH}/suppressions/{added['id']}", headers=tenant.headers)
    assert_error(r, 404, "not_found")


async def test_the_open_pixel_counts_the_first_open_only(
    client: httpx.AsyncClient, factory: Factory, db: Database, smtp: SmtpSink, worker: None
) -> None:
    tenant = await outreach_tenant(client, factory, "Pixel Co", smtp=smtp)
    r = await send(client, tenant, channel="email", to="p@example.com", subject="s", body="b")
    message_id = r.json()["message_id"]
    await wait_for_status(client, tenant, message_id, "sent")
    (mail,) = smtp.to("p@example.com")
    pixel = re.search(
        r'src="http://testserver(/o/[^"]+\.gif)"', mail.get_body(("html",)).get_content()
    )
    assert pixel is not None
    for _ in range(3):
        got = await client.get(pixel.group(1))
        assert got.status_code == 200 and got.headers["content-type"] == "image/gif"
    broken = await client.get("/o/forged.gif")
    assert broken.status_code == 200  # a broken link still gets its pixel, counts nothing
    detail = (await client.get(f"{OUTREACH}/messages/{message_id}", headers=tenant.headers)).json()
    assert detail["opened_at"] is not None
    assert len(await audit_entries(db, tenant.id, "outreach.email.opened")) == 1
