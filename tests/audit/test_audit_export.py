"""GET /api/v1/audit-log/export.csv: content, formats, filters, streaming, and honest failures."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import logging
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from eal.app import create_app
from eal.audit.export import FORMULA_STARTS
from eal.config import Settings
from eal.db.engine import Database
from eal.kit.clock import isoformat
from tests.audit.helpers import insert_aged_entry, insert_entry, record_in_one_transaction
from tests.cli.servers import threaded_server
from tests.factories import Factory, Tenant

HEADER = ["id", "organization_id", "created_at", "action", "source", "correlation_id", "payload"]
HEADER_LINE = (",".join(HEADER) + "\n").encode()

_SEED = text(
    "INSERT INTO platform_events (organization_id, action, source, correlation_id, payload, "
    "seq, prev_hash, hash) "
    "SELECT :org, 'bulk.seeded', 'system', 'corr_bulk_' || g, "
    "jsonb_build_object('n', g, 'diff', jsonb_build_object('note', "
    "jsonb_build_object('from', NULL, 'to', repeat('x', :width)))), 0, ''::bytea, ''::bytea "
    "FROM generate_series(1, :count) AS g"
)

# The backend running an export's COPY, as the schema owner sees it.
_EXPORT_BACKENDS = text(
    "SELECT pid, wait_event FROM pg_stat_activity WHERE datname = current_database() "
    "AND state = 'active' AND query LIKE 'COPY (SELECT platform_events.id%'"
)
# Every backend of the test database, for a failure's message.
_ALL_BACKENDS = text(
    "SELECT pid, application_name, state, wait_event, left(query, 60) AS query "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
_BACKEND_ALIVE = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
# Runtime-role connections left inside a transaction (an export not cleaned up).
_LEFT_OPEN = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND application_name = 'eal' AND state LIKE 'idle in transaction%'"
)


async def _export(client: httpx.AsyncClient, tenant: Tenant, **params: str) -> list[list[str]]:
    response = await client.get(
        "/api/v1/audit-log/export.csv", params=params, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(HEADER_LINE)
    assert response.content.endswith(b"\n"), "a complete export ends with a line break"
    return list(csv.reader(io.StringIO(response.text)))


async def _seed(db: Database, tenant: Tenant, count: int, width: int = 120) -> None:
    async with db.system_transaction() as conn:
        await conn.execute(_SEED, {"org": tenant.id, "count": count, "width": width})


async def _left_open(db: Database) -> int:
    async with db.system_transaction() as conn:
        return int(await conn.scalar(_LEFT_OPEN) or 0)


async def _export_backends(db: Database) -> list[Any]:
    async with db.system_transaction() as conn:
        return list((await conn.execute(_EXPORT_BACKENDS)).all())


async def _held_copy_pid(db: Database) -> int:
    """The backend of the export's COPY once it waits for the client (20 s at most)."""
    deadline = time.monotonic() + 20
    while True:
        backends = await _export_backends(db)
        if [b.wait_event for b in backends] == ["ClientWrite"]:
            return int(backends[0].pid)
        if time.monotonic() >= deadline:
            async with db.system_transaction() as conn:
                everyone = (await conn.execute(_ALL_BACKENDS)).all()
            raise AssertionError(
                f"never saw the COPY held up by the client: {backends}; "
                f"the database's backends: {everyone}"
            )
        await asyncio.sleep(0.05)


async def _wait_until_gone(db: Database, pid: int) -> None:
    """Poll pg_stat_activity until backend `pid` has exited (20 s at most)."""
    deadline = time.monotonic() + 20
    while True:
        async with db.system_transaction() as conn:
            if not await conn.scalar(_BACKEND_ALIVE, {"pid": pid}):
                return
        assert time.monotonic() < deadline, f"backend {pid} is still there"
        await asyncio.sleep(0.05)


@contextmanager
def _uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn's error logger records meanwhile (it does not propagate to the root)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


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


async def test_export_cells_keep_the_api_formats_and_exact_payloads(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Export Format Co")
    # Milliseconds are cut, not rounded, as the API renders them.
    late = datetime(2026, 4, 27, 18, 55, 42, 1999, tzinfo=UTC)
    last = datetime(2026, 4, 27, 18, 55, 42, 999999, tzinfo=UTC)
    payload = (
        '{"amount": 12345678901234567890123, "ratio": 1.10, "note": "a, b: \\"c\\"\\n", '
        '"city": "Zürich ☃"}'
    )
    exact = await insert_entry(
        db, tenant.id, action="lead.scored", correlation_id=None, payload=payload, created_at=late
    )
    other = await insert_entry(db, tenant.id, correlation_id="corr_x", created_at=last)

    response = await client.get("/api/v1/audit-log/export.csv", headers=tenant.headers)
    rows = {r[0]: dict(zip(HEADER, r, strict=True)) for r in csv.reader(io.StringIO(response.text))}
    assert rows[str(exact)]["created_at"] == isoformat(late) == "2026-04-27T18:55:42.001Z"
    assert rows[str(other)]["created_at"] == isoformat(last) == "2026-04-27T18:55:42.999Z"
    shown = await client.get(f"/api/v1/audit-log/{other}", headers=tenant.headers)
    assert rows[str(other)]["created_at"] == shown.json()["created_at"]

    # The payload cell is PostgreSQL's text of the jsonb (what the audit hash
    # covers), so numbers survive exactly; a float round trip would not.
    async with db.system_transaction() as conn:
        stored = await conn.scalar(
            text("SELECT payload::text FROM platform_events WHERE id = :id"), {"id": exact}
        )
    cell = rows[str(exact)]["payload"]
    assert cell == stored
    decoded = json.loads(cell)
    assert decoded["amount"] == 12345678901234567890123
    assert decoded["note"] == 'a, b: "c"\n'
    assert decoded["city"] == "Zürich ☃"
    assert "1.10" in cell
    # A missing correlation id is an empty, unquoted cell.
    assert b',lead.scored,system,,"{' in response.content


@pytest.mark.parametrize("start", FORMULA_STARTS)
async def test_cells_that_start_like_a_formula_are_quote_prefixed(
    client: httpx.AsyncClient, factory: Factory, db: Database, start: str
) -> None:
    tenant = await factory.tenant(f"Export Injection Co {ord(start)}")
    risky = await insert_entry(
        db, tenant.id, action=f"{start}HYPERLINK(1)", correlation_id=f"{start}cmd|' /C calc'!A0"
    )
    bare = await insert_entry(db, tenant.id, action="test.bare", payload="-5")
    inner = await insert_entry(
        db, tenant.id, action=f"lead{start}x", correlation_id=f"req{start}1", payload='{"=": "+1"}'
    )

    rows = {r[0]: dict(zip(HEADER, r, strict=True)) for r in await _export(client, tenant)}
    assert rows[str(risky)]["action"] == f"'{start}HYPERLINK(1)"
    assert rows[str(risky)]["correlation_id"] == f"'{start}cmd|' /C calc'!A0"
    assert rows[str(bare)]["payload"] == "'-5"
    # Only the first character counts; objects start with `{`.
    assert rows[str(inner)]["action"] == f"lead{start}x"
    assert rows[str(inner)]["correlation_id"] == f"req{start}1"
    assert rows[str(inner)]["payload"] == '{"=": "+1"}'


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
    since = await _export(client, tenant, start_at=isoformat(datetime.now(UTC)) or "")
    assert since == [HEADER], "no entry yet: just the header row"


async def test_export_time_bounds_are_inclusive_to_the_microsecond(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    """The bounds reach the COPY inlined as literals: exactly, whatever offset they were given in."""
    tenant = await factory.tenant("Export Bounds Co")
    at = datetime(2026, 4, 27, 18, 55, 42, 123456, tzinfo=UTC)
    ids = {
        shift: await insert_entry(
            db, tenant.id, action="bounds.test", created_at=at + timedelta(microseconds=shift)
        )
        for shift in (-1, 0, 1)
    }
    india = at.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    assert india == "2026-04-28T00:25:42.123456+05:30"
    params = {"action": "bounds.test", "start_at": india, "end_at": at.isoformat()}

    rows = await _export(client, tenant, **params)
    assert [r[0] for r in rows[1:]] == [str(ids[0])]
    listed = await client.get("/api/v1/audit-log", params=params, headers=tenant.headers)
    assert [e["id"] for e in listed.json()["data"]] == [str(ids[0])]
    later = await _export(client, tenant, action="bounds.test", start_at=india)
    assert [r[0] for r in later[1:]] == [str(ids[0]), str(ids[1])]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "fax"}, "source"),
        ({"action": "lead\x00updated"}, "action"),
        ({"start_at": "2026-04-27T00:00:00"}, "start_at"),
        ({"start_at": "2026-04-28T00:00:00Z", "end_at": "2026-04-27T00:00:00Z"}, "start_at"),
        ({"end_at": "yesterday"}, "end_at"),
    ],
)
async def test_a_bad_filter_is_an_error_envelope_not_a_csv(
    client: httpx.AsyncClient, factory: Factory, params: dict[str, str], field: str
) -> None:
    tenant = await factory.tenant("Export Bad Filter Co")
    response = await client.get(
        "/api/v1/audit-log/export.csv", params=params, headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert [f["field"] for f in error["details"]["fields"]] == [field]


async def test_a_failure_before_the_first_byte_is_an_error_envelope(
    client: httpx.AsyncClient, factory: Factory, db: Database
) -> None:
    """The COPY starts before the response does: if it cannot, the client gets a 500."""
    tenant = await factory.tenant("Export Start Failure Co")
    async with db.system_transaction() as conn:
        await conn.execute(text("REVOKE SELECT ON platform_events FROM eal_app"))
    try:
        with capture_logs() as logs:
            response = await client.get("/api/v1/audit-log/export.csv", headers=tenant.headers)
    finally:
        async with db.system_transaction() as conn:
            await conn.execute(text("GRANT SELECT ON platform_events TO eal_app"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "internal_error"
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["request_failed"]
    assert await _export_backends(db) == []
    assert await _left_open(db) == 0
    assert len(await _export(client, tenant)) == 1 + 2  # organization and key creation


async def test_large_export_streams_with_bounded_memory(
    settings: Settings, factory: Factory, db: Database
) -> None:
    rows = 50_000
    tenant = await factory.tenant("Bulk Export Co")
    started = time.monotonic()
    await _seed(db, tenant, rows)
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
                last = b""
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
                        last = chunk[-1:]
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()

    assert lines == 1 + rows + 2  # header, the seeded rows, organization + key creation
    assert last == b"\n"
    assert chunks > 10, f"the body arrived in {chunks} chunk(s): not streamed"
    growth = peak - baseline
    # The body is ~15 MB; holding it (or the rows) in memory would grow by all of it.
    # tracemalloc sees the whole test process (client, server thread, other tasks), so
    # the bound leaves room for their noise: a few MB in a long run.
    assert total > 10_000_000
    assert growth < total / 2, f"memory grew by {growth} bytes for a {total}-byte export"
    assert seeded_in < 15


async def test_an_export_cut_off_mid_stream_is_a_broken_transfer(
    settings: Settings, factory: Factory, db: Database
) -> None:
    """A COPY whose backend dies mid-export: the client must not see a clean end of the body."""
    tenant = await factory.tenant("Export Cut Co")
    rows = 20_000
    await _seed(db, tenant, rows, width=4000)  # some 80 MB of CSV, far more than any buffer

    app = create_app(settings)
    with threaded_server(app) as base, _uvicorn_errors() as uvicorn_errors:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            with capture_logs() as logs:
                received = b""
                async with http.stream(
                    "GET",
                    "/api/v1/audit-log/export.csv",
                    headers={**tenant.headers, "X-Request-ID": "req_export_cut"},
                ) as response:
                    assert response.status_code == 200
                    body = response.aiter_raw()
                    received += await anext(body)
                    # The client reads no further: the COPY backs up to
                    # PostgreSQL, which waits for its socket.
                    pid = await _held_copy_pid(db)
                    async with db.system_transaction() as conn:
                        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    with pytest.raises(httpx.RemoteProtocolError):
                        async for chunk in body:
                            received += chunk

    assert received.startswith(HEADER_LINE)
    assert received.count(b"\n") < 1 + rows
    failures = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in failures] == ["audit_export_failed"]
    assert failures[0]["request_id"] == "req_export_cut"
    assert failures[0]["organization_id"] == str(tenant.id)
    # PostgreSQL's own notice may not get through the socket it was blocked on.
    assert failures[0]["error"].startswith(("AdminShutdownError", "ConnectionDoesNotExistError"))
    assert 0 < failures[0]["bytes_sent"] <= len(received)
    # uvicorn notes the incomplete response in one line, with no traceback.
    assert [r.getMessage() for r in uvicorn_errors] == [
        "ASGI callable returned without completing response."
    ]
    assert all(r.exc_info is None for r in uvicorn_errors)


async def test_an_abandoned_export_releases_its_database_connection(
    settings: Settings, factory: Factory, db: Database
) -> None:
    tenant = await factory.tenant("Export Abandoned Co")
    await _seed(db, tenant, 20_000, width=4000)

    app = create_app(settings)
    with threaded_server(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            with capture_logs() as logs:
                async with http.stream(
                    "GET", "/api/v1/audit-log/export.csv", headers=tenant.headers
                ) as response:
                    assert response.status_code == 200
                    # The iterator is held: a dropped one is finalised at once, and
                    # closing it closes the connection (the hang-up would come here).
                    body = response.aiter_raw()
                    assert (await anext(body)).startswith(HEADER_LINE)
                    # The client reads no further: the COPY backs up to PostgreSQL.
                    copying = await _held_copy_pid(db)
                # The client hung up: the COPY stops and its connection is
                # closed, not handed back to the pool.
                await _wait_until_gone(db, copying)
                assert await _left_open(db) == 0
                again = await http.get(
                    "/api/v1/audit-log/export.csv",
                    params={"source": "api"},
                    headers=tenant.headers,
                )
    assert again.status_code == 200
    assert again.content.startswith(HEADER_LINE)
    assert [e for e in logs if e["log_level"] == "error"] == []


async def test_a_parent_exports_a_child_log_only_under_a_grant(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    parent = await factory.tenant("Export Rollup Parent")
    child = await factory.tenant("Export Rollup Child", parent=parent.id)
    as_parent = {**parent.headers, "X-EAL-Organization": str(child.id)}
    refused = await client.get("/api/v1/audit-log/export.csv", headers=as_parent)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["required_grant"] == "audit_log.read"

    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    granted = await client.post(
        f"/api/v1/organizations/{child.id}/grants",
        json={
            "parent_organization_id": str(parent.id),
            "scopes": ["audit_log.read"],
            "expires_at": expires,
        },
        headers=child.headers,
    )
    assert granted.status_code == 201, granted.text
    response = await client.get("/api/v1/audit-log/export.csv", headers=as_parent)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))[1:]
    assert rows and {r[1] for r in rows} == {str(child.id)}
    assert "grant.created" in {r[3] for r in rows}


async def test_export_requires_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/audit-log/export.csv")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    foreign = await client.get(f"/api/v1/audit-log/{uuid.uuid4()}")
    assert foreign.status_code == 401
