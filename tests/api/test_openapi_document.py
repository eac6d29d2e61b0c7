"""The OpenAPI document states the rules the server applies (schemathesis checks the rest live)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest

from eal.api.middleware import REQUEST_ID_PATTERN
from eal.kit.cursor import MAX_LIMIT
from eal.kit.identity import Source


@pytest.fixture
async def doc(client: Any) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    return found


def _component(doc: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][name]
    return schema


def _validator(doc: dict[str, Any], ref: str) -> Any:
    return jsonschema_rs.Draft202012Validator({"$ref": ref, "components": doc["components"]})


async def test_every_request_body_has_examples_its_schema_accepts(doc):
    bodies = [
        (method, path, content["schema"]["$ref"])
        for method, path, operation in _operations(doc)
        for content in operation.get("requestBody", {}).get("content", {}).values()
    ]
    assert len(bodies) >= 8
    problems = []
    for method, path, ref in bodies:
        examples = _component(doc, ref.rsplit("/", 1)[-1]).get("examples")
        if not examples:
            problems.append(f"{method.upper()} {path}: no example")
        validator = _validator(doc, ref)
        problems += [
            f"{method.upper()} {path}: invalid example {example}"
            for example in examples or ()
            if not validator.is_valid(example)
        ]
    assert problems == []


async def test_page_limits_and_the_audit_sources_are_the_servers(doc):
    for _method, path, operation in _operations(doc):
        names = {p["name"] for p in operation.get("parameters", [])}
        if "limit" in names and "cursor" in names:
            limit = _parameter(operation, "limit")["schema"]
            assert (limit["minimum"], limit["maximum"]) == (1, MAX_LIMIT), path
    source = _parameter(doc["paths"]["/api/v1/audit-log"]["get"], "source")["schema"]
    assert source["enum"] == [s.value for s in Source]


async def test_request_headers_carry_the_rules_the_server_applies(doc):
    create = doc["paths"]["/api/v1/leads"]["post"]
    key = _parameter(create, "Idempotency-Key")["schema"]
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    for accepted in ("retry-1", "a b", "~"):
        assert re.search(key["pattern"], accepted)
    for refused in (" edge", "tab\there", "é"):
        assert not re.search(key["pattern"], refused)
    assert _parameter(create, "X-Request-ID")["schema"]["pattern"] == REQUEST_ID_PATTERN
    assert _parameter(create, "X-EAL-Source")["schema"]["enum"] == ["api", "n8n"]
    headers = create["responses"]["201"]["headers"]
    assert {"X-Request-ID", "Cache-Control", "Idempotent-Replayed"} <= set(headers)
    assert doc["components"]["headers"]["X-Request-ID"]["required"] is True
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert "WWW-Authenticate" in create["responses"]["401"]["headers"]


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("LeadUpdate", ("lead_score", "pipeline_stage")),
        ("OrganizationUpdate", ("name", "settings")),
        ("SettingsIn", ("timezone", "default_locale")),
        ("WebhookUpdate", ("events", "enabled")),
    ],
)
async def test_fields_that_refuse_null_are_not_nullable(doc, model, fields):
    validator = _validator(doc, f"#/components/schemas/{model}")
    for field in fields:
        assert not validator.is_valid({field: None}), f"{model}.{field}"


async def test_contact_and_list_rules_are_in_the_schemas(doc):
    lead = _validator(doc, "#/components/schemas/LeadCreate")
    assert lead.is_valid({"email": "dana@example.com"})
    assert lead.is_valid({"name": "Dana", "company": "Acme"})
    assert not lead.is_valid({"name": "Dana"})
    assert not lead.is_valid({"name": " ", "company": "Acme"})
    webhook = _validator(doc, "#/components/schemas/WebhookCreate")
    assert not webhook.is_valid({"url": "https://example.com/hook", "events": []})
    assert not webhook.is_valid({"url": "https://example.com/hook", "events": ["nope"]})
    weather = _validator(doc, "#/components/schemas/WeatherEventCreate")
    body = {"event_type": "storm", "occurred_at": "2026-04-26T21:00:00Z"}
    assert weather.is_valid({**body, "postal_codes": ["30075-1234"]})
    assert not weather.is_valid({**body, "postal_codes": ["3007"]})


async def test_each_operation_documents_the_errors_it_can_answer(doc):
    for _method, path, operation in _operations(doc):
        if not path.startswith("/api/"):
            continue
        statuses = set(operation["responses"])
        assert {"400", "422", "429", "500", "503"} <= statuses, path
        if "security" in operation:
            assert "401" in statuses, path
        assert ("404" in statuses) == ("{" in path), path
        for status, response in operation["responses"].items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}
    push = doc["paths"]["/api/v1/leads/{lead_id}/push-to-crm"]["post"]
    assert "502" in push["responses"]
