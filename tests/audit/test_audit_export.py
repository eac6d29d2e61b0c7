"""GET /api/v1/audit-log/export.csv: content, filters, and streaming in bounded memory."""

from __future__ import annotations

import csv
import gc
import io
import json
import time
import tracemalloc
import uuid

import httpx
from sqlalchemy import text

from eal.app import create_app
from eal.config import Settings
from eal.db.engine import Database
from tests.audit.helpers import insert_aged_entry, record_in_one_transaction
from tests.cli.servers import threaded_server
from tests.factories import Factory, Tenant

HEADER = ["id", "organization_id", "created_at", "action", "source", "correlation_id", "payload"]

_SEED = text(
    "INSERT INTO platform_events (organization_id, action, source, correlation_id, payload, "
    "seq, prev_hash, hash) "
    "SELECT :org, 'bulk.seeded', 'system', 'corr_bulk_' || g, "
    "jsonb_build_object('n', g, 'diff', jsonb_build_object('note', "
    "jsonb_build_object('from', NULL, 'to', repeat('x', 120)))), 0, ''::bytea, ''::bytea "
    "FROM generate_series(1, :count) AS g"
)


async def _export(client: httpx.AsyncClient, tenant: Tenant, **params: str) -> list[list[str]]:
    response = await client.get(
        "/api/v1/audit-log/export.csv", params=params, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


async def test_export_has_a_header_and_one_row_per_entry(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Export Co")
    await record_in_one_transaction(db, tenant.id, 3, action="lead.updated", source="api")
    listed = await client.get("/api/v1/audit-log", headers=tenant.headers)
    entries = {e["id"]: e for e in listed.json()["data"]}
    assert len(entries) == 5

    rows = await _export(client, tenant)
    assert rows[0] == HEADER
    assert len(rows) == 1 + len(entries)
    for row in rows[1:]:
        record = dict(zip(HEADER, row, strict=True))
        entry = entries[record["id"]]
        assert record["organization_id"] == str(tenant.id)
        assert record["created_at"] == entry["created_at"]
        assert record["action"] == entry["action"]
        assert record["source"] == entry["source"]
        assert record["correlation_id"] == (entry["correlation_id"] or "")
        assert json.loads(record["payload"]) == entry["payload"]


async def test_export_applies_the_list_filters(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Export Filter Co")
    other = await factory.tenant("Export Other Co")
    wanted = await record_in_one_transaction(db, tenant.id, 2, action="job.ran", source="cron")
    await record_in_one_transaction(db, tenant.id, 2, action="job.ran", source="n8n")
    await record_in_one_transaction(db, other.id, 2, action="job.ran", source="cron")
    old, _ = await insert_aged_entry(db, tenant.id, "10 days", action="job.ran", source="cron")

    rows = await _export(client, tenant, action="job.ran", source="cron")
    assert {r[0] for r in rows[1:]} == {str(i) for i in [*wanted, old]}
    assert rows[1][0] == str(old), "the export runs oldest first"

    recent = await _export(
        client,
        tenant,
        source="cron",
        start_at="2000-01-01T00:00:00Z",
        end_at="2999-01-01T00:00:00Z",
    )
    assert len(recent) == 1 + 3
    invalid = await client.get(
        "/api/v1/audit-log/export.csv", params={"source": "fax"}, headers=tenant.headers
    )
    assert invalid.status_code == 422


async def test_large_export_streams_with_bounded_memory(
    settings: Settings, factory: Factory, db: Database
) -> None:
    rows = 50_000
    tenant = await factory.tenant("Bulk Export Co")
    started = time.monotonic()
    async with db.system_transaction() as conn:
        await conn.execute(_SEED, {"org": tenant.id, "count": rows})
    seeded_in = time.monotonic() - started

    app = create_app(settings)
    with threaded_server(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            # Warm the server (pools, imports) so the measurement sees only the export.
            assert (await http.get("/api/v1/health")).status_code == 200
            gc.collect()
            tracemalloc.start()
            try:
                baseline, _ = tracemalloc.get_traced_memory()
                chunks = total = lines = 0
                async with http.stream(
                    "GET", "/api/v1/audit-log/export.csv", headers=tenant.headers
                ) as response:
                    assert response.status_code == 200
                    assert "content-length" not in response.headers
                    assert response.headers.get("transfer-encoding") == "chunked"
                    async for chunk in response.aiter_raw():
                        chunks += 1
                        total += len(chunk)
                        lines += chunk.count(b"\n")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()

    assert lines == 1 + rows + 2  # header, the seeded rows, organization + key creation
    assert chunks > 10, f"the body arrived in {chunks} chunk(s): not streamed"
    growth = peak - baseline
    # The body is ~15 MB; holding it (or the rows) in memory would show up here.
    assert total > 10_000_000
    assert growth < total / 3, f"memory grew by {growth} bytes for a {total}-byte export"
    assert seeded_in < 15


async def test_export_requires_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/audit-log/export.csv")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    foreign = await client.get(f"/api/v1/audit-log/{uuid.uuid4()}")
    assert foreign.status_code == 401
