"""Typed errors from the real server, Idempotency-Key on retried POSTs, and the retry policy."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from eal_sdk import (
    AsyncEalClient,
    AuthenticationError,
    ConflictError,
    ConnectionFailedError,
    EalClient,
    EalError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationFailedError,
    _core,
)

from tests.factories import Factory


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits between retries instead of sleeping."""
    waits: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(_core, "sleep", waits.append)
    monkeypatch.setattr(_core, "async_sleep", async_sleep)
    return waits


async def test_typed_errors_from_the_server(server_url: str, factory: Factory) -> None:
    tenant = await factory.tenant("SDK Errors")
    with EalClient("eal_live_not-a-real-key", base_url=server_url) as anonymous:
        with pytest.raises(AuthenticationError) as unauthenticated:
            anonymous.organizations.me()
        assert unauthenticated.value.status == 401
        assert unauthenticated.value.code == "unauthenticated"
        assert unauthenticated.value.request_id

    with EalClient(tenant.key, base_url=server_url + "/api/v1") as client:
        with pytest.raises(NotFoundError) as missing:
            client.leads.get(uuid.uuid4())
        assert missing.value.status == 404 and missing.value.code == "not_found"
        assert missing.value.request_id and missing.value.request_id in str(missing.value)

    with EalClient(tenant.key, base_url=server_url) as client:
        with pytest.raises(ValidationFailedError) as invalid:
            client.leads.create(name="Bad", email="not-an-email")
        assert invalid.value.status == 422
        assert "email" in [f["field"] for f in invalid.value.fields]

        key = f"sdk-test-{uuid.uuid4().hex}"
        client.leads.create(name="Once", company="Co", idempotency_key=key)
        with pytest.raises(ConflictError) as conflict:
            client.leads.create(name="Changed", company="Co", idempotency_key=key)
        assert conflict.value.status == 409

    reader = await factory.key(tenant.id, "read")
    with EalClient(reader["key"], base_url=server_url) as client:
        with pytest.raises(PermissionDeniedError) as denied:
            client.leads.create(name="No", company="Scope")
        assert denied.value.status == 403


class DropFirstResponse(httpx.BaseTransport):
    """Sends every request for real, but loses the first response on the way back."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if len(self.requests) == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


async def test_a_retried_post_creates_once(
    server_url: str, factory: Factory, no_waiting: list[float]
) -> None:
    tenant = await factory.tenant("SDK Idempotency")
    transport = DropFirstResponse()
    with EalClient(tenant.key, base_url=server_url, transport=transport) as client:
        lead = client.leads.create(name="Exactly Once", company="Retry Co")
    first, second = transport.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert len(no_waiting) == 1
    with EalClient(tenant.key, base_url=server_url) as client:
        leads = list(client.leads.list())
    assert [existing.id for existing in leads] == [lead.id]


def mock(responses: list[Callable[[httpx.Request], httpx.Response]]) -> httpx.MockTransport:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)(request)

    return httpx.MockTransport(handler)


def envelope(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": code.replace("_", " "), "details": {}}}
    return httpx.Response(status, json=body, headers={"X-Request-ID": "req_1", **(headers or {})})


SYNCED = {
    "vendor": "jobnimbus",
    "external_id": "jn_117422",
    "status": "ok",
    "last_synced_at": "2026-04-27T19:03:42.118Z",
}
HEALTH = {"status": "ok", "version": "v1", "timestamp": "2026-04-27T19:22:01.118Z"}


def test_retries_503_then_succeeds(no_waiting: list[float]) -> None:
    transport = mock(
        [
            lambda r: envelope(503, "service_unavailable"),
            lambda r: envelope(503, "service_unavailable"),
            lambda r: httpx.Response(200, json=HEALTH),
        ]
    )
    with EalClient("k", transport=transport, max_retries=2) as client:
        assert client.health.get().status == "ok"
    assert len(no_waiting) == 2
    assert no_waiting[0] <= 0.5 and no_waiting[1] <= 1.0  # backoff with full jitter


def test_429_honours_retry_after_then_raises(no_waiting: list[float]) -> None:
    transport = mock([lambda r: envelope(429, "rate_limited", {"Retry-After": "3"})] * 3)
    client = EalClient("k", transport=transport, max_retries=2)
    with client, pytest.raises(RateLimitedError) as limited:
        client.health.get()
    assert no_waiting == [3.0, 3.0]
    assert limited.value.retry_after == 3.0
    assert limited.value.request_id == "req_1"


def test_patch_is_not_retried_after_a_503(no_waiting: list[float]) -> None:
    transport = mock([lambda r: envelope(503, "service_unavailable")])
    with EalClient("k", transport=transport) as client, pytest.raises(ServerError) as failed:
        client.leads.update(uuid.uuid4(), name="x")
    assert failed.value.status == 503 and no_waiting == []


def test_post_retries_keep_their_idempotency_key(no_waiting: list[float]) -> None:
    seen: list[str] = []

    def answer(status: int) -> Callable[[httpx.Request], httpx.Response]:
        def respond(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["Idempotency-Key"])
            if status == 502:
                return envelope(502, "upstream_error")
            return httpx.Response(200, json={"id": str(uuid.uuid4()), "crm_sync": SYNCED})

        return respond

    with EalClient("k", transport=mock([answer(502), answer(200)])) as client:
        client.leads.push_to_crm(uuid.uuid4())
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0].startswith("sdk_")


def test_connection_errors_are_retried_then_typed(no_waiting: list[float]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = EalClient("k", transport=mock([refuse] * 4), max_retries=3)
    with client, pytest.raises(ConnectionFailedError) as failed:
        client.health.get()
    assert len(no_waiting) == 3
    assert failed.value.status is None and failed.value.request_id


def test_other_statuses_raise_the_base_error(no_waiting: list[float]) -> None:
    client = EalClient("k", transport=mock([lambda r: envelope(415, "unsupported_media_type")]))
    with client, pytest.raises(EalError) as failed:
        client.health.get()
    assert type(failed.value) is EalError and failed.value.code == "unsupported_media_type"


async def test_async_client_retries(no_waiting: list[float]) -> None:
    responses = [envelope(503, "service_unavailable"), httpx.Response(200, json=HEALTH)]

    async def handler(request: httpx.Request) -> httpx.Response:
        return responses.pop(0)

    async with AsyncEalClient("k", transport=httpx.MockTransport(handler)) as client:
        assert (await client.health.get()).status == "ok"
    assert len(no_waiting) == 1
