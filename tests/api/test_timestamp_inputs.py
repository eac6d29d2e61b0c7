"""Every timestamp a client sends follows one rule: a timezone, years 1900-2999 (as written), UTC.

Bodies and query parameters answer 422 naming the field; a cursor carrying such
a time is a 400 like any other malformed cursor. Never a 500 (converting year 1
at +14:00, or 9999 at -14:00, to UTC overflows).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from eal.kit.schemas import OUT_OF_RANGE, TIMEZONE_REQUIRED, check_timestamp
from tests.support import assert_error, table_counts

OVERFLOWING = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
OUTSIDE = ["1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "3000-01-01T00:00:00+14:00"]
# The extremes the rule accepts: their UTC times are 1899-12-31 and 3000-01-01.
EXTREMES = ["1900-01-01T00:00:00+14:00", "2999-12-31T23:59:59.999999-14:00"]
EDGES = OVERFLOWING + OUTSIDE
NAIVE = "2026-04-27T13:22:05"


def _cursor(created_at: str) -> str:
    raw = orjson.dumps({"created_at": created_at, "id": str(uuid.uuid4())})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _field_error(response, field: str) -> str:
    error = assert_error(response, 422, "validation_failed")
    fields = error["details"]["fields"]
    assert [f["field"] for f in fields] == [field], fields
    return str(fields[0]["message"])


# The rule itself.


@pytest.mark.parametrize("text", EDGES)
def test_out_of_range_times_are_refused_without_overflowing(text):
    with pytest.raises(ValueError, match="must be in the years 1900 to 2999"):
        check_timestamp(datetime.fromisoformat(text))


def test_naive_times_are_refused_with_the_timezone_message():
    with pytest.raises(ValueError) as refused:
        check_timestamp(datetime.fromisoformat(NAIVE))
    assert str(refused.value) == TIMEZONE_REQUIRED
    assert TIMEZONE_REQUIRED.startswith("must include a timezone (e.g. ")


@pytest.mark.parametrize("text", [*EXTREMES, "1900-01-01T00:00:00Z", "2999-12-31T23:59:59.999999Z"])
def test_the_bounds_themselves_are_accepted(text):
    value = datetime.fromisoformat(text)
    assert check_timestamp(value) == value


def test_accepted_times_come_back_in_utc():
    local = datetime(2026, 4, 27, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    utc = check_timestamp(local)
    assert utc.tzinfo is UTC
    assert utc == local and utc.hour == 13


# Bodies.


@pytest.mark.parametrize("text", EDGES)
@pytest.mark.parametrize("field", ["form_started_at", "form_submitted_at"])
async def test_lead_form_times_out_of_range_are_422(client, factory, db, field, text):
    t = await factory.tenant("Edge Lead Co")
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/leads", json={"email": "dana@example.com", field: text}, headers=t.headers
    )
    assert _field_error(r, field) == OUT_OF_RANGE
    assert await table_counts(db) == before


async def test_lead_form_time_without_timezone_keeps_its_message(client, factory):
    t = await factory.tenant("Naive Lead Co")
    r = await client.post(
        "/api/v1/leads",
        json={"email": "dana@example.com", "form_started_at": NAIVE},
        headers=t.headers,
    )
    assert _field_error(r, "form_started_at") == TIMEZONE_REQUIRED


@pytest.mark.parametrize("text", EXTREMES)
async def test_the_extremes_are_stored_and_listed(client, factory, text):
    t = await factory.tenant("Extreme Lead Co")
    r = await client.post(
        "/api/v1/leads",
        json={"email": "dana@example.com", "form_started_at": text},
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    expected = datetime.fromisoformat(text).astimezone(UTC)
    assert datetime.fromisoformat(r.json()["form_started_at"]) == expected.replace(
        microsecond=expected.microsecond // 1000 * 1000
    )
    listed = await client.get("/api/v1/leads", params={"end_at": text}, headers=t.headers)
    assert listed.status_code == 200, listed.text


async def test_openapi_documents_the_rule(client):
    doc = (await client.get("/openapi.json")).json()
    form = doc["components"]["schemas"]["LeadCreate"]["properties"]["form_started_at"]
    [stamp] = [s for s in form["anyOf"] if s.get("type") == "string"]
    assert stamp["format"] == "date-time"
    assert stamp["pattern"] == "^(19[0-9]{2}|2[0-9]{3})-"
    [start] = [
        p for p in doc["paths"]["/api/v1/leads"]["get"]["parameters"] if p["name"] == "start_at"
    ]
    assert "^(19[0-9]{2}|2[0-9]{3})-" in str(start["schema"])


async def test_lead_form_times_with_an_offset_are_stored_in_utc(client, factory):
    t = await factory.tenant("Offset Lead Co")
    r = await client.post(
        "/api/v1/leads",
        json={
            "email": "dana@example.com",
            "form_started_at": "2026-04-27T08:00:00-05:00",
            "form_submitted_at": "2026-04-27T13:01:30Z",
        },
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["form_started_at"] == "2026-04-27T13:00:00.000Z"


@pytest.mark.parametrize("text", [*EDGES, NAIVE])
async def test_weather_event_time_out_of_range_is_422(client, factory, db, text):
    t = await factory.tenant("Edge Weather Co")
    before = await table_counts(db)
    r = await client.post(
        "/api/v1/weather-events",
        json={"event_type": "storm", "postal_codes": ["30075"], "occurred_at": text},
        headers=t.headers,
    )
    message = _field_error(r, "occurred_at")
    assert message == (TIMEZONE_REQUIRED if text == NAIVE else OUT_OF_RANGE)
    assert await table_counts(db) == before


@pytest.mark.parametrize("text", [*EDGES, NAIVE])
async def test_grant_expiry_out_of_range_is_422(client, factory, db, text):
    parent = await factory.tenant("Edge Grant Parent")
    child = await factory.tenant("Edge Grant Child", parent=parent.id)
    before = await table_counts(db)
    r = await client.post(
        f"/api/v1/organizations/{child.id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["leads.read"],
            "expires_at": text,
        },
        headers=child.headers,
    )
    message = _field_error(r, "expires_at")
    assert message == (TIMEZONE_REQUIRED if text == NAIVE else OUT_OF_RANGE)
    assert await table_counts(db) == before


# Query parameters.

QUERY_PATHS = ["/api/v1/leads", "/api/v1/audit-log", "/api/v1/audit-log/export.csv"]


@pytest.mark.parametrize("text", EDGES)
@pytest.mark.parametrize("field", ["start_at", "end_at"])
@pytest.mark.parametrize("path", QUERY_PATHS)
async def test_query_times_out_of_range_are_422(client, factory, path, field, text):
    t = await factory.tenant("Edge Query Co")
    r = await client.get(path, params={field: text}, headers=t.headers)
    assert _field_error(r, field) == OUT_OF_RANGE


@pytest.mark.parametrize("path", QUERY_PATHS)
async def test_query_time_without_timezone_keeps_its_message(client, factory, path):
    t = await factory.tenant("Naive Query Co")
    r = await client.get(path, params={"start_at": NAIVE}, headers=t.headers)
    assert _field_error(r, "start_at") == TIMEZONE_REQUIRED


async def test_query_times_with_offsets_still_filter(client, factory):
    t = await factory.tenant("Offset Query Co")
    created = await client.post(
        "/api/v1/leads", json={"email": "dana@example.com"}, headers=t.headers
    )
    assert created.status_code == 201, created.text
    stamp = datetime.fromisoformat(created.json()["created_at"])
    at_14 = stamp.astimezone(timezone(timedelta(hours=14))).isoformat()
    at_minus_12 = stamp.astimezone(timezone(timedelta(hours=-12))).isoformat()
    r = await client.get(
        "/api/v1/leads", params={"start_at": at_14, "end_at": at_minus_12}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    assert [lead["id"] for lead in r.json()["data"]] == [created.json()["id"]]


# Cursors: every list decodes them with the same rule.


async def _lists(client, factory) -> tuple[dict[str, str], list[str]]:
    t = await factory.tenant("Edge Cursor Co")
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},
        headers=t.headers,
    )
    assert hook.status_code == 201, hook.text
    return t.headers, [
        "/api/v1/leads",
        "/api/v1/audit-log",
        "/api/v1/webhooks",
        f"/api/v1/webhooks/{hook.json()['id']}/deliveries",
        "/api/v1/weather-events",
        "/api/v1/organizations",
    ]


@pytest.mark.parametrize("text", [*EDGES, NAIVE])
async def test_cursor_times_out_of_range_are_400_on_every_list(client, factory, text):
    headers, paths = await _lists(client, factory)
    for path in paths:
        r = await client.get(path, params={"cursor": _cursor(text)}, headers=headers)
        error = assert_error(r, 400, "invalid_request")
        assert error["details"] == {"cursor": "malformed"}, path


async def test_cursor_times_at_the_bounds_are_pages(client, factory):
    headers, paths = await _lists(client, factory)
    for path in paths:
        for text in EXTREMES:
            r = await client.get(path, params={"cursor": _cursor(text)}, headers=headers)
            assert r.status_code == 200, (path, r.text)
