"""The OpenAPI document, made to describe what the API really answers.

FastAPI documents validation failures with its own `HTTPValidationError`
shape; every error here is the envelope `{"error": {"code", "message",
"details"}}`, so the document is rewritten to say so. It lists the errors
each operation can return (by its method, path and authentication), the
request headers the service reads, with the rules it applies to them, and
the headers every response carries.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from eal.api.middleware import REQUEST_ID_PATTERN
from eal.kit.idempotency import MAX_KEY_LENGTH

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}

_ERRORS = {
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

UPSTREAM_ERROR: dict[int | str, dict[str, Any]] = {
    502: {"description": "The vendor failed (nothing was changed here); retry later."}
}
"""`responses=` of a route that calls a vendor: its failure is a 502 envelope."""

DESCRIPTION = """\
Rules that apply to every operation, beyond what each schema says:

- Text (bodies, query and path parameters) must not contain NUL (U+0000) or
  invalid UTF-8: a 422 naming the field.
- Body strings are stripped of surrounding whitespace before they are checked;
  optional text fields sent blank mean "not given".
- `cursor` takes only the `next_cursor` of a previous page (anything else is a 400).
- Ranges: `start_at` must not be after `end_at`, `form_submitted_at` not before
  `form_started_at`; times that must be past or future say so in their field.
- URLs an organization chooses (webhooks, vendor base URLs) must resolve, when
  saved and at every connection, to public addresses only.
"""

BODY_METHODS = ("post", "put", "patch")


class ErrorBody(BaseModel):
    code: str = Field(examples=["validation_failed"])
    message: str
    details: Any = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """Every error response of the API."""

    error: ErrorBody


_PARAMETERS: dict[str, dict[str, Any]] = {
    "RequestId": {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": "Correlation id; echoed back and stored as the audit entry's "
        "correlation_id. A value outside this pattern is replaced by a generated id.",
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
    },
    "Source": {
        "name": "X-EAL-Source",
        "in": "header",
        "required": False,
        "description": "Declare an automation as the source of changes (audit source); "
        "any other value is a 400.",
        "schema": {"type": "string", "enum": ["api", "n8n"]},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Replays the first response of the same key and body within 24 hours "
        "(with Idempotent-Replayed: true); another body, or the first request still running, "
        f"is a 409. 1 to {MAX_KEY_LENGTH} printable characters, else a 400.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_LENGTH,
            # Visible ASCII, spaces inside only: a server strips a header's edges.
            "pattern": "^[!-~]([ -~]*[!-~])?$",
        },
    },
    "Organization": {
        "name": "X-EAL-Organization",
        "in": "header",
        "required": False,
        "description": "A parent organization reads this child's data (needs the child's "
        "grant; a 403 otherwise). Not a UUID: a 400.",
        "schema": {"type": "string", "format": "uuid"},
    },
}

_COUNT = {"type": "integer", "minimum": 0}
_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's correlation id (sent, or generated).",
        "required": True,
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
    },
    "X-Content-Type-Options": {
        "description": "Browsers must not guess another content type.",
        "required": True,
        "schema": {"type": "string", "enum": ["nosniff"]},
    },
    "Cache-Control": {
        "description": "API responses are never stored by a cache (some carry a secret once).",
        "required": True,
        "schema": {"type": "string", "enum": ["no-store"]},
    },
    "X-RateLimit-Limit": {"description": "Requests the bucket holds.", "schema": _COUNT},
    "X-RateLimit-Remaining": {"description": "Requests left in the bucket.", "schema": _COUNT},
    "X-RateLimit-Reset": {"description": "Seconds until the bucket is full.", "schema": _COUNT},
    "RateLimit-Policy": {
        "description": 'draft-ietf-httpapi-ratelimit-headers: "default";q=<burst>;w=<seconds>.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'draft-ietf-httpapi-ratelimit-headers: "default";r=<left>;t=<seconds>.',
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with.",
        "required": True,
        "schema": {"type": "string", "enum": ["Bearer"]},
    },
    "Idempotent-Replayed": {
        "description": "Present on a replay of the first response of an Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_EVERY_RESPONSE = (
    "X-Request-ID",
    "X-Content-Type-Options",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
_BY_STATUS = {"401": ("WWW-Authenticate",), "429": ("Retry-After",), "503": ("Retry-After",)}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error_statuses(method: str, path: str, anonymous: bool, optional_key: bool) -> list[str]:
    """The statuses of the envelope errors an operation can answer."""
    if not path.startswith("/api/"):
        return ["500"]  # the service's own pages: no key, no parameters, no database
    statuses = ["400", "422", "429", "500", "503"]
    if not anonymous:
        statuses.append("401")
        if not optional_key:
            statuses.append("403")
    if "{" in path:
        statuses.append("404")
    if method != "get":
        statuses.append("409")
    if method in BODY_METHODS:
        statuses += ["413", "415"]
    return sorted(statuses)


def _response_headers(method: str, path: str, status: str) -> dict[str, Any]:
    names = list(_EVERY_RESPONSE)
    if path.startswith("/api/"):
        names.append("Cache-Control")
    names += _BY_STATUS.get(status, ())
    if method == "post" and status.startswith("2"):
        names.append("Idempotent-Replayed")
    return {name: _ref("headers", name) for name in names}


def _document_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    anonymous = not path.startswith("/api/") or path.startswith("/api/v1/invites/")
    optional_key = path.endswith("/health")
    names = ["RequestId"]
    if method == "post":
        names.append("IdempotencyKey")
    if method in ("post", "patch", "put", "delete") and not anonymous:
        names.append("Source")
    if method == "get" and not optional_key and not anonymous:
        names.append("Organization")
    # Inline, not referenced: clients and tools read a parameter's name where it is used.
    operation.setdefault("parameters", []).extend(copy.deepcopy(_PARAMETERS[n]) for n in names)

    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in _error_statuses(method, path, anonymous, optional_key):
        responses.setdefault(status, {"description": _ERRORS[status]})
    for status, response in responses.items():
        if status[0] in "45":
            # Declared by the route or here: either way its body is the envelope.
            response.setdefault("description", _ERRORS.get(status, "Error."))
            response["content"] = {"application/json": {"schema": ENVELOPE_REF}}
        headers = response.setdefault("headers", {})
        for name, header in _response_headers(method, path, status).items():
            headers.setdefault(name, header)

    if optional_key:
        operation["security"] = [{}, {"bearer": []}]  # the key is optional
    elif not anonymous:
        operation["security"] = [{"bearer": []}]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the error envelope, request and response headers."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description or DESCRIPTION,
        routes=app.routes,
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for model in (ErrorBody, ErrorEnvelope):
        schemas[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "eal_live_... or eal_test_...",
        }
    }
    components["headers"] = copy.deepcopy(_HEADERS)
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            # A body that is no Pydantic model (a CSV file) brings its schema this way.
            schemas.update(operation.pop("x-eal-schemas", {}))
            _document_operation(method, path, operation)
    app.openapi_schema = doc
    return doc
