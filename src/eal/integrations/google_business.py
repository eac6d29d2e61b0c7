"""Replies to Google reviews through the Business Profile API (My Business API v4).

Protocol, as Google documents it (``accounts.locations.reviews.updateReply``):

* ``PUT {base_url}/v4/accounts/{account}/locations/{location}/reviews/{review}/reply``
  with the JSON body ``{"comment": "..."}`` creates the review's reply or
  replaces it: a review has at most one reply from the business, so replying
  again, after a lost answer for instance, is safe. Only verified locations
  can reply;
* ``Authorization: Bearer <OAuth 2 access token>`` for a Google account that
  manages the location, with the ``business.manage`` scope. Getting and
  refreshing the token is the caller's: access tokens last about an hour;
* the answer is the ReviewReply, ``{"comment": "...", "updateTime":
  "2025-05-01T14:00:00.123456789Z"}``;
* the comment is plain text of at most 4,096 bytes of UTF-8, checked here
  before any request (multi-byte characters count for their bytes);
* errors are ``{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}``.

The account and location are given as bare ids (``"123"``) or as resource
names (``"accounts/123"``, ``"locations/456"``, as the Account Management and
Business Information APIs name them); a review as its id, ``reviews/<id>`` or
its full name (``accounts/123/locations/456/reviews/<id>``, the ``name`` of a
review listed by v4), which must then belong to the client's location.

Exception hierarchy::

    GoogleBusinessError             base: ``message``, ``status_code``, ``transient``
    ├── GoogleBusinessAuthError     401: the access token is invalid or expired (refresh it);
    │                               403: its account may not manage the location
    └── GoogleBusinessNotFound      404: no such account, location or review (a review
                                    its author deleted is gone)

``transient`` is true for network errors, timeouts, 408, 429, 5xx and a
success answer that is not the documented JSON: retry later. Messages never
contain the access token. The policy's refusal of the address
(:class:`~eal.kit.outbound.UnsafeUrl`) goes through unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from eal.integrations.crm import redact, response_detail
from eal.kit.outbound import UnsafeUrl

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_COMMENT_BYTES",
    "GoogleBusinessAuthError",
    "GoogleBusinessClient",
    "GoogleBusinessError",
    "GoogleBusinessNotFound",
    "ReviewReplyResult",
]

DEFAULT_BASE_URL = "https://mybusiness.googleapis.com"
DEFAULT_TIMEOUT_SECONDS = 15.0
#: Google's limit on a reply's comment, in bytes of UTF-8.
MAX_COMMENT_BYTES = 4096
_API_VERSION = "/v4"
_CONNECT_TIMEOUT_SECONDS = 10.0
_MAX_DETAIL_CHARS = 200
_TRANSIENT_4XX = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class ReviewReplyResult:
    """The reply as Google stored it: its comment and when it was last changed (aware, UTC)."""

    comment: str
    update_time: datetime


class GoogleBusinessError(Exception):
    """A Business Profile request failed; ``transient`` says whether retrying later may help."""

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


class GoogleBusinessAuthError(GoogleBusinessError):
    """Google refused the access token (HTTP 401) or its account's access (HTTP 403)."""


class GoogleBusinessNotFound(GoogleBusinessError):
    """The account, location or review does not exist (HTTP 404); retrying will not help."""


def _resource_id(value: str, collection: str) -> str:
    """The id in ``value``, a bare id or ``<collection>/<id>``; ValueError otherwise."""
    text = value.strip()
    if text.startswith(collection + "/"):
        text = text[len(collection) + 1 :]
    if not text or "/" in text or any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise ValueError(f"expected an id or '{collection}/<id>', got {value!r}")
    return text


class GoogleBusinessClient:
    """Client of one Business Profile location, with one OAuth access token.

    ``http`` is shared (its pool is reused, it is never closed here); give it
    the outbound policy's client. When the token expires, build a new client
    with a fresh one.
    """

    def __init__(
        self,
        access_token: str,
        account_id: str,
        location_id: str,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("Business Profile base URL must be an http(s) URL")
        if not access_token.strip():
            raise ValueError("Business Profile access token must not be empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        base = base_url.rstrip("/")
        if urlsplit(base).path.endswith(_API_VERSION):
            base = base[: -len(_API_VERSION)]
        self._account = _resource_id(account_id, "accounts")
        self._location = _resource_id(location_id, "locations")
        self._location_url = (
            f"{base}{_API_VERSION}/accounts/{quote(self._account, safe='')}"
            f"/locations/{quote(self._location, safe='')}"
        )
        self._token = access_token
        self._http = http
        self._timeout = httpx.Timeout(timeout, connect=min(_CONNECT_TIMEOUT_SECONDS, timeout))

    def __repr__(self) -> str:
        # Never show the token, even in debug output.
        return (
            f"GoogleBusinessClient(account={self._account!r}, location={self._location!r}, "
            f"url={self._location_url!r})"
        )

    async def reply_to_review(self, review_id: str, comment: str) -> ReviewReplyResult:
        """Post ``comment`` as the business's reply to the review, replacing any reply it has.

        Raises GoogleBusinessError / GoogleBusinessAuthError /
        GoogleBusinessNotFound; ValueError, before any request, for an empty
        comment, one over 4,096 bytes of UTF-8, or a review id that is not one.
        """
        review = self._review_id(review_id)
        if not comment.strip():
            raise ValueError("comment must not be empty")
        try:
            size = len(comment.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("comment is not valid text (it has lone surrogates)") from None
        if size > MAX_COMMENT_BYTES:
            raise ValueError(
                f"comment is {size:,} bytes of UTF-8; Google allows at most {MAX_COMMENT_BYTES:,}"
            )
        url = f"{self._location_url}/reviews/{quote(review, safe='')}/reply"
        what = f"Business Profile PUT {url}"
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
        }
        try:
            response = await self._http.put(
                url, json={"comment": comment}, headers=headers, timeout=self._timeout
            )
        except UnsafeUrl:
            raise  # the outbound policy refused the address; also an httpx.ConnectError
        except httpx.TimeoutException as exc:
            raise GoogleBusinessError(
                f"{what} timed out ({type(exc).__name__})", transient=True
            ) from exc
        except httpx.TransportError as exc:
            detail = redact(str(exc), self._token)[:_MAX_DETAIL_CHARS]
            raise GoogleBusinessError(
                f"{what} failed: {type(exc).__name__}: {detail}", transient=True
            ) from exc
        if not response.is_success:
            raise self._status_error(what, response)
        result = _reply(response)
        if result is None:
            raise GoogleBusinessError(
                f"{what} answered without a comment and updateTime",
                status_code=response.status_code,
                transient=True,
            )
        return result

    def _review_id(self, value: str) -> str:
        text = value.strip()
        if text.startswith("accounts/"):
            parts = text.split("/")
            if len(parts) != 6 or parts[2] != "locations" or parts[4] != "reviews":
                raise ValueError(f"expected a review name, got {value!r}")
            if (parts[1], parts[3]) != (self._account, self._location):
                raise ValueError(
                    f"review {value!r} is not one of location "
                    f"accounts/{self._account}/locations/{self._location}"
                )
            text = parts[5]
        return _resource_id(text, "reviews")

    def _status_error(self, what: str, response: httpx.Response) -> GoogleBusinessError:
        status = response.status_code
        detail = _error_detail(response, self._token)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            return GoogleBusinessAuthError(
                f"{what} was refused (HTTP 401): the access token is invalid or expired; "
                f"refresh the access token{suffix}",
                status_code=status,
            )
        if status == 403:
            return GoogleBusinessAuthError(
                f"{what} was refused (HTTP 403): the token's Google account may not manage "
                f"this location, or the project has no Business Profile API access{suffix}",
                status_code=status,
            )
        if status == 404:
            return GoogleBusinessNotFound(
                f"{what} found nothing (HTTP 404): no such account, location or review "
                f"(it may have been deleted){suffix}",
                status_code=status,
            )
        transient = status >= 500 or status in _TRANSIENT_4XX
        verb = "failed" if transient else "was rejected"
        return GoogleBusinessError(
            f"{what} {verb} (HTTP {status}){suffix}", status_code=status, transient=transient
        )


def _reply(response: httpx.Response) -> ReviewReplyResult | None:
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    comment, stamp = body.get("comment"), body.get("updateTime")
    if not isinstance(comment, str) or not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return ReviewReplyResult(comment=comment, update_time=moment.astimezone(UTC))


def _error_detail(response: httpx.Response, token: str) -> str:
    """Google's message and status word (``NOT_FOUND``) of an error answer, else its text;
    redacted, on one line, cut to length."""
    detail = response_detail(response, token, limit=_MAX_DETAIL_CHARS)
    try:
        body = json.loads(response.content)
    except ValueError:
        return detail
    error = body.get("error") if isinstance(body, dict) else None
    word = error.get("status") if isinstance(error, dict) else None
    if isinstance(word, str) and word.isupper() and detail and word not in detail:
        detail = f"{detail} ({word})"
    return detail
