"""Per-API-key token buckets as the API applies them (in-process limiter)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from eal.app import create_app
from eal.config import Settings
from tests.factories import Factory

RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
LimitedClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def limited(settings: Settings) -> LimitedClient:
    """Open a client on a fresh app whose limiter has the given (small) budget."""

    @asynccontextmanager
    async def open_client(
        *, per_minute: int = 1, burst: int = 5
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(
            settings.model_copy(
                update={"rate_limit_per_minute": per_minute, "rate_limit_burst": burst}
            )
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c

    return open_client


def _assert_rate_headers(response: httpx.Response, *, limit: int, remaining: int) -> None:
    for name in RATE_HEADERS:
        assert name in response.headers, (response.status_code, name)
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    # One token a minute: the spent tokens (whole ones, less what refilled since)
    # take that many minutes to come back.
    reset = int(response.headers["X-RateLimit-Reset"])
    spent = limit - remaining
    assert (spent - 1) * 60 < reset <= spent * 60, (reset, spent)
    window = 60 * limit  # an empty bucket refills in `limit` minutes
    assert response.headers["RateLimit-Policy"] == f'"default";q={limit};w={window}'
    assert re.fullmatch(rf'"default";r={remaining};t=\d+', response.headers["RateLimit"])


async def test_every_response_carries_the_rate_limit_headers(
    limited: LimitedClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Headers Co")
    async with limited(burst=10) as client:
        ok = await client.get("/api/v1/organizations/me", headers=tenant.headers)
        assert ok.status_code == 200
        _assert_rate_headers(ok, limit=10, remaining=9)

        missing = await client.get(f"/api/v1/audit-log/{uuid.uuid4()}", headers=tenant.headers)
        assert missing.status_code == 404
        _assert_rate_headers(missing, limit=10, remaining=8)

        invalid = await client.get(
            "/api/v1/audit-log", params={"source": "fax"}, headers=tenant.headers
        )
        assert invalid.status_code == 422
        _assert_rate_headers(invalid, limit=10, remaining=7)

        # Without a usable key the client address has its own bucket.
        unknown = await client.get(
            "/api/v1/organizations/me", headers={"Authorization": "Bearer eal_live_" + "x" * 43}
        )
        assert unknown.status_code == 401
        _assert_rate_headers(unknown, limit=10, remaining=9)
        anonymous = await client.get("/api/v1/organizations/me")
        assert anonymous.status_code == 401
        _assert_rate_headers(anonymous, limit=10, remaining=8)

        no_route = await client.get("/api/v1/no-such-thing", headers=tenant.headers)
        assert no_route.status_code == 404
        _assert_rate_headers(no_route, limit=10, remaining=7)


async def test_an_empty_bucket_answers_429_with_retry_after(
    limited: LimitedClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Throttled Co")
    async with limited(burst=3) as client:
        statuses = [
            (await client.get("/api/v1/organizations/me", headers=tenant.headers)).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 200]

        refused = await client.get("/api/v1/organizations/me", headers=tenant.headers)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "rate_limited"
        assert error["message"]
        assert isinstance(error["details"], dict)
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 60  # one token a minute
        assert error["details"]["retry_after_seconds"] == retry_after
        _assert_rate_headers(refused, limit=3, remaining=0)
        assert refused.headers["RateLimit"].endswith(f";t={retry_after}")

        # A refused write changes nothing.
        patched = await client.patch(
            f"/api/v1/organizations/{tenant.id}", json={"name": "Renamed"}, headers=tenant.headers
        )
        assert patched.status_code == 429


async def test_each_key_has_its_own_budget(limited: LimitedClient, factory: Factory) -> None:
    first = await factory.tenant("Budget One Co")
    second_key = await factory.key(first.id, "read")
    other = await factory.tenant("Budget Two Co")
    async with limited(burst=2) as client:
        for _ in range(2):
            assert (await client.get("/api/v1/health", headers=first.headers)).status_code == 200
        assert (await client.get("/api/v1/health", headers=first.headers)).status_code == 429

        same_org = {"Authorization": f"Bearer {second_key['key']}"}
        assert (await client.get("/api/v1/health", headers=same_org)).status_code == 200
        assert (await client.get("/api/v1/health", headers=other.headers)).status_code == 200


async def test_concurrent_requests_spend_exactly_the_burst(
    limited: LimitedClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Stampede Co")
    async with limited(burst=10) as client:

        async def call() -> httpx.Response:
            return await client.get("/api/v1/organizations/me", headers=tenant.headers)

        responses = await asyncio.gather(*(call() for _ in range(50)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 40
    remaining = sorted(
        int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 200
    )
    assert remaining == list(range(10))
