"""The outermost ASGI layer: request ids, body size limit, HEAD, response headers, last-resort
errors, the access log and the request metrics.

Written as plain ASGI (not BaseHTTPMiddleware) so it adds no task or copy per
request, and so headers decided deep inside a request (rate limit) reach every
response, error responses included.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, get_contextvars, reset_contextvars

from eal.api.errors import PageRenderer, unexpected_error
from eal.api.route_table import RouteTemplates
from eal.errors import PayloadTooLarge
from eal.metrics import observe_request

log = structlog.get_logger("eal.http")

MAX_BODY_BYTES = 1024 * 1024
#: Routes that take files larger than that: a CSV import of up to 10,000 prospects.
LARGE_BODY_PATHS: dict[str, int] = {"/api/v1/prospects/import": 8 * 1024 * 1024}
#: Path prefixes that take files: signed photo uploads (25 MB photos, checked exactly there).
LARGE_BODY_PREFIXES: tuple[tuple[str, int], ...] = (("/claims/", 25 * 1024 * 1024),)
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"
"""An X-Request-ID the service keeps; any other value is replaced by a generated one."""
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
# On every response: browsers must not guess a type other than the one declared.
_NOSNIFF = (b"x-content-type-options", b"nosniff")
# On every API response: they are a tenant's data, and some carry a secret shown once
# (webhook signing secrets, invite links, API keys), replays included. No cache may keep one.
_NO_STORE = (b"cache-control", b"no-store")
API_PATH_PREFIX = "/api/"


def body_limit(path: str, default: int) -> int:
    """The largest body a request to `path` may send."""
    if path in LARGE_BODY_PATHS:
        return LARGE_BODY_PATHS[path]
    for prefix, limit in LARGE_BODY_PREFIXES:
        if path.startswith(prefix):
            return limit
    return default


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit."""

    def __init__(self, max_bytes: int = MAX_BODY_BYTES) -> None:
        super().__init__(status_code=413, detail=f"Request body exceeds {max_bytes} bytes.")


def new_request_id() -> str:
    """A fresh correlation id."""
    return "req_" + secrets.token_hex(12)


async def _address_decision(scope: Scope) -> Any:
    """Charge the client address's bucket for a response no route rate-limited.

    Requests that reach no endpoint (unknown paths, 405s, oversized bodies)
    still cost a token and still tell the client where it stands.
    """
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    if runtime is None:
        return None
    client = scope.get("client")
    try:
        return await runtime.rate_limiter.hit(f"ip:{client[0] if client else 'unknown'}")
    except Exception:
        log.warning("rate_limit_unavailable", path=scope.get("path"))
        return None


class EdgeMiddleware:
    """Request id, body limit, HEAD, security, rate-limit and id headers, the 500 envelope,
    one access log line per request (`access_log`) and its count and duration (`metrics`)."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = MAX_BODY_BYTES,
        *,
        access_log: bool = True,
        metrics: bool = False,
        pages: tuple[tuple[str, ...], PageRenderer] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.metrics = metrics
        self.pages = pages
        """Path prefixes whose unexpected errors are pages, and their renderer (the console)."""
        self.templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        method = scope["method"]
        head = method == "HEAD"
        if head:
            # HEAD is a GET without its body (RFC 9110, 9.3.2): every GET route answers
            # it with the GET's status and headers. The routes see a copy saying GET;
            # the server's own scope still says HEAD, so it sends no body either.
            scope = {**scope, "method": "GET"}
        request_id = None
        content_length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    request_id = candidate
            elif name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
        request_id = request_id or new_request_id()
        # Every line logged while the request runs carries its ids; the auth step binds
        # the organization once the key is known. Reset at the end: under a test client
        # requests share the caller's context.
        log_context = bind_contextvars(request_id=request_id, organization_id=None)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        if head:
            state["head"] = True
        api = scope["path"].startswith(API_PATH_PREFIX)
        response_started = False
        status: int | None = None
        aborted = False

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                if _NOSNIFF[0] not in present:
                    headers.append(_NOSNIFF)
                if api and _NO_STORE[0] not in present:
                    headers.append(_NO_STORE)
                decision = state.get("rate_limit")
                if decision is None:
                    decision = await _address_decision(scope)
                if decision is not None:
                    for key, value in decision.headers().items():
                        if key.lower().encode("latin-1") not in present:
                            headers.append((key.lower().encode("latin-1"), value.encode("latin-1")))
                message["headers"] = headers
            elif head and message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        max_body_bytes = body_limit(scope["path"], self.max_body_bytes)
        try:
            if content_length is not None and content_length > max_body_bytes:
                await self._send_error(
                    send_with_headers,
                    PayloadTooLarge(
                        f"Request body exceeds {max_body_bytes} bytes.",
                        details={"max_bytes": max_body_bytes},
                    ).envelope(),
                    413,
                )
                return

            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > max_body_bytes:
                        raise BodyTooLarge(max_body_bytes)
                return message

            try:
                await self.app(scope, limited_receive, send_with_headers)
            except Exception as exc:
                error = unexpected_error(exc)
                log.error(
                    "request_failed",
                    request_id=request_id,
                    method=method,
                    route=self.templates.of(scope),  # not the path: it may hold a token
                    error_type=type(exc).__name__,
                    exc_info=error.status_code == 500,
                )
                if response_started:
                    aborted = True  # the client sees a cut transfer, not a clean end
                    raise
                if self.pages is not None and scope["path"].startswith(self.pages[0]):
                    page = self.pages[1](Request(scope), error)
                    await page(scope, receive, send_with_headers)
                    return
                await self._send_error(
                    send_with_headers, error.envelope(), error.status_code, error.headers
                )
        finally:
            if self.access_log or self.metrics:
                elapsed = time.perf_counter() - started
                # The template (/api/v1/leads/{lead_id}), never the path: paths carry
                # invite tokens. Unmatched paths (404) have none.
                route = self.templates.of(scope)
                if self.metrics:
                    observe_request(method, route, status, elapsed)
                if self.access_log:
                    auth = state.get("auth")
                    log.info(
                        "request",
                        method=method,
                        route=route,
                        status=status,
                        duration_ms=round(elapsed * 1000, 3),
                        request_id=request_id,
                        # Without a key, the tenant a vendor hook named, or null.
                        organization_id=(
                            get_contextvars().get("organization_id")
                            if auth is None
                            else str(auth.organization_id)
                        ),
                        **({"aborted": True} if aborted else {}),
                    )
            reset_contextvars(**log_context)

    @staticmethod
    async def _send_error(
        send: Send, body: dict[str, Any], status: int, extra: dict[str, str] | None = None
    ) -> None:
        import orjson

        payload = orjson.dumps(body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
