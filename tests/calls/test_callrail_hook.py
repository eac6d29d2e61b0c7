"""CallRail's webhooks into calls: the signature, re-delivery, and a transcript that comes later."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from eal.db.engine import Database
from eal.runtime import Runtime
from tests.calls.support import call_row, calls_tenant, calls_worker, wait_for_call
from tests.factories import Factory
from tests.integrations.fake_callrail import (
    FakeCallRail,
    run_fake_callrail,
    send_webhook,
    webhook_payload,
)
from tests.support import assert_error, audit_entries, table_counts

# CallRail's published test vector: this signing key over this exact body.
VECTOR_KEY = "072e77e426f92738a72fe23c4d1953b4"
VECTOR_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="
VECTOR_BODY = (
    (Path(__file__).parents[1] / "integrations" / "data" / "callrail_post_call.json")
    .read_bytes()
    .rstrip(b"\r\n")
)
SIGNING_KEY = "whk_5f2c9a7e1b3d4c6a8e0f"
API_KEY = "cr-api-key-8Jd2Pq"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def callrail() -> Iterator[FakeCallRail]:
    with run_fake_callrail(API_KEY) as fake:
        yield fake


def hook(org_id: uuid.UUID | str) -> str:
    return f"/api/v1/integrations/callrail/{org_id}"


async def test_callrails_published_vector_is_accepted_and_stored(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await calls_tenant(client, factory, "Vector Co", callrail={"signing_key": VECTOR_KEY})
    r = await client.post(
        hook(tenant.id),
        content=VECTOR_BODY,
        headers={"Signature": VECTOR_SIGNATURE, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["source"] == "callrail"
    assert call["external_id"] == "766970532"
    assert call["caller_number"] == "+12148654559"
    assert call["tracking_number"] == "+14045558514"
    assert call["caller_name"] == "Kaylah Mills"
    assert (call["caller_city"], call["caller_state"]) == ("Rochester", "PA")
    assert call["duration_seconds"] == 13
    assert call["voicemail"] is True
    assert call["transcript"] is None
    # The vendor's recording URL (it holds an access key) is never shown.
    assert "access_key" not in r.text
    assert call["recording_url"].startswith("http://testserver/api/v1/calls/")
    row = await call_row(db, call["id"])
    assert row["recording_url"].startswith("https://app.callrail.com/calls/766970532/")
    assert len(await audit_entries(db, tenant.id, "call.received")) == 1


async def test_a_bad_signature_is_a_401_and_stores_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await calls_tenant(client, factory, "Forged Co", callrail={"signing_key": VECTOR_KEY})
    unsigned = await calls_tenant(client, factory, "Keyless Co")
    before = await table_counts(db)
    cases = [
        (tenant.id, {"Signature": "UZAHbUdfm3GqL7qzilGozGzWV64"}),
        (tenant.id, {}),
        (tenant.id, {"Signature": VECTOR_SIGNATURE.replace("U", "V", 1)}),
        (unsigned.id, {"Signature": VECTOR_SIGNATURE}),
    ]
    for org_id, headers in cases:
        r = await client.post(hook(org_id), content=VECTOR_BODY, headers={**JSON, **headers})
        assert_error(r, 401, "unauthenticated")
    altered = VECTOR_BODY.replace(b'"duration":"13"', b'"duration":"14"')
    r = await client.post(
        hook(tenant.id), content=altered, headers={**JSON, "Signature": VECTOR_SIGNATURE}
    )
    assert_error(r, 401, "unauthenticated")
    assert await table_counts(db) == before


async def test_an_unknown_organization_is_a_404(client: httpx.AsyncClient) -> None:
    for org in (uuid.uuid4(), "not-a-uuid"):
        r = await client.post(
            hook(org), content=VECTOR_BODY, headers={**JSON, "Signature": VECTOR_SIGNATURE}
        )
        assert_error(r, 404, "not_found")


async def test_a_malformed_payload_is_a_422_naming_the_field(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await calls_tenant(
        client, factory, "Malformed Co", callrail={"signing_key": SIGNING_KEY}
    )
    before = await table_counts(db)
    cases = {
        "start_time": {"id": "CAL1", "start_time": "yesterday"},
        "duration": {"id": "CAL1", "start_time": "2026-03-02T09:15:00-06:00", "duration": "long"},
        "body": [1, 2],
    }
    for field, payload in cases.items():
        r = await send_webhook(hook(tenant.id), payload, signing_key=SIGNING_KEY, http=client)
        body = assert_error(r, 422, "validation_failed")
        assert body["details"]["fields"][0]["field"] == field
    r = await send_webhook(hook(tenant.id), b"{not json", signing_key=SIGNING_KEY, http=client)
    assert_error(r, 422, "validation_failed")
    assert await table_counts(db) == before


async def test_a_redelivery_updates_and_a_late_transcript_classifies_the_call(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    runtime: Runtime,
    callrail: FakeCallRail,
) -> None:
    tenant = await calls_tenant(
        client,
        factory,
        "Late Transcript Co",
        callrail={"signing_key": SIGNING_KEY},
        dispatch={"auto_dispatch": False},
    )
    api_call = callrail.add_call(
        customer_phone_number="+14045550173",
        customer_state="GA",
        start_time=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
    first = await send_webhook(
        hook(tenant.id), webhook_payload(api_call), signing_key=SIGNING_KEY, http=client
    )
    assert first.status_code == 201, first.text
    again = await send_webhook(
        hook(tenant.id), webhook_payload(api_call), signing_key=SIGNING_KEY, http=client
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert await audit_entries(db, tenant.id, "call.updated") == []  # nothing changed
    call_id = first.json()["id"]
    async with calls_worker(runtime):
        owner = await wait_for_call(client, tenant, call_id, "classified")
        assert owner["dispatch_decision"]["reason"] == "low_confidence"  # nothing to read yet
        transcript = (
            "Caller: Hi, the water heater in my garage burst and there's water all over the "
            "floor and into the laundry room, it's still leaking. I own the house. "
            "We're in Marietta, zip 30064."
        )
        modified = webhook_payload(
            {**api_call, "transcription": transcript}, changes=["transcription_text"]
        )
        late = await send_webhook(hook(tenant.id), modified, signing_key=SIGNING_KEY, http=client)
        assert late.status_code == 200, late.text

        async def decided_again() -> dict[str, object] | None:
            call = await wait_for_call(client, tenant, call_id, "classified")
            decision = call["dispatch_decision"]
            return call if decision and decision["reason"] != "low_confidence" else None

        from tests.outreach.support import wait_until

        call = await wait_until(decided_again, what="a decision with the transcript")
    assert call["transcript"] == transcript
    assert call["classification"]["intent"] == "water"
    assert call["dispatch_decision"]["reason"] == "auto_dispatch_off"
    listed = await client.get("/api/v1/calls", headers=tenant.headers)
    assert len(listed.json()["data"]) == 1
    assert len(await audit_entries(db, tenant.id, "call.received")) == 1


async def test_outbound_calls_are_acknowledged_and_not_stored(
    client: httpx.AsyncClient, factory: Factory, db: Database, callrail: FakeCallRail
) -> None:
    tenant = await calls_tenant(
        client, factory, "Outbound Co", callrail={"signing_key": SIGNING_KEY}
    )
    api_call = callrail.add_call(direction="outbound")
    before = await table_counts(db)
    r = await send_webhook(
        hook(tenant.id), webhook_payload(api_call), signing_key=SIGNING_KEY, http=client
    )
    assert r.status_code == 200 and r.json() == {"ignored": True, "reason": "outbound call"}
    assert await table_counts(db) == before


async def test_the_signing_key_is_stored_encrypted_and_never_shown(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Secret Hook Co")
    r = await client.patch(
        f"/api/v1/organizations/{tenant.id}",
        json={
            "settings": {
                "integrations": {
                    "callrail": {
                        "signing_key": SIGNING_KEY,
                        "api_key": API_KEY,
                        "account_id": "ACC8f3k2q9w",
                    }
                }
            }
        },
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert SIGNING_KEY not in r.text and API_KEY not in r.text
    shown = r.json()["settings"]["integrations"]["callrail"]
    assert shown["signing_key_hint"].endswith(SIGNING_KEY[-4:])
    from tests.support import org_row

    stored = str((await org_row(db, tenant.id))["settings"])
    assert SIGNING_KEY not in stored and API_KEY not in stored
