"""X-Request-ID is accepted or generated, echoed, and stored; X-EAL-Source sets the audit source."""

from __future__ import annotations

from tests.support import assert_error, audit_entries, table_counts


async def test_request_id_is_generated_when_absent(client):
    r = await client.get("/api/v1/health")
    assert r.headers["x-request-id"].startswith("req_")
    other = await client.get("/api/v1/health")
    assert other.headers["x-request-id"] != r.headers["x-request-id"]


async def test_request_id_is_echoed_on_success_and_error(client):
    r = await client.get("/api/v1/health", headers={"X-Request-ID": "corr_z3p7w2"})
    assert r.headers["x-request-id"] == "corr_z3p7w2"
    r = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "corr_404"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "corr_404"


async def test_unsafe_request_id_is_replaced(client):
    r = await client.get("/api/v1/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"].startswith("req_")


async def test_request_id_becomes_the_audit_correlation_id(client, factory, db):
    t = await factory.tenant("Correlated Co")
    r = await client.patch(
        f"/api/v1/organizations/{t.id}",
        json={"name": "Correlated Co (renamed)"},
        headers={**t.headers, "X-Request-ID": "corr_rename_1"},
    )
    assert r.status_code == 200, r.text
    [entry] = await audit_entries(db, t.id, "organization.updated")
    assert entry["correlation_id"] == "corr_rename_1"
    assert entry["source"] == "api"


async def test_generated_request_id_is_stored_too(client, factory, db):
    t = await factory.tenant("Generated Id Co")
    r = await client.patch(
        f"/api/v1/organizations/{t.id}", json={"name": "Generated Id Co 2"}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    [entry] = await audit_entries(db, t.id, "organization.updated")
    assert entry["correlation_id"] == r.headers["x-request-id"]


async def test_n8n_source_header_is_recorded(client, factory, db):
    t = await factory.tenant("Automation Co")
    r = await client.patch(
        f"/api/v1/organizations/{t.id}",
        json={"name": "Automation Co (n8n)"},
        headers={**t.headers, "X-EAL-Source": "n8n"},
    )
    assert r.status_code == 200, r.text
    [entry] = await audit_entries(db, t.id, "organization.updated")
    assert entry["source"] == "n8n"


async def test_unknown_source_header_is_400_and_changes_nothing(client, factory, db):
    t = await factory.tenant("Spoofing Co")
    before = await table_counts(db)
    r = await client.patch(
        f"/api/v1/organizations/{t.id}",
        json={"name": "Spoofed"},
        headers={**t.headers, "X-EAL-Source": "cron"},
    )
    error = assert_error(r, 400, "invalid_request")
    assert error["details"]["header"] == "X-EAL-Source"
    assert await table_counts(db) == before
