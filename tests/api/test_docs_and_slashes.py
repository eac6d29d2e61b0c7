"""/docs works without a CDN; a trailing slash is a 404 envelope, not a redirect."""

from __future__ import annotations


async def test_docs_page_uses_assets_served_by_the_service(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn.jsdelivr" not in page.text and "unpkg" not in page.text
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_trailing_slash_is_a_404_envelope(client, factory):
    t = await factory.tenant("Slash Co")
    r = await client.get("/api/v1/organizations/me/", headers=t.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_openapi_lists_the_headers_clients_may_send(client):
    doc = (await client.get("/openapi.json")).json()
    create = doc["paths"]["/api/v1/organizations"]["post"]
    names = {p["name"] for p in create["parameters"]}
    assert {"Idempotency-Key", "X-Request-ID", "X-EAL-Source"} <= names
    listing = doc["paths"]["/api/v1/audit-log"]["get"]
    assert "X-EAL-Organization" in {p["name"] for p in listing["parameters"]}
    # A 404 is documented where a path names a resource, not on the list.
    assert "404" not in listing["responses"]
    assert "404" in doc["paths"]["/api/v1/audit-log/{entry_id}"]["get"]["responses"]
