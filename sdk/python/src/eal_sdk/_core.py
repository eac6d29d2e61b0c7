"""Sending requests: headers, retries with backoff, and errors from the envelope.

Retries. A request is retried (up to ``max_retries`` times) when retrying cannot
do it twice:

* a 429, or a connection that could not be opened: the service never ran it;
* a 502, a 503, or a connection that broke or timed out mid-request, for GET,
  HEAD, PUT, DELETE and OPTIONS, and for POST, because every POST carries an
  ``Idempotency-Key`` that stays the same across its retries: the service runs
  the first attempt that reaches it and replays that response to the others.

PATCH is never retried after it may have reached the service. The wait before
retry ``n`` (from 0) is a random time in ``[0, min(8, 0.5 * 2**n)]`` seconds
(exponential backoff with full jitter), or the ``Retry-After`` the service sent
when that is longer; a ``Retry-After`` above ``MAX_RETRY_AFTER`` is not waited
for, the error is raised at once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from eal_sdk._exceptions import (
    ConnectionFailedError,
    EalError,
    RequestTimeoutError,
    error_class,
    parse_retry_after,
)
from eal_sdk._version import __version__

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 2
MAX_RETRY_AFTER: Final = 60.0
BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 8.0

_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUSES: Final = frozenset({502, 503})

M = TypeVar("M", bound=BaseModel)


class NotGiven:
    """The default of an optional body field: leave the field out of the request.

    Distinct from ``None``, which sends ``null`` (clearing a field on update).
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: models by their aliases, UUIDs and datetimes as strings."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the given fields, leaving out those not given."""
    return {name: jsonable(v) for name, v in fields.items() if not isinstance(v, NotGiven)}


def query(**params: Any) -> dict[str, Any]:
    """Query parameters, leaving out None; lists repeat the parameter."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = jsonable(value)
    return out


def segment(value: object) -> str:
    """A path parameter, percent-encoded so it stays one segment."""
    return quote(str(value), safe="")


def backoff_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    delay = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def sleep(seconds: float) -> None:
    """Wait between retries (a function of its own so tests can skip the wait)."""
    time.sleep(seconds)


async def async_sleep(seconds: float) -> None:
    """Wait between retries of the async client."""
    await asyncio.sleep(seconds)


def _error_from_response(response: httpx.Response, request_id: str) -> EalError:
    code: str | None = None
    message = response.reason_phrase or f"HTTP {response.status_code}"
    details: Any = None
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and isinstance(envelope.get("error"), dict):
        error = envelope["error"]
        code = str(error["code"]) if error.get("code") is not None else None
        message = str(error.get("message") or message)
        details = error.get("details")
    cls = error_class(response.status_code)
    return cls(
        message,
        status=response.status_code,
        code=code,
        request_id=response.headers.get("x-request-id", request_id),
        details=details,
        headers={k.lower(): v for k, v in response.headers.items()},
    )


def _connection_error(exc: httpx.TransportError, request_id: str) -> ConnectionFailedError:
    cls = RequestTimeoutError if isinstance(exc, httpx.TimeoutException) else ConnectionFailedError
    return cls(f"{type(exc).__name__}: {exc}", request_id=request_id)


def _never_sent(exc: httpx.TransportError) -> bool:
    # The request did not leave: retrying cannot run it twice, whatever its method.
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class _Base:
    """What both clients share: configuration, headers, retry decisions."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        timeout: float | httpx.Timeout,
        max_retries: int,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.api_key = api_key
        # The spec writes the base URL with its /api/v1 suffix; paths carry it already.
        self.base_url = base_url.rstrip("/").removesuffix("/api/v1")
        self.timeout = timeout
        self.max_retries = max_retries

    def _headers(
        self,
        method: str,
        request_id: str,
        organization: object | None,
        idempotency_key: str | None,
    ) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"eal-sdk-python/{__version__}",
            "X-Request-ID": request_id,
        }
        if organization is not None:
            headers["X-EAL-Organization"] = str(organization)
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or f"sdk_{uuid.uuid4().hex}"
        return headers

    def _retry_response(self, method: str, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``response``, or None to stop."""
        if attempt >= self.max_retries:
            return None
        status = response.status_code
        if status != 429 and not (
            status in _RETRY_STATUSES and (method in _IDEMPOTENT_METHODS or method == "POST")
        ):
            return None
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            return None
        return backoff_delay(attempt, retry_after)

    def _retry_error(self, method: str, exc: httpx.TransportError, attempt: int) -> float | None:
        """Seconds to wait before retrying after a transport failure, or None to stop."""
        if attempt >= self.max_retries:
            return None
        if _never_sent(exc) or method in _IDEMPOTENT_METHODS or method == "POST":
            return backoff_delay(attempt, None)
        return None


class SyncAPI(_Base):
    """The request machinery of :class:`eal_sdk.EalClient`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        timeout: float | httpx.Timeout,
        max_retries: int,
        transport: httpx.BaseTransport | None,
        http_client: httpx.Client | None,
    ) -> None:
        super().__init__(api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connections (only those of an HTTP client this client created)."""
        if self._owns_http:
            self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        content_type: str | None = None,
        organization: object | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one API request (with retries); return its 2xx response or raise EalError."""
        request_id = f"sdk_{uuid.uuid4().hex}"
        headers = self._headers(method, request_id, organization, idempotency_key)
        if content_type is not None:
            headers["Content-Type"] = content_type
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=headers,
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                delay = self._retry_error(method, exc, attempt)
                if delay is None:
                    raise _connection_error(exc, request_id) from exc
            else:
                if response.is_success:
                    return response
                delay = self._retry_response(method, response, attempt)
                if delay is None:
                    raise _error_from_response(response, request_id)
                response.close()
            sleep(delay)
            attempt += 1

    def call(self, method: str, path: str, cast: type[M], **kwargs: Any) -> M:
        """Send a request and parse its JSON body as ``cast``."""
        return cast.model_validate(self.request(method, path, **kwargs).json())

    def call_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send a request and return its JSON object body."""
        data: dict[str, Any] = self.request(method, path, **kwargs).json()
        return data

    def call_text(self, method: str, path: str, **kwargs: Any) -> str:
        """Send a request and return its body as text (CSV, JSON lines)."""
        return self.request(method, path, **kwargs).text

    def call_bytes(self, method: str, path: str, **kwargs: Any) -> bytes:
        """Send a request and return its raw body (recordings)."""
        return self.request(method, path, **kwargs).content


class AsyncAPI(_Base):
    """The request machinery of :class:`eal_sdk.AsyncEalClient`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        timeout: float | httpx.Timeout,
        max_retries: int,
        transport: httpx.AsyncBaseTransport | None,
        http_client: httpx.AsyncClient | None,
    ) -> None:
        super().__init__(api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        """Close the connections (only those of an HTTP client this client created)."""
        if self._owns_http:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: str | bytes | None = None,
        content_type: str | None = None,
        organization: object | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one API request (with retries); return its 2xx response or raise EalError."""
        request_id = f"sdk_{uuid.uuid4().hex}"
        headers = self._headers(method, request_id, organization, idempotency_key)
        if content_type is not None:
            headers["Content-Type"] = content_type
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=headers,
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                delay = self._retry_error(method, exc, attempt)
                if delay is None:
                    raise _connection_error(exc, request_id) from exc
            else:
                if response.is_success:
                    return response
                delay = self._retry_response(method, response, attempt)
                if delay is None:
                    raise _error_from_response(response, request_id)
                await response.aclose()
            await async_sleep(delay)
            attempt += 1

    async def call(self, method: str, path: str, cast: type[M], **kwargs: Any) -> M:
        """Send a request and parse its JSON body as ``cast``."""
        return cast.model_validate((await self.request(method, path, **kwargs)).json())

    async def call_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send a request and return its JSON object body."""
        data: dict[str, Any] = (await self.request(method, path, **kwargs)).json()
        return data

    async def call_text(self, method: str, path: str, **kwargs: Any) -> str:
        """Send a request and return its body as text (CSV, JSON lines)."""
        return (await self.request(method, path, **kwargs)).text

    async def call_bytes(self, method: str, path: str, **kwargs: Any) -> bytes:
        """Send a request and return its raw body (recordings)."""
        return (await self.request(method, path, **kwargs)).content
