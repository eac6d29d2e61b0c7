"""GET /: the service index points at the documentation."""

from __future__ import annotations

from eal import __version__
from tests.support import assert_error


async def test_root_is_a_json_index_linking_the_docs(client):
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "name": "eal",
        "version": __version__,
        "links": {"docs": "/docs", "openapi": "/openapi.json", "health": "/api/v1/health"},
    }
    # Every link answers.
    for link in r.json()["links"].values():
        assert (await client.get(link)).status_code == 200, link


async def test_root_answers_head_and_names_its_methods(client):
    head = await client.head("/")
    assert head.status_code == 200 and head.content == b""
    r = await client.post("/")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, HEAD"


async def test_root_is_in_the_document(client):
    doc = (await client.get("/openapi.json")).json()
    operation = doc["paths"]["/"]["get"]
    assert operation["operationId"] == "index-index"
    assert "security" not in operation
    assert set(operation["responses"]) == {"200", "500"}
