"""One access log line per request: method, route template, status, duration, ids; no secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.responses import StreamingResponse
from structlog.testing import capture_logs

from eal.app import create_app
from eal.config import Settings

FIELDS = {"event", "log_level", "method", "route", "status", "duration_ms", "request_id"}


def _requests(logs: list[dict]) -> list[dict]:
    return [entry for entry in logs if entry["event"] == "request"]


async def test_an_authenticated_request_logs_its_template_status_and_ids(client, factory):
    t = await factory.tenant("Access Log Co")
    lead = await client.post("/api/v1/leads", json={"email": "dana@example.com"}, headers=t.headers)
    with capture_logs() as logs:
        r = await client.get(f"/api/v1/leads/{lead.json()['id']}", headers=t.headers)
    assert r.status_code == 200
    [line] = logs  # one log call per request, nothing else
    assert set(line) == FIELDS | {"organization_id"}
    assert line["log_level"] == "info"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/leads/{lead_id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < 10_000
    assert line["request_id"] == r.headers["x-request-id"]
    assert line["organization_id"] == str(t.id)


async def test_keys_bodies_and_query_values_are_never_logged(client, factory):
    t = await factory.tenant("Quiet Log Co")
    with capture_logs() as logs:
        await client.post(
            "/api/v1/leads",
            json={"email": "very.private@example.com", "name": "Private Person"},
            headers={**t.headers, "X-Request-ID": "req-quiet"},
        )
        await client.get("/api/v1/leads?source=private_source_value&limit=7", headers=t.headers)
        await client.get("/api/v1/invites/itok_private_token_value/accept")  # 405
        await client.post("/api/v1/invites/itok_private_token_value/accept/")  # 404
    lines = _requests(logs)
    assert [(x["method"], x["status"]) for x in lines] == [
        ("POST", 201),
        ("GET", 200),
        ("GET", 405),
        ("POST", 404),
    ]
    assert lines[0]["request_id"] == "req-quiet"
    assert lines[2]["route"] == "/api/v1/invites/{token}/accept"
    assert lines[3]["route"] is None  # no route matched: no template, and never the raw path
    text = repr(logs)
    for secret in (
        t.key,
        "very.private",
        "Private Person",
        "private_source_value",
        "private_token",
    ):
        assert secret not in text


async def test_unauthenticated_and_head_requests(client):
    with capture_logs() as logs:
        await client.head("/api/v1/health")
        await client.get("/nowhere")
    head, missing = _requests(logs)
    assert (head["method"], head["route"], head["status"]) == ("HEAD", "/api/v1/health", 200)
    assert head["organization_id"] is None
    assert (missing["route"], missing["status"]) == (None, 404)


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/docs", "/docs"),
        ("/openapi.json", "/openapi.json"),
        ("/docs/assets/favicon.png", "/docs/assets/{path}"),
    ],
)
async def test_routes_outside_the_api_log_their_template(settings, path, route):
    app = create_app(settings)  # no lifespan: these routes need no runtime
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        with capture_logs() as logs:
            r = await c.get(path)
    assert r.status_code == 200
    [line] = _requests(logs)
    assert line["route"] == route


async def test_access_log_can_be_turned_off(settings):
    app = create_app(settings.model_copy(update={"access_log": False}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        with capture_logs() as logs:
            assert (await c.get("/docs")).status_code == 200
            assert (await c.get("/nowhere")).status_code == 404
    assert _requests(logs) == []


def test_eal_access_log_setting(monkeypatch):
    monkeypatch.delenv("EAL_ACCESS_LOG", raising=False)
    assert Settings(_env_file=None).access_log is True
    for off in ("0", "false", "no"):
        monkeypatch.setenv("EAL_ACCESS_LOG", off)
        assert Settings(_env_file=None).access_log is False
    monkeypatch.setenv("EAL_ACCESS_LOG", "1")
    assert Settings(_env_file=None).access_log is True


async def test_a_stream_that_fails_after_its_start_is_logged_as_aborted(settings):
    app = create_app(settings)

    @app.get("/cut")
    async def cut() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first row\n"
            raise RuntimeError("the database went away")

        return StreamingResponse(chunks(), media_type="text/csv")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        with capture_logs() as logs:
            await c.get("/cut")
    [line] = _requests(logs)
    assert (line["route"], line["status"], line["aborted"]) == ("/cut", 200, True)
