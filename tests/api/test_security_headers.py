"""Security headers: nosniff everywhere, no-store on the API (secrets, replays), a CSP on /docs."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import httpx

from eal.api.middleware import MAX_BODY_BYTES
from eal.api.routing import api_router
from eal.app import create_app

WEBHOOK = {"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]}  # never contacted


def _token(invite_url: str) -> str:
    return invite_url.rsplit("/", 1)[-1]


async def test_nosniff_is_on_every_kind_of_response(client, factory):
    t = await factory.tenant("Nosniff Co")
    json_headers = {**t.headers, "Content-Type": "application/json"}
    responses = [
        await client.get("/api/v1/health"),
        await client.get("/api/v1/organizations/me", headers=t.headers),
        await client.get("/api/v1/organizations/me"),  # 401
        await client.get("/api/v1/no-such-thing"),  # 404
        await client.get("/nowhere"),  # 404 outside the API
        await client.delete("/api/v1/health"),  # 405
        await client.post("/api/v1/leads", json={}, headers=t.headers),  # 422
        await client.post(
            "/api/v1/leads", content=b"x" * (MAX_BODY_BYTES + 1), headers=json_headers
        ),  # 413
        await client.post("/api/v1/leads", content=b"{}", headers={**t.headers}),  # 415
        await client.get("/api/v1/leads?cursor=bogus", headers=t.headers),  # 400
        await client.get("/docs"),
        await client.get("/docs/assets/swagger-ui.css"),
        await client.get("/openapi.json"),
        await client.head("/api/v1/health"),
    ]
    statuses = {r.status_code for r in responses}
    assert {200, 400, 401, 404, 405, 413, 415, 422} <= statuses
    for r in responses:
        assert r.headers.get("x-content-type-options") == "nosniff", (r.request.url, r.status_code)


async def test_nosniff_and_no_store_are_on_a_500_too(settings):
    app = create_app(settings)
    router = api_router(tags=["test"])

    @router.get("/explode")
    async def explode() -> dict[str, str]:
        raise RuntimeError("boom")

    app.include_router(router, prefix="/api/v1")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/api/v1/explode")
    assert r.status_code == 500
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


async def test_responses_carrying_a_secret_are_no_store_and_so_are_their_replays(client, factory):
    t = await factory.tenant("No Store Co")
    replayable = {**t.headers, "Idempotency-Key": "no-store-create"}
    created = await client.post("/api/v1/webhooks", json=WEBHOOK, headers=replayable)
    assert created.status_code == 201, created.text
    assert created.json()["signing_secret"].startswith("whsec_")
    replay = await client.post("/api/v1/webhooks", json=WEBHOOK, headers=replayable)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["signing_secret"] == created.json()["signing_secret"]

    rotate_path = f"/api/v1/webhooks/{created.json()['id']}/rotate-secret"
    rotate_headers = {**t.headers, "Idempotency-Key": "no-store-rotate"}
    rotated = await client.post(rotate_path, headers=rotate_headers)
    assert rotated.status_code == 200, rotated.text
    rotated_again = await client.post(rotate_path, headers=rotate_headers)
    assert rotated_again.headers["idempotent-replayed"] == "true"

    child_headers = {**t.headers, "Idempotency-Key": "no-store-child"}
    child = await client.post("/api/v1/organizations", json={"name": "Kid"}, headers=child_headers)
    assert child.status_code == 201, child.text
    child_again = await client.post(
        "/api/v1/organizations", json={"name": "Kid"}, headers=child_headers
    )
    assert child_again.headers["idempotent-replayed"] == "true"
    accepted = await client.post(f"/api/v1/invites/{_token(child.json()['invite_url'])}/accept")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["api_key"]["key"].startswith("eal_live_")

    for r in (created, replay, rotated, rotated_again, child, child_again, accepted):
        assert r.headers["cache-control"] == "no-store", (r.request.url, r.headers)
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_every_api_response_is_no_store_the_docs_assets_are_not(client):
    assert (await client.get("/api/v1/health")).headers["cache-control"] == "no-store"
    assert (await client.get("/api/v1/nope")).headers["cache-control"] == "no-store"
    assert "cache-control" not in (await client.get("/docs/assets/swagger-ui.css")).headers


class _Page(HTMLParser):
    """The resources a page loads and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))
        self._in_inline_script = tag == "script" and "src" not in values
        if self._in_inline_script:
            self.inline_scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


async def test_docs_page_has_a_csp_that_lets_it_work_offline(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    csp = _directives(page.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]  # the page fetches /openapi.json
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]

    parsed = _Page()
    parsed.feed(page.text)
    assert parsed.handlers == []  # no inline event handlers, which no hash could allow
    # Its one inline script (the Swagger UI set-up) is allowed by its hash, exactly.
    assert len(parsed.inline_scripts) == 1 and "SwaggerUIBundle(" in parsed.inline_scripts[0]
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in parsed.inline_scripts
    ]
    assert sorted(csp["script-src"]) == sorted(["'self'", *hashes])
    # Nothing reaches the internet: no validator badge, every resource is the service's own.
    assert re.search(r'"validatorUrl":\s*null', page.text)
    assert "/openapi.json" in parsed.inline_scripts[0]
    assert parsed.urls and all(url.startswith("/docs/assets/") for url in parsed.urls)
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in parsed.urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content
        # nosniff: a script or stylesheet served under another type would be refused.
        expected = next(v for k, v in types.items() if url.endswith(k))
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")


async def test_docs_page_under_a_root_path_hashes_what_it_serves(settings):
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, root_path="/eal")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        page = await c.get("/eal/docs")
    assert page.status_code == 200
    parsed = _Page()
    parsed.feed(page.text)
    assert all(url.startswith("/eal/docs/assets/") for url in parsed.urls)
    digest = hashlib.sha256(parsed.inline_scripts[0].encode()).digest()
    assert base64.b64encode(digest).decode() in page.headers["content-security-policy"]
