"""POST /calls: what is stored, what is refused, and a tracker id that arrives twice."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from eal.db.engine import Database
from tests.calls.support import CALLS, call_body, call_row, calls_tenant, jobs_of, post_call
from tests.factories import Factory
from tests.support import assert_error, audit_entries, error_fields, table_counts

AT = datetime(2026, 4, 27, 17, 42, 11, 214000, tzinfo=UTC)


async def test_a_call_is_stored_received_with_its_numbers_normalised(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Ingest Co")
    call = await post_call(client, tenant, AT, caller_number="404.555.0173")
    assert call["status"] == "received"
    assert call["caller_number"] == "+14045550173"
    assert call["caller_number_valid"] is True
    assert call["tracking_number"] == "+17705550199"
    assert call["received_at"] == "2026-04-27T17:42:11.214Z"
    assert call["source"] == "api"
    assert call["classification"] is None and call["dispatch_decision"] is None
    assert len(await audit_entries(db, tenant.id, "call.received")) == 1
    # Classification is a job, deferred with the call, never done in the request.
    assert [j["status"] for j in await jobs_of(db, "calls.classify", call["id"])] == ["queued"]


async def test_a_caller_number_that_does_not_parse_is_kept_and_flagged(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Junk Number Co")
    call = await post_call(client, tenant, AT, caller_number="Anonymous 12")
    assert call["caller_number"] == "Anonymous 12"
    assert call["caller_number_valid"] is False
    assert (await call_row(db, call["id"]))["caller_number"] == "Anonymous 12"


async def test_the_same_external_id_updates_the_call_instead_of_adding_one(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Idempotent Calls Co")
    body = call_body(AT, external_id="RGB-1", source="ringba", transcript=None)
    first = await client.post(CALLS, json=body, headers=tenant.headers)
    assert first.status_code == 201
    again = await client.post(
        CALLS, json={**body, "transcript": "my basement is flooding"}, headers=tenant.headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["transcript"] == "my basement is flooding"
    # Another source with the same id is another call.
    other = await client.post(CALLS, json={**body, "source": "api"}, headers=tenant.headers)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    listed = await client.get(CALLS, headers=tenant.headers)
    assert len(listed.json()["data"]) == 2
    assert len(await audit_entries(db, tenant.id, "call.updated")) == 1


async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Bad Calls Co")
    before = await table_counts(db)
    cases = {
        "received_at": {"received_at": None},
        "duration_seconds": {"duration_seconds": -1},
        "tracking_number": {"tracking_number": "not a number"},
        "recording_url": {"recording_url": "ftp://example.com/a.mp3"},
        "transcript": {"transcript": "x" * 100_001},
        "extra": {"extra": 1},
    }
    for field, change in cases.items():
        body = {**call_body(AT), **change}
        if change.get("received_at", "") is None:
            del body["received_at"]
        r = await client.post(CALLS, json=body, headers=tenant.headers)
        assert_error(r, 422, "validation_failed")
        assert field in error_fields(r), (field, r.json())
    naive = await client.post(
        CALLS, json={**call_body(AT), "received_at": "2026-04-27T17:42:11"}, headers=tenant.headers
    )
    assert "received_at" in error_fields(naive)
    assert await table_counts(db) == before


async def test_reading_and_writing_calls_need_the_right_scopes(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Scoped Calls Co", scopes="read")
    r = await client.post(CALLS, json=call_body(AT), headers=tenant.headers)
    assert r.status_code == 403
    assert (await client.get(CALLS, headers=tenant.headers)).status_code == 200
    assert (await client.get(CALLS)).status_code == 401


async def test_another_organizations_call_is_a_404(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    owner = await factory.tenant("Owner Calls Co")
    stranger = await factory.tenant("Stranger Calls Co")
    call = await post_call(client, owner, AT)
    r = await client.get(f"{CALLS}/{call['id']}", headers=stranger.headers)
    assert_error(r, 404, "not_found")


async def test_a_parent_with_a_calls_grant_reads_its_childs_calls(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    parent = await factory.tenant("Franchisor Calls")
    child = await factory.tenant("Franchisee Calls", parent=parent.id)
    call = await post_call(client, child, AT)
    headers = {**parent.headers, "X-EAL-Organization": str(child.id)}
    denied = await client.get(CALLS, headers=headers)
    assert denied.status_code == 403
    grant = await client.post(
        f"/api/v1/organizations/{child.id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["calls.read"],
            "expires_at": "2999-01-01T00:00:00Z",
        },
        headers=child.headers,
    )
    assert grant.status_code == 201, grant.text
    listed = await client.get(CALLS, headers=headers)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["data"]] == [call["id"]]


async def test_the_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await calls_tenant(client, factory, "Listed Calls Co")
    ids = []
    for minute in range(5):
        call = await post_call(client, tenant, AT.replace(minute=minute))
        ids.append(call["id"])
    page = await client.get(CALLS, params={"limit": 2}, headers=tenant.headers)
    body = page.json()
    assert [c["id"] for c in body["data"]] == ids[::-1][:2]
    rest = await client.get(
        CALLS, params={"limit": 10, "cursor": body["next_cursor"]}, headers=tenant.headers
    )
    assert [c["id"] for c in rest.json()["data"]] == ids[::-1][2:]
    item = rest.json()["data"][0]
    assert set(item) >= {
        "id",
        "tracking_number",
        "caller_number",
        "duration_seconds",
        "classification",
        "qualified",
        "urgency",
        "dispatch_decision",
        "received_at",
    }
    for params in ({"status": "received"}, {"classification": "junk"}, {"qualified": "true"}):
        assert (await client.get(CALLS, params=params, headers=tenant.headers)).status_code == 200
    for bad in (
        {"classification": "flood"},
        {"status": "done"},
        {"urgency": "urgent"},
        {"dispatch_action": "send"},
        {"start_at": "2026-05-01T00:00:00Z", "end_at": "2026-04-01T00:00:00Z"},
    ):
        r = await client.get(CALLS, params=bad, headers=tenant.headers)
        assert r.status_code == 422, (bad, r.text)
    window = await client.get(
        CALLS,
        params={"start_at": "2026-04-27T17:01:00Z", "end_at": "2026-04-27T17:03:00Z"},
        headers=tenant.headers,
    )
    assert len(window.json()["data"]) == 2
