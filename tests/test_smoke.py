from __future__ import annotations


async def test_health_without_key(client):
    r = await client.get("/api/v1/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["version"] == "v1"
    assert "tenant_id" not in body
    assert r.headers["x-ratelimit-limit"]


async def test_health_and_me_with_key(client, factory):
    t = await factory.tenant("Smoke Co", scopes="read,write")
    r = await client.get("/api/v1/health", headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json()["tenant_id"] == str(t.id)
    assert r.json()["scopes"] == ["read", "write"]
    r = await client.get("/api/v1/organizations/me", headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(t.id)
