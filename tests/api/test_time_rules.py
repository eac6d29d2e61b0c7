"""Time rules driven by the runtime's clock: tests move the clock instead of sleeping.

An app built with a `ManualClock` stands still until the test advances it, so
7-day invites, grant expiries, the 24-hour replay window and the 24-hour
rotation overlap are checked at their edges.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from eal.app import create_app
from eal.config import Settings
from eal.kit.clock import ManualClock
from tests.factories import Factory
from tests.support import assert_error

ORGS = "/api/v1/organizations"


def _accept_path(invite_url: str) -> str:
    """The API's accept endpoint for the invite the page URL names."""
    return f"/api/v1/invites/{invite_url.rsplit('/', 1)[-1]}/accept"


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ManualClock, Any]]:
    """A client of an app whose clock only moves when the test moves it."""
    clock = ManualClock(datetime.now(UTC))
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, clock, app


async def test_an_invite_works_for_seven_days_and_not_a_second_more(
    clocked: tuple[httpx.AsyncClient, ManualClock, Any], factory: Factory
) -> None:
    client, clock, _app = clocked
    parent = await factory.tenant("Clock Parent")
    created = []
    for name in ("Early Child", "Late Child"):
        r = await client.post(ORGS, json={"name": name}, headers=parent.headers)
        assert r.status_code == 201, r.text
        created.append(r.json())
    expires = datetime.fromisoformat(created[0]["invite_expires_at"])
    assert expires - clock.now() == pytest.approx(timedelta(days=7), abs=timedelta(seconds=1))

    clock.set(expires - timedelta(seconds=1))
    early = await client.post(_accept_path(created[0]["invite_url"]))
    assert early.status_code == 201, early.text

    clock.set(expires + timedelta(seconds=1))
    late = await client.post(_accept_path(created[1]["invite_url"]))
    error = assert_error(late, 409, "conflict")
    assert error["details"]["reason"] == "expired"


async def test_a_grant_lets_the_parent_read_until_it_expires(
    clocked: tuple[httpx.AsyncClient, ManualClock, Any], factory: Factory
) -> None:
    client, clock, _app = clocked
    parent = await factory.tenant("Grant Clock Parent")
    child = await factory.tenant("Grant Clock Child", parent=parent.id)
    until = clock.now() + timedelta(days=30)
    r = await client.post(
        f"{ORGS}/{child.id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["leads.read"],
            "expires_at": until.isoformat(),
        },
        headers=child.headers,
    )
    assert r.status_code == 201, r.text
    as_child = {**parent.headers, "X-EAL-Organization": str(child.id)}

    clock.set(until - timedelta(seconds=1))
    assert (await client.get("/api/v1/leads", headers=as_child)).status_code == 200
    clock.set(until + timedelta(seconds=1))
    assert_error(await client.get("/api/v1/leads", headers=as_child), 403, "forbidden")


async def test_an_idempotency_key_replays_for_24_hours(
    clocked: tuple[httpx.AsyncClient, ManualClock, Any], factory: Factory
) -> None:
    client, clock, _app = clocked
    tenant = await factory.tenant("Replay Clock Co")
    headers = {**tenant.headers, "Idempotency-Key": "clock-key-1"}
    body = {"email": "replay.clock@example.com"}
    first = await client.post("/api/v1/leads", json=body, headers=headers)
    assert first.status_code == 201, first.text

    clock.advance(timedelta(hours=23, minutes=59))
    replay = await client.post("/api/v1/leads", json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["id"] == first.json()["id"]

    clock.advance(timedelta(minutes=2))
    fresh = await client.post("/api/v1/leads", json=body, headers=headers)
    assert fresh.status_code == 201, fresh.text
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]  # past the window: a new request


async def test_timestamps_the_api_writes_come_from_the_clock(
    clocked: tuple[httpx.AsyncClient, ManualClock, Any], factory: Factory
) -> None:
    client, clock, _app = clocked
    tenant = await factory.tenant("Stamp Clock Co")
    clock.set(datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    lead = (
        await client.post("/api/v1/leads", json={"email": "s@example.com"}, headers=tenant.headers)
    ).json()
    assert lead["created_at"] == lead["scored_at"] == "2031-05-06T07:08:09.123Z"
    health = (await client.get("/api/v1/health")).json()
    assert health["timestamp"] == "2031-05-06T07:08:09.123Z"
