"""The one error family of the API, mapped once to the JSON envelope.

Every failure a client can see is an `AppError` subclass rendered as
`{"error": {"code", "message", "details"}}` with the matching HTTP status.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the API reports to a client."""

    status_code: int = 400
    code: str = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body for this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidRequest(AppError):
    status_code = 400
    code = "invalid_request"


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"

    def __init__(
        self, message: str, *, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        # A 401 names the scheme the client must use (RFC 9110, section 11.6.1).
        super().__init__(
            message, details=details, headers={"WWW-Authenticate": "Bearer", **(headers or {})}
        )


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class MethodNotAllowed(AppError):
    status_code = 405
    code = "method_not_allowed"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_failed"


class Suppressed(AppError):
    """The recipient is on the suppression list: nothing is sent to them."""

    status_code = 422
    code = "suppressed"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


class InternalError(AppError):
    status_code = 500
    code = "internal_error"


class BadGateway(AppError):
    """An upstream vendor (CRM, SMS, ...) failed; the request may be retried."""

    status_code = 502
    code = "upstream_error"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


def field_error(field: str, message: str) -> ValidationFailed:
    """A 422 naming one bad field, in the same shape as request validation errors."""
    return ValidationFailed(
        f"{field}: {message}", details={"fields": [{"field": field, "message": message}]}
    )
