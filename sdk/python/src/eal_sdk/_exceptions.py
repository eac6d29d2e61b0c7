"""The errors the client raises.

Every failure the API reports arrives as the error envelope
``{"error": {"code", "message", "details"}}`` and is raised as the subclass of
:class:`EalError` that matches its HTTP status::

    EalError                       status, code, message, request_id, details
    ├── BadRequestError            400  unparseable request, bad header or parameter
    ├── AuthenticationError        401  missing, unknown or revoked API key
    ├── PermissionDeniedError      403  the key lacks the scope, or no roll-up grant
    ├── NotFoundError              404  no such resource in this organization
    ├── ConflictError              409  resource state, or an Idempotency-Key in use
    ├── ValidationFailedError      422  invalid payload; ``fields`` names each field
    ├── RateLimitedError           429  ``retry_after`` seconds to wait
    ├── ServerError                5xx  the service or an upstream vendor failed
    └── ConnectionFailedError           no response: connect, read or timeout failure
        └── RequestTimeoutError         the request did not finish within the timeout

    WebhookVerificationError       a delivery's signature is missing, wrong or stale

Any other status (405, 413, 415 ...) is raised as :class:`EalError` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EalError(Exception):
    """An error answered by the API, or a request that got no answer.

    ``status`` is the HTTP status (None when no response arrived), ``code`` the
    envelope's machine-readable code, ``request_id`` the ``X-Request-ID`` of the
    request (quote it when reporting a problem), ``details`` the envelope's
    details object.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details: Any = details if details is not None else {}
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        parts = [str(self.status)] if self.status is not None else []
        if self.code:
            parts.append(self.code)
        prefix = " ".join(parts)
        suffix = f" (request {self.request_id})" if self.request_id else ""
        return f"{prefix + ': ' if prefix else ''}{self.message}{suffix}"


class BadRequestError(EalError):
    """400: the request could not be parsed, or a header or parameter is malformed."""


class AuthenticationError(EalError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(EalError):
    """403: the key lacks the scope, or the child organization granted no access."""


class NotFoundError(EalError):
    """404: no such resource (another organization's record is a 404 too)."""


class ConflictError(EalError):
    """409: the resource's state forbids it, or the Idempotency-Key is reused or in flight."""


class ValidationFailedError(EalError):
    """422: the payload is invalid.

    ``fields`` lists ``{"field": ..., "message": ...}`` for each invalid field
    (empty when the refusal is about the request as a whole, e.g. ``suppressed``).
    """

    @property
    def fields(self) -> list[dict[str, str]]:
        """Each invalid field with its message."""
        raw = self.details.get("fields") if isinstance(self.details, dict) else None
        if not isinstance(raw, list):
            return []
        return [
            {"field": str(item.get("field", "")), "message": str(item.get("message", ""))}
            for item in raw
            if isinstance(item, dict)
        ]


class RateLimitedError(EalError):
    """429: the key's request budget is spent; retry after ``retry_after`` seconds."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the service asks to wait (its ``Retry-After`` header), if it said."""
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(EalError):
    """5xx: the service, its database or an upstream vendor failed."""


class ConnectionFailedError(EalError):
    """No response arrived: the connection failed or broke, or the request timed out."""


class RequestTimeoutError(ConnectionFailedError):
    """The request did not complete within the client's timeout."""


class WebhookVerificationError(Exception):
    """A webhook delivery failed verification: missing headers, bad or stale signature."""


_BY_STATUS: dict[int, type[EalError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationFailedError,
    429: RateLimitedError,
}


def error_class(status: int) -> type[EalError]:
    """The exception class for an error response with ``status``."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, EalError)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None if absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)
