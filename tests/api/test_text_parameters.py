"""Query and path parameters follow the body rule: no NUL, no lone surrogate (422 naming them).

Starlette decodes `%00` to a NUL (which PostgreSQL refuses: a 500 before this
rule) and invalid UTF-8 such as an encoded lone surrogate (`%ED%A0%80`) to
U+FFFD (silently searched for). The rule is checked once, before any endpoint.
"""

from __future__ import annotations

import uuid

import pytest

from eal.kit.schemas import NOT_UTF8, NUL_REFUSED, query_problems
from tests.support import assert_error

NUL = "%00"
SURROGATE = "%ED%A0%80"  # U+D800 written as UTF-8: not valid UTF-8


def _problems(response) -> list[dict[str, str]]:
    error = assert_error(response, 422, "validation_failed")
    return list(error["details"]["fields"])


async def _get_routes(client) -> list[tuple[str, list[str]]]:
    """Every GET path of the OpenAPI document with its query parameter names."""
    doc = (await client.get("/openapi.json")).json()
    routes = []
    for path, operations in doc["paths"].items():
        if "get" in operations:
            query = [
                p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"
            ]
            routes.append((path, query))
    return routes


def _fill(path: str) -> str:
    """The path with a (random) id in each parameter: the query rule runs before any lookup."""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        # Call and content ids are `call_` / `ctnt_` and 32 hex digits (their routes match
        # nothing else).
        prefix = {"{call_id": "call_", "{content_id": "ctnt_"}.get(path[start:end])
        value = f"{prefix}{uuid.uuid4().hex}" if prefix else str(uuid.uuid4())
        path = path[:start] + value + path[end + 1 :]
    return path


@pytest.mark.parametrize(("bad", "message"), [(NUL, NUL_REFUSED), (SURROGATE, NOT_UTF8)])
async def test_every_query_parameter_of_every_get_route_refuses_it(client, factory, bad, message):
    t = await factory.tenant("Query Text Co")
    routes = await _get_routes(client)
    checked = 0
    for path, names in routes:
        for name in names:
            r = await client.get(f"{_fill(path)}?{name}=a{bad}b", headers=t.headers)
            assert _problems(r) == [{"field": name, "message": message}], (path, name)
            checked += 1
    # Lists with filters and paging: leads, audit log (and export), webhooks, deliveries...
    assert checked >= 20, routes


async def test_every_offending_parameter_is_named_at_once(client, factory):
    t = await factory.tenant("Two Bad Params Co")
    r = await client.get(
        f"/api/v1/audit-log?action={NUL}&source=api&cursor=x{SURROGATE}", headers=t.headers
    )
    assert _problems(r) == [
        {"field": "action", "message": NUL_REFUSED},
        {"field": "cursor", "message": NOT_UTF8},
    ]


async def test_a_nul_in_a_parameter_name_is_refused_too(client, factory):
    t = await factory.tenant("Bad Name Co")
    r = await client.get(f"/api/v1/leads?a{NUL}=1", headers=t.headers)
    assert _problems(r) == [{"field": "a\\u0000", "message": NUL_REFUSED}]


async def test_the_rule_comes_before_authentication(client):
    r = await client.get(f"/api/v1/audit-log?action={NUL}")
    assert _problems(r)[0]["field"] == "action"


async def test_valid_text_still_reaches_the_endpoint(client, factory):
    t = await factory.tenant("Fine Text Co")
    # A real U+FFFD, an accented letter and '+' for space are ordinary text.
    for action in ("%EF%BF%BD", "caf%C3%A9", "lead+updated", "lead%2Bupdated"):
        r = await client.get(f"/api/v1/audit-log?action={action}", headers=t.headers)
        assert r.status_code == 200, (action, r.text)
        assert r.json()["data"] == []


async def test_a_nul_in_a_path_parameter_is_422_naming_it(client, factory):
    t = await factory.tenant("Path Text Co")
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://127.0.0.1:9/eal", "events": ["lead.created"]},  # never contacted
        headers=t.headers,
    )
    assert hook.status_code == 201, hook.text
    base = f"/api/v1/webhooks/{hook.json()['id']}/deliveries"
    for bad, message in ((NUL, NUL_REFUSED), (SURROGATE, NOT_UTF8)):
        r = await client.post(f"{base}/dlv_{bad}/redeliver", headers=t.headers)
        assert _problems(r) == [{"field": "delivery_id", "message": message}]
        r = await client.post(f"/api/v1/invites/itok_{bad}/accept")
        assert _problems(r) == [{"field": "token", "message": message}]
    # A delivery id that is text but names nothing is an ordinary 404.
    r = await client.post(f"{base}/dlv_%EF%BF%BD/redeliver", headers=t.headers)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", []),
        (b"limit=5&cursor=abc", []),
        (b"action=%00", [{"field": "action", "message": NUL_REFUSED}]),
        (b"action=%ed%a0%80", [{"field": "action", "message": NOT_UTF8}]),
        (b"action=%C3", [{"field": "action", "message": NOT_UTF8}]),
        (b"start_at=2026-04-27T00%3A00%3A00%2B14%3A00", []),
        (b"a=%E2%82%AC&b=%00&&c", [{"field": "b", "message": NUL_REFUSED}]),
        (b"n%00me=1", [{"field": "n\\u0000me", "message": NUL_REFUSED}]),
    ],
)
def test_query_problems(query, expected):
    assert query_problems(query) == expected
