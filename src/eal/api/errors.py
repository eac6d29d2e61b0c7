"""Rendering every failure as the API's error envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from eal.api.responses import FastJSONResponse
from eal.api.route_table import allowed_methods
from eal.errors import (
    AppError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

log = structlog.get_logger(__name__)

_STATUS_ERRORS: dict[int, type[AppError]] = {
    400: InvalidRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def error_response(error: AppError) -> Response:
    """The envelope response for an AppError."""
    return FastJSONResponse(error.envelope(), status_code=error.status_code, headers=error.headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError) -> AppError:
    """Map FastAPI/Pydantic validation errors to 400 (unparseable) or 422 (invalid)."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return InvalidRequest(
            "The request body is not valid JSON.", details={"body": "malformed JSON"}
        )
    fields = []
    for e in errors:
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            message = "unknown field"
        fields.append({"field": _field_name(tuple(e.get("loc", ()))), "message": message})
    return fields_failed(fields)


def fields_failed(fields: list[dict[str, str]]) -> ValidationFailed:
    """The 422 naming each bad field (`{"field", "message"}` each), as validation renders it."""
    names = ", ".join(dict.fromkeys(f["field"] for f in fields))
    return ValidationFailed(f"Invalid request: {names}", details={"fields": fields})


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors meaning the database cannot be reached right now."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | ConnectionError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # The driver's own error ("the database system is starting up") caused .orig.
        cause = getattr(exc.orig, "__cause__", None)
        if cause is not None and cause is not exc:
            return is_database_unavailable(cause)
    if isinstance(exc, OSError):
        return True
    name = type(exc).__name__
    if name == "InternalClientError":
        # The driver's protocol states left by a server that went away: not
        # connected, failed, or still consuming after the error a dying backend
        # sends unasked (asyncpg's state 2); not a statement that was wrong.
        message = str(exc)
        return (
            "not connected" in message
            or '"failed" state' in message
            or "another operation (2) is in progress" in message
        )
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "CrashShutdownError",
    }


def unexpected_error(exc: BaseException) -> AppError:
    """The client-facing error for an unexpected exception (no internals leak)."""
    if is_database_unavailable(exc):
        return ServiceUnavailable(
            "The database is unavailable; retry shortly.", headers={"Retry-After": "5"}
        )
    return InternalError("An unexpected error occurred. It has been logged.")


PageRenderer = Callable[[Request, AppError], Response]
"""Renders an error as a web page (the console's paths)."""


def install_error_handlers(
    app: FastAPI, *, pages: tuple[tuple[str, ...], PageRenderer] | None = None
) -> None:
    """Register the envelope renderers on the app.

    `pages` names path prefixes whose errors are rendered as pages instead, and
    the renderer; the status and headers stay those of the envelope.
    """

    def render(request: Request, error: AppError) -> Response:
        if pages is not None and request.url.path.startswith(pages[0]):
            return pages[1](request, error)
        return error_response(error)

    async def on_app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return render(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(request, validation_error(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        cls = _STATUS_ERRORS.get(exc.status_code, InvalidRequest)
        method = "HEAD" if getattr(request.state, "head", False) else request.method
        messages = {
            404: f"No route for {method} {request.url.path}.",
            405: f"Method {method} is not allowed on {request.url.path}.",
        }
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's wording for bodies it cannot decode (bad UTF-8, nesting too deep).
            messages[400] = "The request body is not valid JSON."
        message = messages.get(exc.status_code) or str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request.app, request.scope)
        error = cls(message, headers=headers)
        if exc.status_code not in _STATUS_ERRORS:
            error.status_code = exc.status_code
        return render(request, error)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
