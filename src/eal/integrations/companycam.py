"""Reading a project's photos from CompanyCam through its REST API (v2).

Protocol, as CompanyCam documents it (docs.companycam.com):

* the API lives at ``https://api.companycam.com/v2``; requests carry
  ``Authorization: Bearer <access token>`` and answer JSON;
* ``GET /projects/{id}``: the project (``id``, ``name``, ``address``
  ``{street_address_1, street_address_2, city, state, postal_code, country}``,
  ``coordinates {lat, lon}``);
* ``GET /projects/{id}/photos?page=N&per_page=M``: a JSON array of photos, a
  page at a time (pages from 1; a page shorter than ``per_page`` is the last).
  A photo has ``id``, ``captured_at`` (Unix seconds), ``coordinates {lat,
  lon}``, ``description`` and ``uris``, a list of ``{type, uri, url}`` with
  types ``original``, ``web``, ``thumbnail`` (and others);
* ``GET /photos/{id}/tags``: the photo's tags, ``[{id, display_value, value}]``
  (used when the photo object does not carry ``tags`` itself);
* errors: 401 for a refused token, 404 for an unknown project, 429 with
  ``Retry-After``, 5xx.

Exception hierarchy::

    CompanyCamError              base: ``message``, ``status_code``, ``transient``, ``retry_after``
    ├── CompanyCamAuthError      401/403: the token was refused
    └── CompanyCamNotFound       404: no such project (or photo)

``transient`` is true for network errors, timeouts, 408, 429, 5xx and a success
answer that is not JSON. Messages never contain the token. Every connection
goes through the caller's outbound client (the service's address policy);
its refusal (:class:`~eal.kit.outbound.UnsafeUrl`) goes through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from eal.kit.outbound import UnsafeUrl

__all__ = [
    "DEFAULT_BASE_URL",
    "CompanyCamAuthError",
    "CompanyCamClient",
    "CompanyCamError",
    "CompanyCamNotFound",
    "CompanyCamPhoto",
    "CompanyCamProject",
]

DEFAULT_BASE_URL = "https://api.companycam.com/v2"
DEFAULT_PER_PAGE = 100
#: A project with more pages than this is cut off (2,000,000 photos at 100 a page).
MAX_PAGES = 20_000
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class CompanyCamError(Exception):
    """A CompanyCam request failed; ``transient`` says whether retrying later may help."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.transient = transient
        self.retry_after = retry_after


class CompanyCamAuthError(CompanyCamError):
    """CompanyCam refused the access token (HTTP 401/403)."""


class CompanyCamNotFound(CompanyCamError):
    """No such project or photo (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class CompanyCamProject:
    """A project: where the job is."""

    id: str
    name: str | None
    address: str | None
    coordinates: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class CompanyCamPhoto:
    """A project photo: when and where it was taken, its tags, and where its file is."""

    id: str
    captured_at: datetime | None
    coordinates: tuple[float, float] | None
    tags: tuple[str, ...]
    description: str | None
    original_url: str | None
    thumbnail_url: str | None


def _coordinates(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    lat, lon = value.get("lat"), value.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return float(lat), float(lon)


def _address(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    parts = [value.get(k) for k in ("street_address_1", "street_address_2", "city", "state")]
    text = ", ".join(str(p) for p in parts if p)
    if value.get("postal_code"):
        text = f"{text} {value['postal_code']}".strip()
    return text or None


def _uri(uris: Any, kind: str) -> str | None:
    if not isinstance(uris, list):
        return None
    for item in uris:
        if isinstance(item, dict) and item.get("type") == kind:
            found = item.get("uri") or item.get("url")
            return str(found) if found else None
    return None


def _tag_names(tags: Any) -> tuple[str, ...]:
    if not isinstance(tags, list):
        return ()
    names = []
    for tag in tags:
        if isinstance(tag, dict):
            name = tag.get("display_value") or tag.get("value")
            if isinstance(name, str) and name.strip():
                names.append(name.strip())
        elif isinstance(tag, str) and tag.strip():
            names.append(tag.strip())
    return tuple(names)


def _captured(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class CompanyCamClient:
    """One CompanyCam account (an access token), read through the service's outbound client."""

    def __init__(
        self, api_key: str, *, http: httpx.AsyncClient, base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._key = api_key
        self._http = http
        self._base = base_url.rstrip("/")

    async def __aenter__(self) -> CompanyCamClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        try:
            response = await self._http.get(
                self._base + path, params=params, headers=headers, timeout=_TIMEOUT
            )
        except UnsafeUrl:
            raise
        except httpx.TimeoutException as exc:
            raise CompanyCamError("CompanyCam did not answer in time", transient=True) from exc
        except httpx.HTTPError as exc:
            raise CompanyCamError(
                self._redact(f"CompanyCam could not be reached: {type(exc).__name__}"),
                transient=True,
            ) from exc
        status = response.status_code
        if status in (401, 403):
            raise CompanyCamAuthError(
                f"CompanyCam refused the access token (HTTP {status})", status_code=status
            )
        if status == 404:
            raise CompanyCamNotFound(
                f"CompanyCam has no {path.split('/')[1][:-1]} at {path}", status_code=404
            )
        if status >= 400:
            retry_after = None
            header = response.headers.get("Retry-After")
            if header and header.strip().isdigit():
                retry_after = float(header.strip())
            transient = status in (408, 429) or status >= 500
            raise CompanyCamError(
                f"CompanyCam answered HTTP {status}",
                status_code=status,
                transient=transient,
                retry_after=retry_after,
            )
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CompanyCamError(
                "CompanyCam's answer was not JSON", status_code=status, transient=True
            ) from exc

    async def project(self, project_id: str) -> CompanyCamProject:
        """The project (its address and coordinates locate the loss)."""
        body = await self._get(f"/projects/{quote(project_id, safe='')}")
        if not isinstance(body, dict) or "id" not in body:
            raise CompanyCamError("CompanyCam's project answer has no id", transient=True)
        return CompanyCamProject(
            id=str(body["id"]),
            name=body.get("name") if isinstance(body.get("name"), str) else None,
            address=_address(body.get("address")),
            coordinates=_coordinates(body.get("coordinates")),
        )

    async def tags(self, photo_id: str) -> tuple[str, ...]:
        """A photo's tag names."""
        return _tag_names(await self._get(f"/photos/{quote(photo_id, safe='')}/tags"))

    async def photos(
        self, project_id: str, *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[CompanyCamPhoto]:
        """Every photo of the project, page after page."""
        path = f"/projects/{quote(project_id, safe='')}/photos"
        for page in range(1, MAX_PAGES + 1):
            body = await self._get(path, {"page": page, "per_page": per_page})
            if not isinstance(body, list):
                raise CompanyCamError("CompanyCam's photo list is not a list", transient=True)
            for item in body:
                if not isinstance(item, dict) or "id" not in item:
                    continue
                photo_id = str(item["id"])
                tags = _tag_names(item["tags"]) if "tags" in item else await self.tags(photo_id)
                description = item.get("description")
                yield CompanyCamPhoto(
                    id=photo_id,
                    captured_at=_captured(item.get("captured_at")),
                    coordinates=_coordinates(item.get("coordinates")),
                    tags=tags,
                    description=description
                    if isinstance(description, str) and description
                    else None,
                    original_url=_uri(item.get("uris"), "original")
                    or _uri(item.get("uris"), "web"),
                    thumbnail_url=_uri(item.get("uris"), "thumbnail"),
                )
            if len(body) < per_page:
                return

    async def download(self, url: str, *, max_bytes: int) -> tuple[bytes, str | None]:
        """A photo file (its bytes and content type); more than `max_bytes` is refused."""
        try:
            async with self._http.stream("GET", url, timeout=_TIMEOUT) as response:
                if response.status_code >= 400:
                    raise CompanyCamError(
                        f"CompanyCam's photo file answered HTTP {response.status_code}",
                        status_code=response.status_code,
                        transient=response.status_code in (408, 429) or response.status_code >= 500,
                    )
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise CompanyCamError(f"a photo file is larger than {max_bytes} bytes")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise CompanyCamError(f"a photo file is larger than {max_bytes} bytes")
                return bytes(data), response.headers.get("Content-Type")
        except UnsafeUrl:
            raise
        except httpx.TimeoutException as exc:
            raise CompanyCamError("a photo file did not arrive in time", transient=True) from exc
        except httpx.HTTPError as exc:
            raise CompanyCamError(
                f"a photo file could not be fetched: {type(exc).__name__}", transient=True
            ) from exc
