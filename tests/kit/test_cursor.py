"""Keyset cursors: opaque base64url JSON, strict decoding, limit bounds."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from eal.errors import InvalidRequest, ValidationFailed
from eal.kit.cursor import MAX_LIMIT, Cursor, check_limit, decode_cursor, encode_cursor
from tests.support import assert_error, error_fields

ROW_ID = uuid.UUID("a4b1c8d2-7e30-4f1a-9c83-21e5d4a07b14")
STAMP = datetime(2026, 4, 27, 18, 55, 42, 1234, tzinfo=UTC)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_keeps_microseconds_and_id():
    token = encode_cursor(STAMP, ROW_ID)
    assert decode_cursor(token) == Cursor(created_at=STAMP, id=ROW_ID)


def test_cursor_is_unpadded_base64url_json():
    token = encode_cursor(STAMP, ROW_ID)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    padded = token + "=" * (-len(token) % 4)
    data = orjson.loads(base64.urlsafe_b64decode(padded))
    assert data == {"created_at": STAMP.isoformat(), "id": str(ROW_ID)}


def test_empty_or_missing_cursor_means_first_page():
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "not base64 at all",
        _b64(b"not json"),
        _b64(b"[1, 2]"),
        _b64(b"{}"),
        _b64(orjson.dumps({"created_at": STAMP.isoformat()})),
        _b64(orjson.dumps({"created_at": STAMP.isoformat(), "id": str(ROW_ID), "x": 1})),
        _b64(orjson.dumps({"created_at": "2026-04-27T18:55:42", "id": str(ROW_ID)})),
        _b64(orjson.dumps({"created_at": "yesterday", "id": str(ROW_ID)})),
        _b64(orjson.dumps({"created_at": STAMP.isoformat(), "id": "not-a-uuid"})),
        _b64(orjson.dumps({"created_at": STAMP.isoformat(), "id": 5})),
        _b64(orjson.dumps({"created_at": STAMP.isoformat(), "id": None})),
        _b64(orjson.dumps({"created_at": 1714243542, "id": str(ROW_ID)})),
        _b64(orjson.dumps({"created_at": [], "id": {}})),
        _b64("é".encode()),
        "é" * 8,
    ],
)
def test_tampered_cursors_are_invalid_requests(token):
    with pytest.raises(InvalidRequest) as caught:
        decode_cursor(token)
    assert caught.value.status_code == 400
    assert caught.value.details == {"cursor": "malformed"}


@pytest.mark.parametrize("limit", [1, 50, MAX_LIMIT])
def test_limits_in_range_pass(limit):
    assert check_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_limits_out_of_range_are_422_naming_limit(limit):
    with pytest.raises(ValidationFailed) as caught:
        check_limit(limit)
    assert [f["field"] for f in caught.value.details["fields"]] == ["limit"]


async def test_audit_log_pages_and_rejects_a_tampered_cursor(client, factory):
    t = await factory.tenant("Cursor Audit Co")
    for i in range(3):
        r = await client.patch(
            f"/api/v1/organizations/{t.id}",
            json={"name": f"Cursor Audit Co {i}"},
            headers=t.headers,
        )
        assert r.status_code == 200, r.text
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/audit-log", params=params, headers=t.headers)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # organization.created + api_key.created + 3 updates, each exactly once.
    assert len(seen) == len(set(seen)) == 5
    first = (await client.get("/api/v1/audit-log", params={"limit": 2}, headers=t.headers)).json()
    tampered = first["next_cursor"][:-2] + ("AA" if first["next_cursor"][-2:] != "AA" else "BB")
    for bad in (tampered, first["next_cursor"] + "$", "eyJ4IjoxfQ"):
        r = await client.get(
            "/api/v1/audit-log", params={"limit": 2, "cursor": bad}, headers=t.headers
        )
        assert_error(r, 400, "invalid_request")
    for limit in (0, 201):
        r = await client.get("/api/v1/audit-log", params={"limit": limit}, headers=t.headers)
        assert error_fields(r) == ["limit"]
