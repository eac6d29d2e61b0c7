"""The OpenAPI document, made to describe what the API really answers.

FastAPI documents validation failures with its own `HTTPValidationError`
shape; every error here is the envelope `{"error": {"code", "message",
"details"}}`, so the document is rewritten to say so, and lists the errors
every authenticated operation can return.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}

_COMMON_ERRORS = {
    "400": "Malformed request (bad JSON, tampered cursor, bad header).",
    "401": "Missing, unknown or revoked API key.",
    "403": "The key lacks the scope, or no grant covers X-EAL-Organization.",
    "404": "No such resource for this organization (another tenant's id is a 404 too).",
    "409": "Conflict: the resource's state, or an Idempotency-Key reused or still in flight.",
    "413": "Body larger than 1 MiB.",
    "415": "Body is not JSON.",
    "422": "Validation failed; details.fields names each bad field.",
    "429": "Rate limit exceeded; see Retry-After.",
    "500": "Unexpected failure (no internals are returned).",
    "503": "The database is unreachable; retry shortly.",
}


class ErrorBody(BaseModel):
    code: str = Field(examples=["validation_failed"])
    message: str
    details: Any = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """Every error response of the API."""

    error: ErrorBody


_HEADERS = {
    "request_id": {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": "Correlation id; echoed back and stored as the audit entry's correlation_id.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "source": {
        "name": "X-EAL-Source",
        "in": "header",
        "required": False,
        "description": "Declare an automation as the source of changes (audit source).",
        "schema": {"type": "string", "enum": ["api", "n8n"]},
    },
    "idempotency": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Replays the first response of the same key and body within 24 hours.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "organization": {
        "name": "X-EAL-Organization",
        "in": "header",
        "required": False,
        "description": "A parent organization reads this child's data (needs the child's grant).",
        "schema": {"type": "string", "format": "uuid"},
    },
}
# Upstream failures only happen where a vendor is called.
_UPSTREAM = "502"


def _envelope_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ENVELOPE_REF}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the error envelope everywhere."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, ErrorEnvelope):
        schemas[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "eal_live_... or eal_test_...",
        }
    }
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            params = operation.setdefault("parameters", [])
            params.append(_HEADERS["request_id"])
            if method == "post":
                params.append(_HEADERS["idempotency"])
            if method in ("post", "patch", "delete"):
                params.append(_HEADERS["source"])
            if method == "get" and not path.endswith("/health"):
                params.append(_HEADERS["organization"])
            responses = operation.setdefault("responses", {})
            if path.endswith("/push-to-crm"):
                responses[_UPSTREAM] = _envelope_response("The CRM vendor failed; retry later.")
            for status, description in _COMMON_ERRORS.items():
                if status in ("401", "403") and path.startswith("/api/v1/invites/"):
                    continue
                responses[status] = _envelope_response(description)
            if path.endswith("/health"):
                operation["security"] = [{}, {"bearer": []}]  # the key is optional
            elif not path.startswith("/api/v1/invites/"):
                operation["security"] = [{"bearer": []}]
    app.openapi_schema = doc
    return doc
