"""Webhook endpoints API: registration, reads, updates, rotation, deletion."""

from __future__ import annotations

import ipaddress
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from eal.events import EVENT_TYPES
from eal.kit.secretbox import SecretBox
from tests.factories import Factory
from tests.webhooks.support import (
    WEBHOOKS,
    assert_error,
    audit_actions,
    create_webhook,
    deliveries_of,
    record_event,
)

URL = "https://127.0.0.1:9/eal"  # never contacted: no worker runs in these tests


async def _webhook_rows(db: Database, organization_id: uuid.UUID) -> list[Any]:
    async with db.system_transaction() as conn:
        return list(
            (
                await conn.execute(
                    text("SELECT * FROM webhook_endpoints WHERE organization_id = :o"),
                    {"o": organization_id},
                )
            ).all()
        )


@pytest.fixture(scope="module")
async def strict_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app that refuses http and private targets (the production default)."""
    strict = create_app(settings.model_copy(update={"allow_private_webhook_urls": False}))
    async with strict.router.lifespan_context(strict):
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_create_returns_secret_once_and_reads_show_only_prefix(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Hooks Create")
    response = await client.post(
        WEBHOOKS,
        headers=tenant.headers,
        json={
            "url": "http://127.0.0.1:9/hook",
            "events": ["call.qualified", "lead.created", "claim.scope.ready"],
            "description": "Production CRM bridge",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["signing_secret"]
    assert set(created) == {
        "id",
        "url",
        "events",
        "description",
        "signing_secret_prefix",
        "enabled",
        "created_at",
        "signing_secret",
        "_warning",
    }
    assert secret.startswith("whsec_") and len(secret) == 6 + 44
    assert created["signing_secret_prefix"] == secret[:12]
    assert created["_warning"] == "Save this signing_secret now. It will not be shown again."
    assert created["events"] == ["call.qualified", "lead.created", "claim.scope.ready"]
    assert created["enabled"] is True
    assert created["created_at"].endswith("Z")

    fetched = await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.headers)
    assert fetched.status_code == 200
    body = fetched.json()
    assert set(body) == {
        "id",
        "url",
        "events",
        "description",
        "signing_secret_prefix",
        "enabled",
        "created_at",
        "last_delivery_at",
        "last_delivery_status",
    }
    assert body["signing_secret_prefix"] == secret[:12]
    assert body["last_delivery_at"] is None and body["last_delivery_status"] is None
    assert secret not in fetched.text

    listed = await client.get(WEBHOOKS, headers=tenant.headers)
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["data"]] == [created["id"]]
    assert secret not in listed.text

    # Stored encrypted: the column is not the secret but decrypts to it.
    (row,) = await _webhook_rows(db, tenant.id)
    assert secret not in row.secret_encrypted
    assert settings.secret_key is not None
    assert SecretBox(settings.secret_key).decrypt(row.secret_encrypted) == secret
    assert ("webhook.created", row.id) in [
        (a, uuid.UUID(p["webhook_id"]))
        for a, p in await audit_actions(db, tenant.id)
        if a == "webhook.created"
    ]
    assert secret not in str(await audit_actions(db, tenant.id))


async def test_list_is_paginated_newest_first(client: httpx.AsyncClient, factory: Factory) -> None:
    tenant = await factory.tenant("Hooks List")
    ids = [(await create_webhook(client, tenant, f"{URL}/{i}"))["id"] for i in range(3)]
    first = await client.get(WEBHOOKS, headers=tenant.headers, params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [w["id"] for w in page["data"]] == [ids[2], ids[1]]
    assert page["next_cursor"]
    second = await client.get(
        WEBHOOKS, headers=tenant.headers, params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert [w["id"] for w in second.json()["data"]] == [ids[0]]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.216.34/hook", "https"),
        ("https://127.0.0.1/hook", "private"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "private"),
        ("https://localhost/hook", "loopback"),
        ("ftp://93.184.216.34/hook", "https"),
    ],
)
async def test_unsafe_urls_are_refused_without_the_dev_flag(
    strict_client: httpx.AsyncClient, factory: Factory, db: Database, url: str, reason: str
) -> None:
    tenant = await factory.tenant("Hooks Unsafe")
    before = await audit_actions(db, tenant.id)
    response = await strict_client.post(
        WEBHOOKS, headers=tenant.headers, json={"url": url, "events": ["lead.created"]}
    )
    error = assert_error(response, 422, "validation_failed")
    assert error["details"]["fields"][0]["field"] == "url"
    assert reason in error["details"]["fields"][0]["message"]
    assert await _webhook_rows(db, tenant.id) == []
    assert await audit_actions(db, tenant.id) == before


async def test_a_host_name_resolving_to_loopback_is_refused(
    strict_client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    except OSError:
        pytest.skip("this machine's host name does not resolve")
    if not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        pytest.skip("this machine's host name does not resolve to loopback only")
    tenant = await factory.tenant("Hooks Resolves Inward")
    response = await strict_client.post(
        WEBHOOKS,
        headers=tenant.headers,
        json={"url": f"https://{name}/hook", "events": ["lead.created"]},
    )
    error = assert_error(response, 422, "validation_failed")
    assert "private or reserved address" in error["details"]["fields"][0]["message"]
    assert await _webhook_rows(db, tenant.id) == []


async def test_public_https_url_is_accepted_without_the_dev_flag(
    strict_client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Hooks Public")
    response = await strict_client.post(
        WEBHOOKS,
        headers=tenant.headers,
        json={"url": "https://93.184.216.34/hook", "events": ["lead.created"]},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ({"url": URL, "events": ["lead.created", "lead.exploded"]}, "events", "lead.exploded"),
        ({"url": URL, "events": []}, "events", "at least one"),
        ({"url": URL, "events": ["lead.created", "lead.created"]}, "events", "repeat"),
        ({"url": URL}, "events", ""),
        ({"events": ["lead.created"]}, "url", ""),
        ({"url": URL, "events": ["lead.created"], "secret": "x"}, "secret", "unknown"),
        ({"url": URL, "events": ["lead.created"], "description": "x" * 501}, "description", ""),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient,
    factory: Factory,
    db: Database,
    body: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    tenant = await factory.tenant("Hooks Bad Body")
    response = await client.post(WEBHOOKS, headers=tenant.headers, json=body)
    error = assert_error(response, 422, "validation_failed")
    fields = {f["field"]: f["message"] for f in error["details"]["fields"]}
    assert field in fields, fields
    assert needle in fields[field]
    assert await _webhook_rows(db, tenant.id) == []


async def test_every_documented_event_name_is_accepted(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Hooks All Events")
    created = await create_webhook(client, tenant, URL, list(EVENT_TYPES))
    assert created["events"] == list(EVENT_TYPES)
    assert len(EVENT_TYPES) == 11


async def test_scopes_are_enforced(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.tenant("Hooks Scopes")
    hook = await create_webhook(client, admin, URL)
    reader = await factory.key(admin.id, "read")
    writer = await factory.key(admin.id, "read,write")
    for key in (reader["key"], writer["key"]):
        headers = {"Authorization": f"Bearer {key}"}
        assert (await client.get(f"{WEBHOOKS}/{hook['id']}", headers=headers)).status_code == 200
        denied = [
            await client.post(
                WEBHOOKS, headers=headers, json={"url": URL, "events": ["lead.created"]}
            ),
            await client.patch(
                f"{WEBHOOKS}/{hook['id']}", headers=headers, json={"enabled": False}
            ),
            await client.delete(f"{WEBHOOKS}/{hook['id']}", headers=headers),
            await client.post(f"{WEBHOOKS}/{hook['id']}/rotate-secret", headers=headers),
        ]
        for response in denied:
            assert_error(response, 403, "forbidden")
    redeliver = f"{WEBHOOKS}/{hook['id']}/deliveries/whd_{uuid.uuid4().hex}/redeliver"
    reader_headers = {"Authorization": f"Bearer {reader['key']}"}
    assert_error(await client.post(redeliver, headers=reader_headers), 403, "forbidden")
    writer_headers = {"Authorization": f"Bearer {writer['key']}"}
    assert_error(await client.post(redeliver, headers=writer_headers), 404, "not_found")


async def test_another_tenants_webhook_is_404_and_unchanged(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    owner = await factory.tenant("Hooks Owner")
    intruder = await factory.tenant("Hooks Intruder")
    hook = await create_webhook(client, owner, URL)
    await record_event(db, owner.id)
    (delivery,) = await deliveries_of(db, hook["id"])
    before = await _webhook_rows(db, owner.id)
    base = f"{WEBHOOKS}/{hook['id']}"
    h = intruder.headers
    responses = [
        await client.get(base, headers=h),
        await client.patch(base, headers=h, json={"enabled": False}),
        await client.delete(base, headers=h),
        await client.post(f"{base}/rotate-secret", headers=h),
        await client.get(f"{base}/deliveries", headers=h),
        await client.post(f"{base}/deliveries/whd_{delivery.id.hex}/redeliver", headers=h),
    ]
    for response in responses:
        assert_error(response, 404, "not_found")
    assert (await client.get(WEBHOOKS, headers=h)).json()["data"] == []
    assert await _webhook_rows(db, owner.id) == before
    (after,) = await deliveries_of(db, hook["id"])
    assert after.status == delivery.status == "pending"

    # The intruder's own webhook cannot reach the owner's delivery either.
    own = await create_webhook(client, intruder, URL)
    foreign = await client.post(
        f"{WEBHOOKS}/{own['id']}/deliveries/whd_{delivery.id.hex}/redeliver", headers=h
    )
    assert_error(foreign, 404, "not_found")


async def test_patch_changes_events_description_and_enabled(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Hooks Patch")
    hook = await create_webhook(client, tenant, URL, ["lead.created"], "first")
    base = f"{WEBHOOKS}/{hook['id']}"

    response = await client.patch(
        base, headers=tenant.headers, json={"events": ["lead.updated"], "description": None}
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"] == ["lead.updated"]
    assert response.json()["description"] is None
    await record_event(db, tenant.id, "lead.created")
    assert await deliveries_of(db, hook["id"]) == []
    await record_event(db, tenant.id, "lead.updated")
    (queued,) = await deliveries_of(db, hook["id"])
    assert queued.status == "pending"

    # Disabling cancels what is queued; nothing new is queued while disabled.
    response = await client.patch(base, headers=tenant.headers, json={"enabled": False})
    assert response.json()["enabled"] is False
    (cancelled,) = await deliveries_of(db, hook["id"])
    assert cancelled.status == "cancelled" and cancelled.next_attempt_at is None
    await record_event(db, tenant.id, "lead.updated")
    assert len(await deliveries_of(db, hook["id"])) == 1

    response = await client.patch(base, headers=tenant.headers, json={"enabled": True})
    assert response.json()["enabled"] is True
    await record_event(db, tenant.id, "lead.updated")
    assert [d.status for d in await deliveries_of(db, hook["id"])] == ["cancelled", "pending"]

    bad: dict[str, Any]
    for bad in (
        {"events": []},
        {"events": None},
        {"enabled": None},
        {"url": URL},
        {"events": ["x.y"]},
    ):
        assert_error(
            await client.patch(base, headers=tenant.headers, json=bad), 422, "validation_failed"
        )
    updates = [p for a, p in await audit_actions(db, tenant.id) if a == "webhook.updated"]
    assert updates[0]["diff"] == {
        "events": {"from": ["lead.created"], "to": ["lead.updated"]},
        "description": {"from": "first", "to": None},
    }
    assert updates[1]["cancelled_deliveries"] == 1
    assert len(updates) == 3


async def test_delete_stops_deliveries_and_cancels_queued_ones(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Hooks Delete")
    hook = await create_webhook(client, tenant, URL)
    await record_event(db, tenant.id)
    response = await client.delete(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == {"id": hook["id"], "deleted": True}
    (delivery,) = await deliveries_of(db, hook["id"])
    assert delivery.status == "cancelled"
    await record_event(db, tenant.id)
    assert len(await deliveries_of(db, hook["id"])) == 1
    assert_error(
        await client.get(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers), 404, "not_found"
    )
    assert_error(
        await client.delete(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers), 404, "not_found"
    )
    assert (await client.get(WEBHOOKS, headers=tenant.headers)).json()["data"] == []
    deleted = [p for a, p in await audit_actions(db, tenant.id) if a == "webhook.deleted"]
    assert deleted == [
        {
            "webhook_id": hook["id"],
            "url": URL,
            "cancelled_deliveries": 1,
            "key_id": str(tenant.key_id),
        }
    ]


async def test_rotate_returns_new_secret_and_keeps_the_old_for_24_hours(
    client: httpx.AsyncClient, factory: Factory, db: Database, settings: Settings
) -> None:
    tenant = await factory.tenant("Hooks Rotate")
    hook = await create_webhook(client, tenant, URL)
    response = await client.post(f"{WEBHOOKS}/{hook['id']}/rotate-secret", headers=tenant.headers)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert set(rotated) == {
        "id",
        "url",
        "signing_secret_prefix",
        "signing_secret",
        "previous_secret_expires_at",
        "_warning",
    }
    assert rotated["signing_secret"] != hook["signing_secret"]
    assert rotated["signing_secret_prefix"] == rotated["signing_secret"][:12]
    assert rotated["_warning"].endswith("The previous secret remains valid for 24 hours.")
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)

    fetched = (await client.get(f"{WEBHOOKS}/{hook['id']}", headers=tenant.headers)).json()
    assert fetched["signing_secret_prefix"] == rotated["signing_secret_prefix"]
    (row,) = await _webhook_rows(db, tenant.id)
    assert settings.secret_key is not None
    box = SecretBox(settings.secret_key)
    assert box.decrypt(row.secret_encrypted) == rotated["signing_secret"]
    assert box.decrypt(row.previous_secret_encrypted) == hook["signing_secret"]
    audit = [p for a, p in await audit_actions(db, tenant.id) if a == "webhook.secret_rotated"]
    assert audit[0]["signing_secret_prefix"] == rotated["signing_secret_prefix"]
    assert rotated["signing_secret"] not in str(audit)
