"""405 names every method of the path in `Allow`; HEAD answers wherever GET does, without a body."""

from __future__ import annotations

import pytest

from tests.support import assert_error

# Headers that differ between any two requests.
VOLATILE = {"x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit", "date"}
DOCS_PATHS = {"/docs": {"GET"}, "/openapi.json": {"GET"}, "/docs/assets/swagger-ui.css": {"GET"}}


def _allow(methods: set[str]) -> str:
    if "GET" in methods:
        methods = methods | {"HEAD"}
    return ", ".join(sorted(methods))


async def _documented(client) -> dict[str, set[str]]:
    doc = (await client.get("/openapi.json")).json()
    return {
        path: {m.upper() for m in operations if m in {"get", "post", "patch", "put", "delete"}}
        for path, operations in doc["paths"].items()
    }


async def _tenant_with_one_of_each(client, factory) -> tuple[dict[str, str], dict[str, str]]:
    """A tenant with a lead, a webhook and audit entries; ids for every GET path parameter."""
    t = await factory.tenant("Methods Co")
    lead = await client.post("/api/v1/leads", json={"email": "dana@example.com"}, headers=t.headers)
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},  # never contacted
        headers=t.headers,
    )
    assert lead.status_code == hook.status_code == 201, (lead.text, hook.text)
    # A test key sends without a provider (the message is simulated).
    test_key = (await factory.key(t.id, "write", "test"))["key"]
    message = await client.post(
        "/api/v1/outreach/send",
        json={"channel": "sms", "to": "+17705550142", "body": "Crew at 9"},
        headers={"Authorization": f"Bearer {test_key}"},
    )
    suppression = await client.post(
        "/api/v1/outreach/suppressions",
        json={"channel": "email", "address": "gone@example.com"},
        headers=t.headers,
    )
    sequence = await client.post(
        "/api/v1/outreach/sequences",
        json={
            "name": "S",
            "channel": "email",
            "steps": [{"delay": "1d", "subject": "s", "body": "b"}],
        },
        headers=t.headers,
    )
    enrolled = await client.post(
        f"/api/v1/outreach/sequences/{sequence.json()['id']}/enrollments",
        json={"lead_ids": [lead.json()["id"]]},
        headers=t.headers,
    )
    assert message.status_code == 202 and enrolled.status_code == 201, (message.text, enrolled.text)
    call = await client.post(
        "/api/v1/calls",
        json={
            "tracking_number": "+17705550199",
            "caller_number": "+14045550173",
            "received_at": "2026-04-27T17:42:11Z",
        },
        headers=t.headers,
    )
    assert call.status_code == 201, call.text
    corrected = await client.patch(
        f"/api/v1/calls/{call.json()['id']}",
        json={"classification": {"intent": "water", "urgency": "high", "qualified": True}},
        headers=t.headers,
    )
    assert corrected.status_code == 200, corrected.text
    prospect = await client.post(
        "/api/v1/prospects", json={"company_name": "Allow Prospect"}, headers=t.headers
    )
    batch = await client.post(
        "/api/v1/prospects/qualify",
        json={"prospect_ids": [prospect.json()["id"]]},
        headers=t.headers,
    )
    assert batch.status_code == 202, batch.text
    reply = await client.post(
        "/api/v1/content/review-response",
        json={"platform": "google", "review_id": "r1", "rating": 5, "review_text": "Great crew."},
        headers=t.headers,
    )
    assert reply.status_code == 201, reply.text
    claim = await client.post(
        "/api/v1/claims", json={"loss_type": "water", "water_category": 1}, headers=t.headers
    )
    assert claim.status_code == 202, claim.text
    entry = (await client.get("/api/v1/audit-log", headers=t.headers)).json()["data"][0]
    ids = {
        "lead_id": lead.json()["id"],
        "webhook_id": hook.json()["id"],
        "entry_id": entry["id"],
        "organization_id": str(t.id),
        "message_id": message.json()["message_id"],
        "suppression_id": suppression.json()["id"],
        "sequence_id": sequence.json()["id"],
        "enrollment_id": enrolled.json()["results"][0]["enrollment_id"],
        "call_id": call.json()["id"],
        "prospect_id": prospect.json()["id"],
        "batch_id": batch.json()["batch_id"],
        "content_id": reply.json()["id"],
        "claim_id": claim.json()["id"],
    }
    return t.headers, ids


async def test_allow_names_every_method_of_every_path(client, factory):
    headers, ids = await _tenant_with_one_of_each(client, factory)
    paths = {**await _documented(client), **DOCS_PATHS}
    assert len(paths) > 20
    # PATCH /organizations/{organization_id} takes "me" too (a 422, not a 405).
    paths["/api/v1/organizations/me"] = paths["/api/v1/organizations/me"] | {"PATCH"}
    for template, methods in paths.items():
        path = template.format(**ids, token="itok_x", delivery_id="dlv_x")
        refused = next(m for m in ("PUT", "DELETE", "PATCH") if m not in methods)
        r = await client.request(refused, path, headers=headers)
        assert_error(r, 405, "method_not_allowed")
        assert r.headers["allow"] == _allow(methods), (template, refused)


async def test_allow_on_paths_with_several_routes(client, factory):
    t = await factory.tenant("Allow Co")
    r = await client.delete("/api/v1/webhooks", headers=t.headers)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, HEAD, POST"
    r = await client.put("/api/v1/webhooks/00000000-0000-0000-0000-000000000000", headers=t.headers)
    assert r.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    r = await client.get("/api/v1/invites/itok_x/accept")
    assert r.headers["allow"] == "POST"


async def test_head_on_a_post_only_path_is_405_naming_head(client):
    r = await client.head("/api/v1/invites/itok_x/accept")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.content == b""


async def test_head_answers_every_get_route_like_get_without_a_body(client, factory):
    headers, ids = await _tenant_with_one_of_each(client, factory)
    documented = await _documented(client)
    gets = [p for p, methods in documented.items() if "GET" in methods] + list(DOCS_PATHS)
    # A recording needs its signed link's query (tests/calls/test_recording.py does HEAD).
    gets = [p for p in gets if not p.endswith("/recording")]
    assert len(gets) > 10
    for template in gets:
        path = template.format(**ids)
        got = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert got.status_code == 200, (path, got.text)
        assert head.status_code == 200, path
        assert head.content == b"", path
        assert got.content, path
        same = {k: v for k, v in got.headers.items() if k not in VOLATILE}
        assert {k: v for k, v in head.headers.items() if k not in VOLATILE} == same, path


@pytest.mark.parametrize("path", ["/api/v1/leads/00000000-0000-0000-0000-000000000000", "/nope"])
async def test_head_of_a_missing_resource_is_a_bodiless_404(client, factory, path):
    t = await factory.tenant("Head Missing Co")
    r = await client.head(path, headers=t.headers)
    assert r.status_code == 404
    assert r.content == b""
    assert int(r.headers["content-length"]) > 0  # the length the GET's envelope has


async def test_head_is_authenticated_like_get(client):
    r = await client.head("/api/v1/leads")
    assert r.status_code == 401
    assert r.content == b""
