"""Publishing posts to a WordPress site through its REST API.

Protocol, as WordPress documents it (developer.wordpress.org/rest-api):

* the API lives under ``{site_url}/wp-json/``; ``site_url`` is the address
  WordPress is installed at, the domain's root or a sub-path
  (``https://example.com/blog``), with or without a trailing slash (one that
  already ends in ``/wp-json`` is accepted too);
* requests authenticate with HTTP Basic: the user's login name and one of
  their *application passwords* (Users -> Profile -> Application Passwords,
  WordPress 5.6 and later). WordPress shows the password in groups separated
  by spaces; it is sent exactly as given, spaces included (WordPress ignores
  them when it compares);
* ``POST /wp-json/wp/v2/posts`` with a JSON body (``title``, ``content``,
  ``status``, optionally ``slug``, ``excerpt`` and ``date_gmt``) creates a
  post and answers 201 with the post object (``id``, ``link``, ``status``,
  ``slug``, ...). ``date_gmt`` is sent as UTC without an offset
  (``2025-05-01T14:00:00``): WordPress versions disagree on what an offset in
  that field means;
* ``GET /wp-json/wp/v2/posts?slug=<slug>&status=any`` lists the posts with
  that slug in any status but trash; ``status=any`` needs a user who may edit
  posts, so the request is authenticated too;
* errors are ``{"code": "rest_cannot_create", "message": "...", "data":
  {"status": 401}}``: ``incorrect_password`` or ``invalid_username`` for
  refused credentials, ``rest_cannot_create`` (401) when WordPress saw no
  login at all (some hosts drop the ``Authorization`` header),
  ``rest_cannot_publish`` (403) for a user whose role may not publish.

Not supported: sites with plain permalinks (Settings -> Permalinks ->
"Plain"), whose API answers only at ``?rest_route=/wp/v2/...``. There
``/wp-json/`` is an ordinary 404 page, raised as a WordPressError that says
so; any other permalink setting works.

A lost answer: WordPress has no idempotency key, and a create whose answer
was lost (a timeout, a proxy's 502 after WordPress stored the post) may have
created the post. Give each post a slug of its own and, after a transient
failure, call :meth:`WordPressClient.find_post_by_slug` before creating it
again. WordPress makes slugs unique by appending ``-2``: a slug another post
already has is given to the new post changed, and a look-up by the original
slug finds the other post, so slugs must not be reused.

Exception hierarchy::

    WordPressError             base: ``message``, ``status_code``, ``transient``
    └── WordPressAuthError     401/403: the login was refused or may not do this

``transient`` is true for network errors, timeouts, 408, 429, 5xx and a
success answer that is not the documented JSON (a proxy's or cache's page):
retry later. Messages never contain the application password (in any of its
forms). The policy's refusal of the address
(:class:`~eal.kit.outbound.UnsafeUrl`) goes through unchanged.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import httpx

from eal.integrations.crm import redact, response_detail
from eal.kit.outbound import UnsafeUrl

__all__ = [
    "API_PREFIX",
    "DEFAULT_TIMEOUT_SECONDS",
    "POSTS_ROUTE",
    "PostStatus",
    "WordPressAuthError",
    "WordPressClient",
    "WordPressError",
    "WordPressPost",
    "posts_url",
]

API_PREFIX = "/wp-json"
POSTS_ROUTE = "/wp/v2/posts"
DEFAULT_TIMEOUT_SECONDS = 15.0
_CONNECT_TIMEOUT_SECONDS = 10.0
_MAX_DETAIL_CHARS = 200
_TRANSIENT_4XX = frozenset({408, 429})

PostStatus = Literal["publish", "draft", "future"]
"""What a new post becomes: published now, a draft, or scheduled for ``date_gmt``."""

_STATUSES: Final = frozenset({"publish", "draft", "future"})
# The slugs WordPress keeps as given (what its sanitize_title leaves alone), so a
# look-up by slug matches the stored one exactly; 200 is the column's length.
_SLUG = re.compile(r"[a-z0-9_]+(?:-[a-z0-9_]+)*")
_MAX_SLUG_CHARS = 200
# Login codes WordPress answers for credentials it refused outright.
_CREDENTIAL_CODES = frozenset(
    {"incorrect_password", "invalid_username", "invalid_email", "application_passwords_disabled"}
)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class WordPressPost:
    """A post as WordPress stored it: its id, public link and WordPress's status word."""

    id: int
    link: str
    status: str


class WordPressError(Exception):
    """A WordPress request failed; ``transient`` says whether retrying later may help."""

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


class WordPressAuthError(WordPressError):
    """WordPress refused the login, or the user may not do this (HTTP 401/403)."""


def posts_url(site_url: str) -> str:
    """The posts endpoint of the site at ``site_url`` (with or without ``/wp-json``)."""
    base = site_url.rstrip("/")
    if urlsplit(base).path.endswith(API_PREFIX):
        base = base[: -len(API_PREFIX)]
    return base + API_PREFIX + POSTS_ROUTE


class WordPressClient:
    """Client of one WordPress site, acting as one user.

    ``http`` is shared (its pool is reused, it is never closed here); give it
    the outbound policy's client. The user needs a role that may publish
    (Author or above) for ``publish`` and ``future`` posts; a Contributor may
    only create drafts.
    """

    def __init__(
        self,
        site_url: str,
        username: str,
        application_password: str,
        http: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(site_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("WordPress site URL must be an http(s) URL")
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("WordPress site URL must not carry a query, fragment or credentials")
        if not username.strip() or ":" in username:
            raise ValueError("WordPress username must not be empty or contain ':'")
        if not application_password.strip():
            raise ValueError("WordPress application password must not be empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._url = posts_url(site_url)
        self._username = username
        self._http = http
        self._timeout = httpx.Timeout(timeout, connect=min(_CONNECT_TIMEOUT_SECONDS, timeout))
        token = base64.b64encode(f"{username}:{application_password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        # Each form in which the password could come back: as given, as WordPress
        # compares it (without spaces), and inside the Basic credentials.
        compact = "".join(application_password.split())
        self._secrets = tuple(dict.fromkeys((application_password, compact, token)))

    def __repr__(self) -> str:
        # Never show the password, even in debug output.
        return f"WordPressClient(url={self._url!r}, username={self._username!r})"

    async def create_post(
        self,
        *,
        title: str,
        content_html: str,
        status: PostStatus = "publish",
        slug: str | None = None,
        excerpt: str | None = None,
        date_gmt: datetime | None = None,
    ) -> WordPressPost:
        """Create a post and return it as WordPress stored it.

        ``status`` "future" schedules the post for ``date_gmt`` (required
        then); ``date_gmt`` must carry its time zone and is sent as UTC. The
        returned status is WordPress's: "publish" with a future date comes
        back "future", "future" with a past date "publish". ``slug``, when
        given, must be lowercase letters, digits, ``_`` and single hyphens
        (``water-damage-tips-2025``), at most 200 characters, so that
        :meth:`find_post_by_slug` can find the post if this call fails after
        WordPress stored it.

        Raises WordPressError / WordPressAuthError; ValueError for bad
        arguments, before any request.
        """
        if status not in _STATUSES:
            raise ValueError(f"status must be one of publish, draft, future, got {status!r}")
        if not title.strip():
            raise ValueError("title must not be empty")
        if not content_html.strip():
            raise ValueError("content_html must not be empty")
        if status == "future" and date_gmt is None:
            raise ValueError("a future post needs date_gmt")
        body: dict[str, Any] = {"title": title, "content": content_html, "status": status}
        if slug is not None:
            body["slug"] = _checked_slug(slug)
        if excerpt is not None:
            body["excerpt"] = excerpt
        if date_gmt is not None:
            body["date_gmt"] = _wordpress_gmt(date_gmt)
        answer = await self._request("POST", json_body=body)
        post = _post(answer)
        if post is None:
            raise WordPressError(
                f"WordPress POST {self._url} answered without a post id, link and status "
                "(the post may exist: look it up by its slug)",
                status_code=answer.status_code,
                transient=True,
            )
        return post

    async def find_post_by_slug(self, slug: str) -> WordPressPost | None:
        """The post with ``slug`` in any status but trash (the oldest, if several), or None.

        Raises WordPressError / WordPressAuthError; ValueError for a slug
        :meth:`create_post` would refuse.
        """
        params = {
            "slug": _checked_slug(slug),
            "status": "any",
            # Oldest first: if duplicates ever slipped in, always pick the same one.
            "orderby": "id",
            "order": "asc",
            "per_page": "1",
            "_fields": "id,link,status,slug",
        }
        answer = await self._request("GET", params=params)
        body = _json(answer)
        if not isinstance(body, list):
            raise WordPressError(
                f"WordPress GET {self._url} answered without a post list",
                status_code=answer.status_code,
                transient=True,
            )
        for item in body:
            post = _post_fields(item)
            if post is not None:
                return post
        return None

    async def _request(
        self,
        method: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        what = f"WordPress {method} {self._url}"
        try:
            response = await self._http.request(
                method,
                self._url,
                params=params,
                json=json_body,
                headers=self._headers,
                timeout=self._timeout,
            )
        except UnsafeUrl:
            raise  # the outbound policy refused the address; also an httpx.ConnectError
        except httpx.TimeoutException as exc:
            raise WordPressError(
                f"{what} timed out ({type(exc).__name__})", transient=True
            ) from exc
        except httpx.TransportError as exc:
            detail = self._clean(str(exc))
            raise WordPressError(
                f"{what} failed: {type(exc).__name__}: {detail}", transient=True
            ) from exc
        if not response.is_success:
            raise self._status_error(what, response)
        return response

    def _status_error(self, what: str, response: httpx.Response) -> WordPressError:
        status = response.status_code
        code, text = _error_body(response)
        if code is None:
            text = response_detail(response, self._secrets[0], limit=10 * _MAX_DETAIL_CHARS)
        detail = self._clean(f"{text} ({code})" if code and text else text or code or "")
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            if code in _CREDENTIAL_CODES:
                hint = "check the WordPress username and application password"
            elif status == 401:
                hint = (
                    "WordPress saw no valid login: check the username and application "
                    "password, and that the host passes the Authorization header on"
                )
            else:
                hint = "the WordPress user may not do this (publishing needs the Author role)"
            return WordPressAuthError(
                f"{what} was refused (HTTP {status}): {hint}{suffix}", status_code=status
            )
        if 300 <= status < 400:
            location = self._clean(response.headers.get("location", ""))
            target = f" to {location}" if location else ""
            return WordPressError(
                f"{what} was redirected (HTTP {status}){target}: "
                "set the site URL to the address WordPress answers at",
                status_code=status,
            )
        if status == 404 and code is None:
            return WordPressError(
                f"{what} found no WordPress REST API (HTTP 404): check the site URL "
                "(sites with plain permalinks are not supported)",
                status_code=status,
            )
        transient = status >= 500 or status in _TRANSIENT_4XX
        verb = "failed" if transient else "was rejected"
        return WordPressError(
            f"{what} {verb} (HTTP {status}){suffix}", status_code=status, transient=transient
        )

    def _clean(self, text: str) -> str:
        """``text`` without any form of the password, on one line, cut to length."""
        for secret in self._secrets:
            text = redact(text, secret)
        text = " ".join(text.split())
        if len(text) > _MAX_DETAIL_CHARS:
            text = text[: _MAX_DETAIL_CHARS - 1] + "…"
        return text


def _checked_slug(slug: str) -> str:
    if len(slug) > _MAX_SLUG_CHARS or not _SLUG.fullmatch(slug):
        raise ValueError(
            "slug must be lowercase letters, digits, '_' and single hyphens, "
            f"at most {_MAX_SLUG_CHARS} characters, got {slug!r}"
        )
    return slug


def _wordpress_gmt(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("date_gmt must carry its time zone (an aware datetime)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _post(response: httpx.Response) -> WordPressPost | None:
    return _post_fields(_json(response))


def _post_fields(item: Any) -> WordPressPost | None:
    if not isinstance(item, dict):
        return None
    post_id, link, status = item.get("id"), item.get("link"), item.get("status")
    if not isinstance(post_id, int) or isinstance(post_id, bool) or post_id <= 0:
        return None
    if not isinstance(link, str) or not link or not isinstance(status, str) or not status:
        return None
    return WordPressPost(id=post_id, link=link, status=status)


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    """(WordPress's error code, its message without markup) of a WordPress error answer;
    (None, "") for any other body."""
    body = _json(response)
    if not isinstance(body, dict):
        return None, ""
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not code:
        return None, ""
    return code, _TAG.sub("", message) if isinstance(message, str) else ""
