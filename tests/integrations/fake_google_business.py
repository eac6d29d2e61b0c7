"""A small, real Business Profile review-reply API (My Business API v4) on 127.0.0.1 for tests.

It speaks ``accounts.locations.reviews.updateReply`` and ``deleteReply`` as
Google documents them:

* ``PUT /v4/accounts/{account}/locations/{location}/reviews/{review}/reply``
  with a JSON ReviewReply: ``comment`` (non-empty, at most 4,096 bytes of
  UTF-8, else 400 ``INVALID_ARGUMENT``) and the output-only ``updateTime``,
  which is ignored; any other field is a 400, as Google refuses unknown
  names. It stores the reply, replacing an earlier one, and answers 200 with
  ``{"comment", "updateTime"}`` (RFC 3339 with nanoseconds, as Google writes
  it);
* ``DELETE`` on the same path removes the reply and answers ``{}``;
* ``Authorization: Bearer <access token>`` must carry the fake's current
  token (401 ``UNAUTHENTICATED`` otherwise); a review the fake does not know
  under that account and location is 404 ``NOT_FOUND``; any other path is
  Google's HTML 404 page.

Errors have Google's shape, ``{"error": {"code", "message", "status"}}``.
Tests can add reviews, change the accepted token (an expired one), make the
next N requests fail with a status, delay answers, and read what was
received and the stored replies.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from tests.integrations.stand_in import Received, Reply, StandInServer

ACCOUNT_ID = "106544219846318392011"
LOCATION_ID = "4830127765590231487"
REVIEW_IDS = (
    "AbFvOqkX3w9Yq2LmT8pRz4sVb7nKc1dEf6gHj0uIo5aWy",
    "AbFvOqnQ7t2Rk9LpZ3xVm8cBw4sNd6fGh1jKy5uEr0aTi",
)
MAX_COMMENT_BYTES = 4096
_REPLY_PATH = re.compile(r"/v4/accounts/([^/]+)/locations/([^/]+)/reviews/([^/]+)/reply")
_STATUS_WORDS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_NOT_FOUND_PAGE = (
    b"<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)!!1</title>"
    b"<p><b>404.</b> <ins>That\xe2\x80\x99s an error.</ins></html>"
)

ReviewKey = tuple[str, str, str]
"""(account id, location id, review id)."""


@dataclass(frozen=True)
class StoredReply:
    """A review's reply as the fake stores it."""

    comment: str
    update_time: str


@dataclass
class _Failure:
    remaining: int
    status: int
    body: bytes


@dataclass
class _State:
    access_token: str
    reviews: set[ReviewKey] = field(default_factory=set)
    replies: dict[ReviewKey, StoredReply] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    delay_seconds: float = 0.0


def google_error(status: int, message: str, word: str | None = None) -> dict[str, Any]:
    """An error body in Google's shape."""
    return {
        "error": {
            "code": status,
            "message": message,
            "status": word or _STATUS_WORDS.get(status, "UNKNOWN"),
        }
    }


def _rfc3339_now() -> str:
    now = datetime.now(UTC)
    # Google writes nanoseconds; Python has microseconds.
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond:06d}000Z"


class FakeGoogleBusiness:
    """Handle on a running fake: its reviews, controls, stored replies and recorded traffic."""

    def __init__(self, access_token: str, reviews: Iterable[ReviewKey], port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self._lock = threading.Lock()
        self._state = _State(access_token=access_token, reviews=set(reviews))

    # --- controls -----------------------------------------------------------

    def add_review(self, account_id: str, location_id: str, review_id: str) -> None:
        """Make a review exist under that account and location."""
        with self._lock:
            self._state.reviews.add((account_id, location_id, review_id))

    def remove_review(self, account_id: str, location_id: str, review_id: str) -> None:
        """Delete a review (its author removed it); its reply goes with it."""
        key = (account_id, location_id, review_id)
        with self._lock:
            self._state.reviews.discard(key)
            self._state.replies.pop(key, None)

    def set_access_token(self, token: str) -> None:
        """Accept only ``token`` from now on (the previous one has expired)."""
        with self._lock:
            self._state.access_token = token

    def fail_next(
        self, count: int, status: int, message: str | None = None, *, body: str | None = None
    ) -> None:
        """Answer the next ``count`` requests (authorised or not) with ``status`` and a
        Google-shaped error, or ``body`` verbatim; calls queue up in order."""
        raw = (
            body
            if body is not None
            else json.dumps(google_error(status, message or f"HTTP {status}"))
        )
        with self._lock:
            self._state.failures.append(_Failure(count, status, raw.encode()))

    def set_delay(self, seconds: float) -> None:
        """Hold every answer for ``seconds`` (0 turns it off)."""
        with self._lock:
            self._state.delay_seconds = seconds

    # --- observations -------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Requests received so far, oldest first."""
        with self._lock:
            return list(self._state.requests)

    @property
    def replies(self) -> dict[ReviewKey, StoredReply]:
        """The stored replies by (account, location, review)."""
        with self._lock:
            return dict(self._state.replies)

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
            token = self._state.access_token
        if failure is not None:
            return Reply(failure.status, failure.body, (("Content-Type", "application/json"),))
        match = _REPLY_PATH.fullmatch(request.path)
        if match is None:
            return Reply(404, _NOT_FOUND_PAGE, (("Content-Type", "text/html; charset=UTF-8"),))
        if request.headers.get("authorization") != f"Bearer {token}":
            return Reply.json(
                401,
                google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential. See "
                    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                ),
            )
        if request.method not in ("PUT", "DELETE"):
            return Reply.json(404, google_error(404, "Method not found."))
        key: ReviewKey = (unquote(match[1]), unquote(match[2]), unquote(match[3]))
        with self._lock:
            known = key in self._state.reviews
        if not known:
            return Reply.json(404, google_error(404, "Requested entity was not found."))
        if request.method == "DELETE":
            with self._lock:
                self._state.replies.pop(key, None)
            return Reply.json(200, {})
        return self._update(request, key)

    def _update(self, request: Received, key: ReviewKey) -> Reply:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Reply.json(
                400, google_error(400, "Invalid JSON payload received. Expected an object.")
            )
        unknown = sorted(set(body) - {"comment", "updateTime"})
        if unknown:
            return Reply.json(
                400,
                google_error(
                    400,
                    f'Invalid JSON payload received. Unknown name "{unknown[0]}": '
                    "Cannot find field.",
                ),
            )
        comment = body.get("comment")
        if not isinstance(comment, str) or not comment.strip():
            return Reply.json(400, google_error(400, "Request contains an invalid argument."))
        if len(comment.encode("utf-8")) > MAX_COMMENT_BYTES:
            return Reply.json(400, google_error(400, "Request contains an invalid argument."))
        reply = StoredReply(comment, _rfc3339_now())
        with self._lock:
            self._state.replies[key] = reply
        return Reply.json(200, {"comment": reply.comment, "updateTime": reply.update_time})

    def _take_failure(self) -> _Failure | None:
        failures = self._state.failures
        while failures and failures[0].remaining <= 0:
            failures.pop(0)
        if not failures:
            return None
        failures[0].remaining -= 1
        return failures[0]


@contextmanager
def run_fake_google_business(
    access_token: str = "ya29.a0AfB_test-7Qm2Zr8Vt4Kx9Lp3Nw6",
    *,
    reviews: Iterable[ReviewKey] | None = None,
) -> Iterator[FakeGoogleBusiness]:
    """Run a fake Business Profile API on 127.0.0.1 (ephemeral port) for the block; by
    default it knows :data:`REVIEW_IDS` under :data:`ACCOUNT_ID` / :data:`LOCATION_ID`."""
    known = (
        list(reviews)
        if reviews is not None
        else [(ACCOUNT_ID, LOCATION_ID, review) for review in REVIEW_IDS]
    )
    server = StandInServer("fake-google-business")
    port = server.start()
    fake = FakeGoogleBusiness(access_token, known, port)
    server.serve(fake.handle)
    try:
        yield fake
    finally:
        server.stop()
