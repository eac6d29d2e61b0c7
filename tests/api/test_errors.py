"""Every failure is the error envelope: unknown routes, methods, sizes, media types, bodies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from eal.api.errors import is_database_unavailable
from eal.api.middleware import MAX_BODY_BYTES
from eal.api.routing import api_router
from eal.app import create_app
from tests.support import assert_error, error_fields, table_counts


async def test_unknown_route_is_404_envelope(client):
    r = await client.get("/api/v1/no-such-thing")
    error = assert_error(r, 404, "not_found")
    assert "/api/v1/no-such-thing" in error["message"]


async def test_wrong_method_is_405_envelope_with_allow(client):
    r = await client.delete("/api/v1/health")
    assert_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


async def test_body_over_one_mebibyte_with_content_length_is_413(client, factory, db):
    t = await factory.tenant("Big Body Co")
    before = await table_counts(db)
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    r = await client.post(
        "/api/v1/organizations",
        content=body,
        headers={**t.headers, "Content-Type": "application/json"},
    )
    error = assert_error(r, 413, "payload_too_large")
    assert error["details"]["max_bytes"] == MAX_BODY_BYTES
    assert await table_counts(db) == before


async def test_streamed_body_over_one_mebibyte_is_413(client, factory, db):
    t = await factory.tenant("Streamed Body Co")
    before = await table_counts(db)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    r = await client.post(
        "/api/v1/organizations",
        content=chunks(),
        headers={**t.headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "payload_too_large")
    assert await table_counts(db) == before


async def test_body_just_under_the_limit_is_not_413(client, factory):
    t = await factory.tenant("Near Limit Co")
    padding = "x" * (MAX_BODY_BYTES - 100)
    r = await client.post(
        "/api/v1/organizations",
        content=f'{{"name": "{padding}"}}'.encode(),
        headers={**t.headers, "Content-Type": "application/json"},
    )
    # Parsed and rejected on its merits (name too long), not for its size.
    assert error_fields(r) == ["name"]


async def test_text_plain_body_is_415(client, factory, db):
    t = await factory.tenant("Plain Text Co")
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/organizations",
        content=b'{"name": "West Cobb"}',
        headers={**t.headers, "Content-Type": "text/plain"},
    )
    error = assert_error(r, 415, "unsupported_media_type")
    assert error["details"]["content_type"] == "text/plain"
    assert await table_counts(db) == before


async def test_malformed_json_is_400_invalid_request(client, factory, db):
    t = await factory.tenant("Malformed Co")
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/organizations",
        content=b'{"name": "West Cobb",',
        headers={**t.headers, "Content-Type": "application/json"},
    )
    assert_error(r, 400, "invalid_request")
    assert await table_counts(db) == before


async def test_validation_errors_name_every_bad_field(client, factory, db):
    t = await factory.tenant("Validation Co")
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/organizations",
        json={"name": 42, "primary_admin_email": "not-an-email", "colour": "red"},
        headers=t.headers,
    )
    assert set(error_fields(r)) == {"name", "primary_admin_email", "colour"}
    fields = {f["field"]: f["message"] for f in r.json()["error"]["details"]["fields"]}
    assert fields["colour"] == "unknown field"
    assert await table_counts(db) == before


async def test_json_array_body_is_422(client, factory):
    t = await factory.tenant("Array Body Co")
    r = await client.post("/api/v1/organizations", json=[{"name": "x"}], headers=t.headers)
    assert_error(r, 422, "validation_failed")


async def test_invalid_uuid_in_path_is_422_naming_the_field(client, factory, db):
    t = await factory.tenant("Bad Path Co")
    before = await table_counts(db)
    r = await client.patch(
        "/api/v1/organizations/not-a-uuid", json={"name": "Renamed"}, headers=t.headers
    )
    assert error_fields(r) == ["organization_id"]
    r = await client.post(
        "/api/v1/organizations/12345/grants",
        json={"parent_organization_id": str(uuid.uuid4()), "scopes": ["leads.read"]},
        headers=t.headers,
    )
    assert "organization_id" in error_fields(r)
    assert await table_counts(db) == before


async def test_unexpected_failure_is_500_without_internals(settings):
    app = create_app(settings)
    router = api_router(tags=["test"])

    @router.get("/explode")
    async def explode() -> dict[str, str]:
        raise RuntimeError("secret internals")

    app.include_router(router, prefix="/api/v1")

    @app.get("/plain-explode")
    async def plain_explode() -> dict[str, str]:
        raise RuntimeError("secret internals")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for path in ("/api/v1/explode", "/plain-explode"):
                r = await c.get(path, headers={"X-Request-ID": "req-boom-1"})
                assert_error(r, 500, "internal_error")
                assert "secret internals" not in r.text
                assert "RuntimeError" not in r.text
                assert r.headers["x-request-id"] == "req-boom-1"


async def test_deeply_nested_json_is_400(client, factory, db):
    t = await factory.tenant("Nested Co")
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/organizations",
        content=b"[" * 200_000 + b"]" * 200_000,
        headers={**t.headers, "Content-Type": "application/json"},
    )
    assert_error(r, 400, "invalid_request")
    assert await table_counts(db) == before


async def test_nul_characters_in_strings_are_422_not_500(client, factory, db):
    t = await factory.tenant("Nul Co")
    before = await table_counts(db)
    r = await client.post("/api/v1/organizations", json={"name": "West\x00Cobb"}, headers=t.headers)
    assert error_fields(r) == ["name"]
    r = await client.patch(
        f"/api/v1/organizations/{t.id}",
        json={"settings": {"lead_scoring": {"source_weights": {"web\x00": 0.1}}}},
        headers=t.headers,
    )
    assert error_fields(r) == ["settings.lead_scoring.source_weights"]
    assert await table_counts(db) == before


async def test_invalid_utf8_body_is_400(client, factory):
    t = await factory.tenant("Bad Bytes Co")
    r = await client.post(
        "/api/v1/organizations",
        content=b'{"name": "\xff\xfe"}',
        headers={**t.headers, "Content-Type": "application/json"},
    )
    assert_error(r, 400, "invalid_request")


@pytest.mark.parametrize(
    ("message", "unavailable"),
    [
        ("not connected", True),
        ('cannot switch to state 12; protocol is in the "failed" state', True),
        # What a dying backend's unasked error leaves the protocol consuming.
        ("cannot switch to state 12; another operation (2) is in progress", True),
        # Two operations at once on one connection is a bug, not an outage.
        ("cannot switch to state 12; another operation (12) is in progress", False),
    ],
)
def test_driver_protocol_states_left_by_a_vanished_server_are_outages(
    message: str, unavailable: bool
) -> None:
    assert is_database_unavailable(asyncpg.exceptions.InternalClientError(message)) is unavailable
