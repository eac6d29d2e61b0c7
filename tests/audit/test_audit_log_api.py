"""GET /api/v1/audit-log and /audit-log/{id}: shape, filters, limits, keyset pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from eal.db.engine import Database
from tests.audit.helpers import insert_aged_entry, record_in_one_transaction
from tests.factories import Factory, Tenant


async def _walk(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[list[dict]]:
    """Every page of the tenant's audit log, following next_cursor to the end."""
    pages: list[list[dict]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = await client.get("/api/v1/audit-log", params=query, headers=tenant.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not terminate"


async def test_update_is_recorded_with_diff_key_and_correlation_id(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Diff Restoration")
    patched = await client.patch(
        f"/api/v1/organizations/{tenant.id}",
        json={"name": "Diff Restoration West"},
        headers={**tenant.headers, "X-Request-ID": "corr_diff_test_1"},
    )
    assert patched.status_code == 200, patched.text

    listed = await client.get(
        "/api/v1/audit-log", params={"action": "organization.updated"}, headers=tenant.headers
    )
    assert listed.status_code == 200
    [entry] = listed.json()["data"]
    assert entry["organization_id"] == str(tenant.id)
    assert entry["source"] == "api"
    assert entry["correlation_id"] == "corr_diff_test_1"
    assert entry["payload"]["key_id"] == str(tenant.key_id)
    assert entry["payload"]["diff"] == {
        "name": {"from": "Diff Restoration", "to": "Diff Restoration West"}
    }
    assert entry["created_at"].endswith("Z")

    fetched = await client.get(f"/api/v1/audit-log/{entry['id']}", headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == entry

    # An automation declaring itself is recorded as such.
    automated = await client.patch(
        f"/api/v1/organizations/{tenant.id}",
        json={"name": "Diff Restoration North"},
        headers={**tenant.headers, "X-EAL-Source": "n8n"},
    )
    assert automated.status_code == 200
    by_n8n = await client.get("/api/v1/audit-log", params={"source": "n8n"}, headers=tenant.headers)
    [n8n_entry] = by_n8n.json()["data"]
    assert n8n_entry["action"] == "organization.updated"
    assert n8n_entry["correlation_id"] == automated.headers["x-request-id"]
    assert n8n_entry["payload"]["diff"]["name"]["to"] == "Diff Restoration North"


async def test_another_tenants_entry_is_not_found(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    owner = await factory.tenant("Owner Co")
    other = await factory.tenant("Other Co")
    owners = await client.get("/api/v1/audit-log", headers=owner.headers)
    entry_id = owners.json()["data"][0]["id"]

    response = await client.get(f"/api/v1/audit-log/{entry_id}", headers=other.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = await client.get(f"/api/v1/audit-log/{uuid.uuid4()}", headers=owner.headers)
    assert missing.status_code == 404
    # The other tenant's list never shows the owner's entries either.
    theirs = await client.get("/api/v1/audit-log", headers=other.headers)
    assert entry_id not in {e["id"] for e in theirs.json()["data"]}


async def test_filters_by_action_source_and_time_range(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Filter Co")
    cron_ids = await record_in_one_transaction(db, tenant.id, 2, action="job.ran", source="cron")
    n8n_ids = await record_in_one_transaction(db, tenant.id, 1, action="lead.synced", source="n8n")
    old_id, _ = await insert_aged_entry(db, tenant.id, "3 days", action="job.ran", source="cron")

    async def ids(**params: str) -> list[str]:
        response = await client.get("/api/v1/audit-log", params=params, headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["data"]]

    assert set(await ids(action="job.ran")) == {str(i) for i in [*cron_ids, old_id]}
    assert set(await ids(source="n8n")) == {str(i) for i in n8n_ids}
    assert set(await ids(action="job.ran", source="n8n")) == set()

    now = datetime.now(UTC)
    recent = await ids(action="job.ran", start_at=(now - timedelta(days=1)).isoformat())
    assert set(recent) == {str(i) for i in cron_ids}
    older = await ids(
        start_at=(now - timedelta(days=4)).isoformat(),
        end_at=(now - timedelta(days=2)).isoformat(),
    )
    assert older == [str(old_id)]


async def test_invalid_filters_and_limits_are_rejected(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    tenant = await factory.tenant("Invalid Filter Co")
    bad = [
        ({"source": "email"}, "source"),
        ({"start_at": "2026-01-02T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"}, "start_at"),
        ({"start_at": "2026-01-01T00:00:00"}, "start_at"),
        ({"start_at": "yesterday"}, "start_at"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
    ]
    for params, field in bad:
        response = await client.get("/api/v1/audit-log", params=params, headers=tenant.headers)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        assert field in {f["field"] for f in error["details"]["fields"]}, params
    broken = await client.get(
        "/api/v1/audit-log", params={"cursor": "not-a-cursor"}, headers=tenant.headers
    )
    assert broken.status_code == 400


async def test_limit_defaults_to_50_and_allows_200(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Limit Co")
    await record_in_one_transaction(db, tenant.id, 210)

    default = (await client.get("/api/v1/audit-log", headers=tenant.headers)).json()
    assert len(default["data"]) == 50
    assert default["next_cursor"] is not None
    largest = await client.get("/api/v1/audit-log", params={"limit": 200}, headers=tenant.headers)
    assert len(largest.json()["data"]) == 200

    pages = await _walk(client, tenant, limit=200)
    assert [len(p) for p in pages] == [200, 12]  # 210 + organization.created + api_key.created


async def test_pages_walk_every_entry_once_when_timestamps_tie(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Tie Co")
    same_instant = await record_in_one_transaction(db, tenant.id, 7)

    pages = await _walk(client, tenant, limit=2)
    entries = [e for page in pages for e in page]
    ids = [e["id"] for e in entries]
    assert all(len(page) == 2 for page in pages[:-1])
    assert len(ids) == len(set(ids)) == 9  # the 7 + organization.created + api_key.created
    assert {str(i) for i in same_instant} <= set(ids)
    tied = {e["created_at"] for e in entries if e["id"] in {str(i) for i in same_instant}}
    assert len(tied) == 1, "entries of one transaction share created_at"


async def test_newest_entries_come_first(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Order Co")
    week_old, _ = await insert_aged_entry(db, tenant.id, "7 days")
    day_old, _ = await insert_aged_entry(db, tenant.id, "1 day")
    newest = await record_in_one_transaction(db, tenant.id, 1)

    data = (await client.get("/api/v1/audit-log", headers=tenant.headers)).json()["data"]
    ids = [e["id"] for e in data]
    assert ids[0] == str(newest[0])
    assert ids[-2:] == [str(day_old), str(week_old)]
    stamps = [e["created_at"] for e in data]
    assert stamps == sorted(stamps, reverse=True)
