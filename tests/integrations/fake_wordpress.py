"""A small, real WordPress REST API on 127.0.0.1 for tests.

It speaks the part of the posts API that eal uses, as WordPress documents
and implements it, under ``{install path}/wp-json/`` (the install path is ""
for a site at the root, ``/blog`` for one in a sub-path; anything outside it
is the web server's HTML 404 page, as on a real host):

* HTTP Basic auth with a user's login and application password. As in
  WordPress, everything but letters and digits is dropped from the password
  before comparing, so it works with or without the spaces WordPress shows
  it with. A wrong password is 401 ``incorrect_password``, an unknown login
  401 ``invalid_username``, whatever the route; no credentials is anonymous;
* ``POST /wp/v2/posts`` (JSON: ``title``, ``content``, ``excerpt`` as
  strings or ``{"raw": ...}``, ``status``, ``slug``, ``date_gmt``) needs a
  login (401 ``rest_cannot_create`` otherwise); a user who may not publish
  gets 403 ``rest_cannot_publish`` for ``publish``/``future``. Slugs are
  sanitised and made unique (``-2``, ``-3``...) as WordPress does; a post
  without a slug gets one from its title unless it is a draft. ``publish``
  with a future ``date_gmt`` becomes ``future`` and ``future`` with a past
  one ``publish``. The fake is stricter than WordPress about ``date_gmt``:
  it must be ``YYYY-MM-DDTHH:MM:SS`` without an offset, whose meaning
  differs between WordPress versions, so a client that sends one is caught.
  It answers 201 with the post object and a ``Location`` header;
* ``GET /wp/v2/posts`` lists posts: ``slug`` (comma-separated), ``status``
  (comma-separated or ``any``, which needs a login: 401
  ``rest_forbidden_status`` otherwise; the default is ``publish``),
  ``orderby`` (``date``, ``id``, ``slug``), ``order``, ``per_page`` (1 to
  100) and ``_fields``, with ``X-WP-Total`` and ``X-WP-TotalPages``.

Errors have WordPress's shape, ``{"code", "message", "data": {"status"}}``.
Tests can make the next N requests fail with a status, lose the next N
answers after the work is done (a proxy's 504 after WordPress stored the
post), delay answers, seed posts, and read what was received.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.integrations.stand_in import Received, Reply, StandInServer

POSTS_ROUTE = "/wp/v2/posts"
STATUSES = ("publish", "future", "draft", "pending", "private")
_GMT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_NOT_FOUND_PAGE = b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>"


@dataclass
class StoredPost:
    """One post as the fake stores it."""

    id: int
    title: str
    content: str
    excerpt: str
    status: str
    slug: str
    date_gmt: str
    author: str


@dataclass
class _Failure:
    remaining: int
    status: int
    body: bytes
    after: bool = False  # answer the failure after doing the work (a lost answer)


@dataclass
class _State:
    posts: list[StoredPost] = field(default_factory=list)
    next_id: int = 4101
    requests: list[Received] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    delay_seconds: float = 0.0


def wordpress_error(code: str, message: str, status: int, **data: Any) -> dict[str, Any]:
    """An error body in WordPress's shape."""
    return {"code": code, "message": message, "data": {"status": status, **data}}


def sanitize_slug(text: str) -> str:
    """What WordPress's ``sanitize_title`` makes of an ASCII title or slug."""
    text = text.strip().lower()
    text = re.sub(r"[\s.]+", "-", text)
    text = re.sub(r"[^a-z0-9_-]", "", text)
    return re.sub(r"-+", "-", text).strip("-")


def _raw(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("raw"), str):
        return str(value["raw"])
    return None


class FakeWordPress:
    """Handle on a running fake: its users, controls, stored posts and recorded traffic."""

    def __init__(self, users: dict[str, str], path: str, port: int, *, can_publish: bool) -> None:
        self.users = dict(users)
        self.install_path = path.rstrip("/")
        self.root_url = f"http://127.0.0.1:{port}"
        self.site_url = self.root_url + self.install_path
        self.can_publish = can_publish
        self._lock = threading.Lock()
        self._state = _State()

    # --- controls -----------------------------------------------------------

    def fail_next(
        self,
        count: int,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (authorised or not) with ``status`` and a
        WordPress-shaped error, or ``body`` verbatim; calls queue up in order."""
        raw = (
            body
            if body is not None
            else json.dumps(
                wordpress_error(code or f"http_{status}", message or f"HTTP {status}", status)
            )
        )
        with self._lock:
            self._state.failures.append(_Failure(count, status, raw.encode()))

    def lose_next_answers(self, count: int, status: int = 504) -> None:
        """Handle the next ``count`` requests fully (posts are stored), then answer each with
        ``status`` and a proxy's HTML page instead of WordPress's answer."""
        page = f"<html><body><h1>{status} Gateway Time-out</h1></body></html>".encode()
        with self._lock:
            self._state.failures.append(_Failure(count, status, page, after=True))

    def set_delay(self, seconds: float) -> None:
        """Hold every answer for ``seconds`` (0 turns it off)."""
        with self._lock:
            self._state.delay_seconds = seconds

    def add_post(
        self,
        *,
        title: str,
        slug: str,
        status: str = "publish",
        content: str = "<p>Seeded.</p>",
        date_gmt: str = "2025-01-15T09:30:00",
    ) -> StoredPost:
        """Store a post as if it had been created earlier (no uniqueness check)."""
        with self._lock:
            post = StoredPost(
                self._state.next_id, title, content, "", status, slug, date_gmt, "seed"
            )
            self._state.next_id += 1
            self._state.posts.append(post)
            return post

    # --- observations -------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def posts(self) -> list[StoredPost]:
        """Stored posts, oldest first."""
        with self._lock:
            return list(self._state.posts)

    def link(self, post: StoredPost) -> str:
        """The post's public address, as a site with pretty permalinks gives it."""
        if post.status == "publish" and post.slug:
            return f"{self.site_url}/{post.slug}/"
        return f"{self.site_url}/?p={post.id}"

    # --- request handling (runs on the server's event loop) ------------------

    async def handle(self, request: Received) -> Reply:
        """Answer one request."""
        with self._lock:
            self._state.requests.append(request)
            delay = self._state.delay_seconds
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            failure = self._take_failure()
        if failure is not None and not failure.after:
            return Reply(failure.status, failure.body, (("Content-Type", "application/json"),))
        reply = self._route(request)
        if failure is not None:
            return Reply(failure.status, failure.body, (("Content-Type", "text/html"),))
        return reply

    def _route(self, request: Received) -> Reply:
        api = self.install_path + "/wp-json"
        if request.path != api and not request.path.startswith(api + "/"):
            return Reply(404, _NOT_FOUND_PAGE, (("Content-Type", "text/html"),))
        route = request.path[len(api) :].rstrip("/") or "/"
        user, refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        if route == POSTS_ROUTE and request.method == "POST":
            return self._create(request, user)
        if route == POSTS_ROUTE and request.method == "GET":
            return self._list(request, user)
        return Reply.json(
            404,
            wordpress_error(
                "rest_no_route", "No route was found matching the URL and request method.", 404
            ),
        )

    def _authenticate(self, request: Received) -> tuple[str | None, Reply | None]:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None, None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        login, sep, password = decoded.partition(":")
        if not sep:
            return None, None
        if login not in self.users:
            return None, Reply.json(
                401,
                wordpress_error(
                    "invalid_username",
                    f"<strong>Error:</strong> The username <strong>{login}</strong> is not "
                    "registered on this site. If you are unsure of your username, try your "
                    "email address instead.",
                    401,
                ),
            )
        if _compact(password) != _compact(self.users[login]):
            return None, Reply.json(
                401,
                wordpress_error(
                    "incorrect_password",
                    "The provided password is an invalid application password.",
                    401,
                ),
            )
        return login, None

    def _create(self, request: Received, user: str | None) -> Reply:
        if user is None:
            return Reply.json(
                401,
                wordpress_error(
                    "rest_cannot_create",
                    "Sorry, you are not allowed to create posts as this user.",
                    401,
                ),
            )
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Reply.json(
                400, wordpress_error("rest_invalid_json", "Invalid JSON body passed.", 400)
            )
        status = body.get("status", "draft")
        if status not in STATUSES:
            return _invalid_param("status", f"status is not one of {', '.join(STATUSES)}.")
        if status in ("publish", "future") and not self.can_publish:
            return Reply.json(
                403,
                wordpress_error(
                    "rest_cannot_publish",
                    "Sorry, you are not allowed to publish posts in this post type.",
                    403,
                ),
            )
        fields: dict[str, str] = {}
        for name in ("title", "content", "excerpt"):
            value = body.get(name, "")
            text = _raw(value)
            if text is None:
                return _invalid_param(name, f"{name} is not of type object,string.")
            fields[name] = text
        if not (fields["title"] or fields["content"] or fields["excerpt"]):
            return Reply.json(
                400,
                wordpress_error("empty_content", "Content, title, and excerpt are empty.", 400),
            )
        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        date_gmt = body.get("date_gmt")
        if date_gmt is None:
            moment = now
        elif isinstance(date_gmt, str) and _GMT.fullmatch(date_gmt):
            moment = datetime.fromisoformat(date_gmt)
        else:
            return _invalid_param("date_gmt", "Invalid date.")
        if status == "publish" and moment > now:
            status = "future"
        elif status == "future" and moment <= now:
            status = "publish"
        slug_value = body.get("slug")
        if slug_value is not None and not isinstance(slug_value, str):
            return _invalid_param("slug", "slug is not of type string.")
        if slug_value:
            slug = sanitize_slug(slug_value)
        elif status in ("draft", "pending"):
            slug = ""
        else:
            slug = sanitize_slug(fields["title"])
        with self._lock:
            if slug:
                slug = self._unique(slug)
            post = StoredPost(
                self._state.next_id,
                fields["title"],
                fields["content"],
                fields["excerpt"],
                status,
                slug,
                moment.strftime("%Y-%m-%dT%H:%M:%S"),
                user,
            )
            self._state.next_id += 1
            self._state.posts.append(post)
        location = f"{self.site_url}/wp-json{POSTS_ROUTE}/{post.id}"
        return Reply.json(201, self._document(post), (("Location", location),))

    def _list(self, request: Received, user: str | None) -> Reply:
        query = request.query
        statuses = [s for s in query.get("status", "publish").split(",") if s]
        if statuses != ["publish"] and user is None:
            return Reply.json(
                401, wordpress_error("rest_forbidden_status", "Status is forbidden.", 401)
            )
        for status in statuses:
            if status != "any" and status not in (*STATUSES, "trash"):
                return _invalid_param("status", f"status[0] is not one of {', '.join(STATUSES)}.")
        try:
            per_page = int(query.get("per_page", "10"))
        except ValueError:
            per_page = 0
        if not 1 <= per_page <= 100:
            return _invalid_param(
                "per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)"
            )
        orderby = query.get("orderby", "date")
        if orderby not in ("date", "id", "slug"):
            return _invalid_param("orderby", "orderby is not one of date, id, slug.")
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            return _invalid_param("order", "order is not one of asc, desc.")
        slugs = {sanitize_slug(s) for s in query["slug"].split(",")} if "slug" in query else None
        with self._lock:
            posts = [
                post
                for post in self._state.posts
                if (slugs is None or post.slug in slugs)
                and (post.status != "trash" if "any" in statuses else post.status in statuses)
            ]
        if orderby == "id":
            posts.sort(key=lambda p: p.id, reverse=order == "desc")
        elif orderby == "slug":
            posts.sort(key=lambda p: p.slug, reverse=order == "desc")
        else:
            posts.sort(key=lambda p: (p.date_gmt, p.id), reverse=order == "desc")
        wanted = [f for f in query.get("_fields", "").split(",") if f]
        documents = []
        for post in posts[:per_page]:
            document = self._document(post)
            if wanted:
                document = {k: v for k, v in document.items() if k in wanted}
            documents.append(document)
        pages = (len(posts) + per_page - 1) // per_page
        return Reply.json(
            200,
            documents,
            (("X-WP-Total", str(len(posts))), ("X-WP-TotalPages", str(pages))),
        )

    def _unique(self, slug: str) -> str:
        taken = {post.slug for post in self._state.posts}
        candidate, suffix = slug, 2
        while candidate in taken:
            candidate, suffix = f"{slug}-{suffix}", suffix + 1
        return candidate

    def _document(self, post: StoredPost) -> dict[str, Any]:
        return {
            "id": post.id,
            "date": post.date_gmt,
            "date_gmt": post.date_gmt,
            "guid": {"rendered": f"{self.site_url}/?p={post.id}"},
            "slug": post.slug,
            "status": post.status,
            "type": "post",
            "link": self.link(post),
            "title": {"raw": post.title, "rendered": post.title},
            "content": {"raw": post.content, "rendered": post.content, "protected": False},
            "excerpt": {"raw": post.excerpt, "rendered": post.excerpt, "protected": False},
        }

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]


def _compact(password: str) -> str:
    # WordPress drops everything but letters and digits from an application password.
    return re.sub(r"[^A-Za-z0-9]", "", password)


def _invalid_param(name: str, reason: str) -> Reply:
    return Reply.json(
        400,
        wordpress_error(
            "rest_invalid_param", f"Invalid parameter(s): {name}", 400, params={name: reason}
        ),
    )


@contextmanager
def run_fake_wordpress(
    username: str = "dana.editor",
    application_password: str = "Xk4t 9QmZ r2Vb Lp7N w8Ec Hs3J",
    *,
    path: str = "",
    can_publish: bool = True,
) -> Iterator[FakeWordPress]:
    """Run a fake WordPress site on 127.0.0.1 (ephemeral port) for the block; ``path`` is
    its install path (``/blog``), "" for the root."""
    server = StandInServer("fake-wordpress")
    port = server.start()
    fake = FakeWordPress({username: application_password}, path, port, can_publish=can_publish)
    server.serve(fake.handle)
    try:
        yield fake
    finally:
        server.stop()
