"""GET /health with and without a key, and the OpenAPI document and docs page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import assert_error


async def test_health_without_key_reports_no_identity(client):
    r = await client.get("/api/v1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"] == "v1"
    assert not {"tenant_id", "environment", "scopes"} & set(body)
    stamp = datetime.fromisoformat(body["timestamp"])
    assert body["timestamp"].endswith("Z")
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)


async def test_health_with_key_reports_tenant_environment_and_scopes(client, factory):
    t = await factory.tenant("Health Co", scopes="read,write", environment="test")
    r = await client.get("/api/v1/health", headers=t.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tenant_id"] == str(t.id)
    assert body["environment"] == "test"
    assert body["scopes"] == ["read", "write"]


async def test_health_with_unknown_key_is_401(client):
    r = await client.get("/api/v1/health", headers={"Authorization": "Bearer eal_live_" + "x" * 43})
    assert_error(r, 401, "unauthenticated")


async def test_openapi_document_names_operations_by_tag_and_function(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200, r.text
    spec = r.json()
    operation_ids = {
        op["operationId"]
        for path in spec["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    assert {
        "organizations-create-child",
        "organizations-get-me",
        "organizations-list-children",
        "organizations-update-organization",
        "organizations-create-grant",
        "organizations-accept-invite",
        "health-health",
    } <= operation_ids
    assert "/api/v1/organizations/{organization_id}/grants" in spec["paths"]


async def test_docs_page_is_served(client):
    r = await client.get("/docs")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert "/openapi.json" in r.text


async def test_openapi_documents_the_error_envelope_not_fastapis_default(client) -> None:
    doc = (await client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorEnvelope"]["properties"]) == {"error"}
    create = doc["paths"]["/api/v1/organizations"]["post"]["responses"]
    for status in ("401", "403", "422", "429"):
        ref = create[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorEnvelope"
    # The invite endpoint takes no key, and health takes it optionally.
    accept = doc["paths"]["/api/v1/invites/{token}/accept"]["post"]
    assert "401" not in accept["responses"] and "security" not in accept
    assert {} in doc["paths"]["/api/v1/health"]["get"]["security"]
