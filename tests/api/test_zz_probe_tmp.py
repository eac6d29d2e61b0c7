import base64
import json


async def test_probe(client, factory):
    t = await factory.tenant("Probe Co")
    h = t.headers
    out = []
    for ts in ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]:
        r = await client.post(
            "/api/v1/leads", json={"email": "a@b.com", "form_started_at": ts}, headers=h
        )
        out.append(("body", ts, r.status_code))
        r = await client.get("/api/v1/leads", params={"start_at": ts}, headers=h)
        out.append(("query", ts, r.status_code))
        c = (
            base64.urlsafe_b64encode(
                json.dumps(
                    {"created_at": ts, "id": "00000000-0000-0000-0000-000000000000"}
                ).encode()
            )
            .decode()
            .rstrip("=")
        )
        for p in [
            "/api/v1/leads",
            "/api/v1/audit-log",
            "/api/v1/webhooks",
            "/api/v1/organizations",
            "/api/v1/weather-events",
        ]:
            r = await client.get(p, params={"cursor": c}, headers=h)
            out.append(("cursor", p, r.status_code))
    r = await client.get("/api/v1/audit-log?action=%00", headers=h)
    out.append(("nul", r.status_code))
    r = await client.get("/api/v1/audit-log?action=%ED%A0%80", headers=h)
    out.append(("sur", r.status_code, r.text[:100]))
    r = await client.post(
        "/api/v1/leads",
        content=b'{"email": "a@b.com", "name": "\\ud800"}',
        headers={**h, "content-type": "application/json"},
    )
    out.append(("bodysur", r.status_code, r.text[:300]))
    r = await client.request("HEAD", "/api/v1/health")
    out.append(("head", r.status_code, r.headers))
    r = await client.delete("/api/v1/webhooks", headers=h)
    out.append(("405", r.status_code, r.headers.get("allow")))
    r = await client.post(
        "/api/v1/webhooks/00000000-0000-0000-0000-000000000000/deliveries/a%00b/redeliver",
        headers=h,
    )
    out.append(("pathnul", r.status_code, r.text[:200]))
    for o in out:
        print(o)
