"""The CallRail API v3 client: the calls list and recordings (see
:mod:`eal.integrations.callrail`)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from eal.integrations.callrail._payload import CallRailCall, CallRailPayloadError, parse_call
from eal.integrations.crm import redact, response_detail
from eal.kit.outbound import OutboundClient, UnsafeUrl, check_url_form

__all__ = [
    "CALL_FIELDS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RECORDING_BYTES",
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_PAGE_SIZE",
    "RECORDING_TIMEOUT_SECONDS",
    "CallRailAuthError",
    "CallRailClient",
    "CallRailError",
    "CallRailRecording",
]

DEFAULT_BASE_URL = "https://api.callrail.com/v3"
MAX_PAGE_SIZE = 250
DEFAULT_TIMEOUT_SECONDS = 30.0
#: A recording download may take longer than an API call: seconds between bytes.
RECORDING_TIMEOUT_SECONDS = 60.0
#: The largest recording :meth:`CallRailRecording.read` returns: OpenAI's upload limit
#: for transcription, about 25 minutes of CallRail's MP3 audio.
DEFAULT_MAX_RECORDING_BYTES = 25 * 1024 * 1024

CALL_FIELDS: Final[tuple[str, ...]] = ("call_type", "transcription", "zip_code")
"""Additional fields the calls list asks for (the default fields come anyway)."""

_MAX_DETAIL_CHARS = 200
_TRANSIENT_4XX = frozenset({408, 429})
# CallRail ids are "ACC..." (masked) or digits (legacy): nothing else belongs in a path.
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_JSON_BYTES = 1024 * 1024
# Types a recording may be served as -> the extension transcription servers expect.
_AUDIO_EXTENSIONS: Final[Mapping[str, str]] = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mpga": ".mp3",
    "audio/wav": ".wav",
    "audio/wave": ".wav",
    "audio/x-wav": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/ogg": ".ogg",
    "audio/webm": ".webm",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/mp4": ".m4a",
    "audio/m4a": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
}


class CallRailError(Exception):
    """A CallRail request failed; ``transient`` says whether retrying later may help."""

    def __init__(
        self, message: str, *, status_code: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.transient = transient

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"transient={self.transient!r})"
        )


class CallRailAuthError(CallRailError):
    """CallRail refused the API key (HTTP 401/403)."""


class CallRailRecording:
    """An open recording download: its type, its announced size and its bytes as they arrive.

    Valid inside the ``async with`` of :meth:`CallRailClient.recording`.
    """

    def __init__(self, response: httpx.Response, *, what: str) -> None:
        self._response = response
        self._what = what
        content_type = response.headers.get("content-type", "")
        self.content_type: str = (
            content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"
        )
        length = response.headers.get("content-length", "")
        self.content_length: int | None = int(length) if length.isdigit() else None

    @property
    def filename(self) -> str:
        """A file name whose extension names the audio format, e.g. ``recording.mp3``
        (transcription servers read the format from it). An untyped download is
        named ``.mp3``: the format CallRail records in."""
        return "recording" + _AUDIO_EXTENSIONS.get(self.content_type, ".mp3")

    async def iter_bytes(self, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """The audio as it arrives. Raises CallRailError (transient) if the download breaks."""
        try:
            async for chunk in self._response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.TimeoutException as exc:
            raise CallRailError(f"{self._what} timed out", transient=True) from exc
        except httpx.TransportError as exc:
            raise CallRailError(
                f"{self._what} broke off: {type(exc).__name__}", transient=True
            ) from exc

    async def read(self, *, max_bytes: int = DEFAULT_MAX_RECORDING_BYTES) -> bytes:
        """The whole recording; CallRailError (not transient) if it is larger than ``max_bytes``."""
        if self.content_length is not None and self.content_length > max_bytes:
            raise self._too_large(max_bytes)
        data = bytearray()
        async for chunk in self.iter_bytes():
            data += chunk
            if len(data) > max_bytes:
                raise self._too_large(max_bytes)
        return bytes(data)

    def _too_large(self, max_bytes: int) -> CallRailError:
        return CallRailError(f"{self._what} is larger than {max_bytes} bytes")


class CallRailClient:
    """CallRail API v3 for one account: the calls list, and recordings.

    ``http`` is shared (its pool is reused, it is never closed here) and
    should be the outbound policy's client; redirects are followed here, not
    by it. ``base_url`` is for tests and proxies.
    """

    def __init__(
        self,
        api_key: str,
        account_id: str,
        http: httpx.AsyncClient,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        recording_timeout: float = RECORDING_TIMEOUT_SECONDS,
    ) -> None:
        if not api_key or any(ch.isspace() or ch == '"' or ord(ch) < 0x20 for ch in api_key):
            raise ValueError("CallRail API key must be non-empty, without spaces or quotes")
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise ValueError("CallRail account id must be letters, digits, '-' or '_'")
        if timeout <= 0 or recording_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self._api_key = api_key
        self._account_id = account_id
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(timeout)
        self._recording_timeout = httpx.Timeout(recording_timeout, connect=min(10.0, timeout))
        # Where redirects may lead: https, or also http when the policy allows private targets.
        self._allow_private = isinstance(http, OutboundClient) and http.policy.allow_private

    def __repr__(self) -> str:
        # Never show the key, even in debug output.
        return f"CallRailClient(account_id={self._account_id!r}, base_url={self._base_url!r})"

    async def calls(
        self,
        since: date,
        *,
        until: date | None = None,
        page_size: int = MAX_PAGE_SIZE,
        fields: Sequence[str] = CALL_FIELDS,
        relative_pagination: bool = False,
    ) -> AsyncIterator[CallRailCall]:
        """Every call of the account from ``since`` (to ``until``, both days included),
        page by page, newest first as CallRail lists them.

        ``page_size`` is 1-250; ``fields`` names additional fields to ask for.
        Offset pagination by default; ``relative_pagination`` uses CallRail's
        relative pages, whose ``next_page`` must stay under ``base_url``. A
        call that arrives while paging can be listed twice (callers are
        idempotent by call id). Raises CallRailError, and
        CallRailPayloadError for a call that is malformed.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
        if until is not None and until < since:
            raise ValueError("until must not be before since")
        params: dict[str, str] = {"start_date": since.isoformat(), "per_page": str(page_size)}
        if until is not None:
            params["end_date"] = until.isoformat()
        if fields:
            params["fields"] = ",".join(fields)
        url = f"{self._base_url}/a/{quote(self._account_id, safe='')}/calls.json"
        if relative_pagination:
            params["relative_pagination"] = "true"
            async for call in self._relative_pages(url, params):
                yield call
            return
        page = 1
        while True:
            body = await self._get_json(url, {**params, "page": str(page)}, what="calls list")
            for call in _page_calls(body, page):
                yield call
            total_pages = body.get("total_pages")
            if isinstance(total_pages, bool) or not isinstance(total_pages, int):
                raise CallRailError("CallRail calls list answered without total_pages")
            if page >= total_pages or not body.get("calls"):
                return
            page += 1

    async def _relative_pages(
        self, url: str, params: dict[str, str]
    ) -> AsyncIterator[CallRailCall]:
        seen: set[str] = set()
        page = 1
        next_url: str | None = url
        query: dict[str, str] | None = params
        while next_url is not None:
            body = await self._get_json(next_url, query, what="calls list")
            for call in _page_calls(body, page):
                yield call
            if body.get("has_next_page") is not True:
                return
            link = body.get("next_page")
            if not isinstance(link, str) or not link:
                raise CallRailError("CallRail calls list has a next page but no next_page")
            next_url = str(httpx.URL(next_url).join(link))
            if not self._is_api_url(next_url):
                raise CallRailError("CallRail next_page points outside the API base URL")
            if next_url in seen:
                raise CallRailError("CallRail next_page repeats a page already read")
            seen.add(next_url)
            query = None  # next_page carries the whole query
            page += 1

    @asynccontextmanager
    async def recording(self, url: str) -> AsyncIterator[CallRailRecording]:
        """Open the recording at ``url`` (a call's ``recording``) for streaming.

        Use as ``async with client.recording(url) as audio:``. An API
        ``recording.json`` URL is read for the URL it names; at most one HTTP
        redirect is then followed, to an ``https`` URL (or ``http`` when the
        policy allows private targets), through the same client. Raises
        CallRailError (404: no such recording; an answer that is JSON or a web
        page instead of audio) and UnsafeUrl for a refused target.
        """
        what = f"CallRail recording {_display(url)}"
        current = self._checked(url)
        redirects_left, lookups_left = 1, 1
        while True:
            response = await self._open(current, what)
            if response.is_redirect:
                location = response.headers.get("location", "")
                await response.aclose()
                if redirects_left == 0:
                    raise CallRailError(f"{what} redirected more than once")
                redirects_left -= 1
                current = self._checked(str(response.url.join(location)))
                continue
            if response.is_success and _is_json(response) and lookups_left:
                lookups_left -= 1
                current = self._checked(await self._recording_link(response, what))
                continue
            break
        try:
            if not response.is_success:
                await response.aread()
                raise self._status_error(what, response)
            if _is_json(response) or response.headers.get("content-type", "").startswith(
                "text/html"
            ):
                raise CallRailError(
                    f"{what} answered {response.headers['content-type']}, not audio"
                )
            yield CallRailRecording(response, what=what)
        finally:
            await response.aclose()

    async def _recording_link(self, response: httpx.Response, what: str) -> str:
        try:
            raw = await self._read_limited(response, what)
        finally:
            await response.aclose()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        link = data.get("url") if isinstance(data, dict) else None
        if not isinstance(link, str) or not link:
            raise CallRailError(f"{what} answered JSON without a recording url")
        return str(response.url.join(link))

    def _checked(self, url: str) -> str:
        # Form only; the policy client checks the address itself when connecting.
        check_url_form(url, allow_private=self._allow_private)
        return url

    def _is_api_url(self, url: str) -> bool:
        target, base = httpx.URL(url), httpx.URL(self._base_url + "/")
        same_origin = (target.scheme, target.host, target.port) == (
            base.scheme,
            base.host,
            base.port,
        )
        return same_origin and bool(target.path.startswith(base.path))

    def _headers(self, url: str, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self._is_api_url(url):
            headers["Authorization"] = f'Token token="{self._api_key}"'
        return headers

    async def _open(self, url: str, what: str) -> httpx.Response:
        request = self._http.build_request(
            "GET",
            url,
            headers=self._headers(url, "audio/*, application/json;q=0.9, */*;q=0.5"),
            timeout=self._recording_timeout,
        )
        return await self._send(request, what, stream=True)

    async def _get_json(
        self, url: str, params: Mapping[str, str] | None, *, what: str
    ) -> dict[str, Any]:
        label = f"CallRail {what}"
        request = self._http.build_request(
            "GET",
            url,
            params=params,
            headers=self._headers(url, "application/json"),
            timeout=self._timeout,
        )
        response = await self._send(request, label, stream=True)
        try:
            if not response.is_success:
                await response.aread()
                raise self._status_error(label, response)
            raw = await self._read_limited(response, label)
        finally:
            await response.aclose()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise CallRailError(
                f"{label} answered a body that is not a JSON object",
                status_code=response.status_code,
                transient=True,
            )
        return body

    async def _send(self, request: httpx.Request, what: str, *, stream: bool) -> httpx.Response:
        try:
            return await self._http.send(request, stream=stream, follow_redirects=False)
        except UnsafeUrl:
            # The outbound policy refused the address: not CallRail's failure,
            # and not worth a retry (it is also an httpx.ConnectError, so first).
            raise
        except httpx.TimeoutException as exc:
            raise CallRailError(f"{what} timed out", transient=True) from exc
        except httpx.TransportError as exc:
            detail = redact(str(exc), self._api_key)[:_MAX_DETAIL_CHARS]
            raise CallRailError(
                f"{what} failed: {type(exc).__name__}: {detail}", transient=True
            ) from exc

    async def _read_limited(self, response: httpx.Response, what: str) -> bytes:
        data = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > _MAX_JSON_BYTES:
                    raise CallRailError(f"{what} answered more than {_MAX_JSON_BYTES} bytes")
        except httpx.TimeoutException as exc:
            raise CallRailError(f"{what} timed out", transient=True) from exc
        except httpx.TransportError as exc:
            raise CallRailError(f"{what} broke off: {type(exc).__name__}", transient=True) from exc
        return bytes(data)

    def _status_error(self, what: str, response: httpx.Response) -> CallRailError:
        status = response.status_code
        detail = response_detail(response, self._api_key, limit=_MAX_DETAIL_CHARS)
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return CallRailAuthError(
                f"{what} was refused (HTTP {status}): check the CallRail API key{suffix}",
                status_code=status,
            )
        transient = status >= 500 or status in _TRANSIENT_4XX
        verb = "failed" if transient else "was rejected"
        return CallRailError(
            f"{what} {verb} (HTTP {status}){suffix}", status_code=status, transient=transient
        )


def _page_calls(body: Mapping[str, Any], page: int) -> list[CallRailCall]:
    calls = body.get("calls")
    if not isinstance(calls, list):
        raise CallRailError("CallRail calls list answered without a calls list")
    parsed: list[CallRailCall] = []
    for index, raw in enumerate(calls):
        try:
            parsed.append(parse_call(raw))
        except CallRailPayloadError as exc:
            where = raw.get("id") if isinstance(raw, Mapping) else None
            raise CallRailPayloadError(
                exc.field, f"{exc.message} (call {where or index + 1} on page {page})"
            ) from exc
    return parsed


def _is_json(response: httpx.Response) -> bool:
    header: str = response.headers.get("content-type", "")
    content_type = header.split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _display(url: str) -> str:
    """``url`` without its query: a recording URL's query holds its access key."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
